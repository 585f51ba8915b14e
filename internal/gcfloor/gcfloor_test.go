package gcfloor

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const floor = 64 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 1600},       // before the first cycle: the 4 MiB minimum × 16 = the floor
		{1 << 20, 1600}, // under the minimum: the same
		{4 << 20, 1500}, // 4 MiB × 16
		{8 << 20, 700},  // 8 MiB × 8
		{31 << 20, 106}, // just under half the floor
		{32 << 20, 100}, // half the floor: Go's default again
		{1 << 30, 100},  // a big cache is collected as without the floor
	} {
		if got := Percent(c.live, floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, floor, got, c.want)
		}
	}
}

func TestEnabled(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	if !Enabled(env(nil)) || !Enabled(env(map[string]string{"GOMEMLIMIT": "460MiB"})) {
		t.Error("Enabled without GOGC = false, want true (GOMEMLIMIT is a ceiling, the floor combines with it)")
	}
	if Enabled(env(map[string]string{"GOGC": "100"})) || Enabled(env(map[string]string{"GOGC": "off", "GOMEMLIMIT": "1GiB"})) {
		t.Error("Enabled with GOGC set = true, want false: the operator tunes the collector")
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Start raises GOGC while the heap is small, follows every cycle, and stop
// gives Go's default back.
func TestStartFollowsCycles(t *testing.T) {
	stop := Start(DefaultFloor)
	defer stop()
	if got := gogc(); got <= 100 {
		t.Fatalf("GOGC after Start with a small heap = %d, want above 100", got)
	}
	// A live heap past half the floor: the next cycles bring GOGC to 100.
	big := make([][]byte, 0, 48)
	for range 48 {
		big = append(big, make([]byte, 1<<20))
	}
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != 100 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := gogc(); got != 100 {
		t.Fatalf("GOGC with a 48 MiB live heap = %d, want 100", got)
	}
	runtime.KeepAlive(big)
	big = nil
	// The heap small again: GOGC rises again after a cycle.
	deadline = time.Now().Add(10 * time.Second)
	for gogc() <= 100 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := gogc(); got <= 100 {
		t.Fatalf("GOGC after the heap shrank = %d, want above 100", got)
	}
	stop()
	if got := gogc(); got != 100 {
		t.Errorf("GOGC after stop = %d, want 100", got)
	}
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if got := gogc(); got != 100 {
		t.Errorf("GOGC a cycle after stop = %d, want 100 (the tuner must not run on)", got)
	}
}

// A floor under the runtime's minimum changes nothing.
func TestPercentSmallFloor(t *testing.T) {
	for _, live := range []uint64{0, 1 << 20, 1 << 30} {
		if got := Percent(live, 1<<20); got != 100 {
			t.Errorf("Percent(%d, 1 MiB) = %d, want 100", live, got)
		}
	}
}
