// Package gcfloor keeps the Go collector's heap target from falling below
// a floor while the live heap is small.
//
// The collector starts a cycle when the heap reaches the live heap times
// 1 + GOGC/100 (4 MiB at least). A gateway whose live heap is small — the
// entries live in Redis, or the hot set is a few hundred answers — but that
// allocates a few KiB per request at tens of thousands of requests a second
// then collects several times a second, each cycle bringing write barriers,
// sweeping and assists: on the benchmark's hit path without the floor that
// is 6–20 % of the CPU per request (benchmarks/RESULTS.md). While the
// live heap is under half the floor, Start raises GOGC so that the target is
// about the floor; from half the floor on, GOGC is 100 again, Go's default.
// So the process never holds more than the floor beyond what it would hold
// anyway, and a large cache is collected exactly as without the floor.
//
// The percentage is recomputed after every cycle (a cleanup on a sentinel
// object that each cycle frees), so a live heap that jumps between two
// cycles is never multiplied by a stale, large GOGC for long.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// DefaultFloor is the heap target below which the collector is not started
// (64 MiB).
const DefaultFloor = 64 << 20

// heapMinimum is the runtime's smallest heap target at GOGC=100 (4 MiB),
// which it scales with GOGC: at GOGC=p a heap whose live part is under
// heapMinimum is next collected at heapMinimum × p/100.
const heapMinimum = 4 << 20

// Percent is the GOGC that makes a heap of live bytes (as of the last cycle)
// next collect at about floor bytes: 100 (Go's default) once live is half
// the floor or more; for a live heap under the runtime's minimum (and before
// the first cycle, live 0) the GOGC that scales that minimum to the floor.
func Percent(live, floor uint64) int {
	limit := max(floor*100/heapMinimum, 100)
	if live >= floor/2 {
		return 100
	}
	if live < heapMinimum {
		return int(limit)
	}
	return int(min(floor*100/live-100, limit))
}

// Enabled reports whether the floor should run: unless the operator set
// GOGC (the collector is then tuned by hand, and left alone). GOMEMLIMIT is
// a ceiling and combines with the floor: the runtime still collects as the
// heap nears the limit, whatever GOGC says.
func Enabled(getenv func(string) string) bool {
	return getenv("GOGC") == ""
}

type tuner struct {
	floor   uint64
	stopped atomic.Bool
	sample  [1]metrics.Sample
	mu      sync.Mutex // serializes apply with stop
	last    int
}

// sentinel is the object each cycle frees; its pointer field keeps it out
// of the tiny allocator, whose blocks are freed together with others'.
type sentinel struct {
	_ *int
	_ [2]uint64
}

// Start keeps the heap target at floor bytes at least until the returned
// stop is called, which restores GOGC to 100. Only one should run in a
// process: GOGC is the process's.
func Start(floor uint64) (stop func()) {
	t := &tuner{floor: floor, last: -1}
	t.sample[0].Name = "/gc/heap/live:bytes"
	t.apply()
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stopped.Swap(true) {
			return
		}
		debug.SetGCPercent(100)
	}
}

// arm allocates a sentinel whose cleanup runs after the cycle that frees it.
func (t *tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *tuner) {
		if t.stopped.Load() {
			return
		}
		t.apply()
		t.arm()
	}, t)
}

// apply sets GOGC for the live heap the last cycle measured.
func (t *tuner) apply() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample[:])
	var live uint64
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	if p := Percent(live, t.floor); p != t.last {
		debug.SetGCPercent(p)
		t.last = p
	}
}
