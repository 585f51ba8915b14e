package stats

import (
	"context"
	"github.com/dittocache/ditto/cache/store"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/internal/redistest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// backends runs f on a memory backend and on a real Redis.
func backends(t *testing.T, f func(t *testing.T, newBackend func(now func() time.Time) Backend)) {
	t.Run("memory", func(t *testing.T) {
		f(t, func(now func() time.Time) Backend { return NewMemory(now) })
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		f(t, func(func() time.Time) Backend {
			b, err := dialRedis(srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		})
	})
}

func newRecorder(t *testing.T, b Backend, c *clock) *Recorder {
	t.Helper()
	r := NewRecorder(Options{Backend: b, Now: c.Now, FlushInterval: time.Hour})
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestRecorderReportsWindows(t *testing.T) {
	backends(t, func(t *testing.T, newBackend func(func() time.Time) Backend) {
		c := &clock{t: t0.Add(30 * time.Minute)}
		r := newRecorder(t, newBackend(c.Now), c)
		hit := Counters{Hits: 1, TokensSaved: 30, CostSavedNanoUSD: NanoUSD(0.000012)}
		hit.HitLatency.Observe(ms(2))
		miss := Counters{Misses: 1, UpstreamCalls: 1}
		miss.MissLatency.Observe(ms(100))
		// 7 hits and 3 misses for gpt-4o over the last hour, in several
		// minutes; one bypass and one error that are not misses.
		for i := 0; i < 7; i++ {
			r.Add(t0.Add(time.Duration(i)*time.Minute), "gpt-4o", hit)
		}
		for i := 0; i < 3; i++ {
			r.Add(t0.Add(29*time.Minute), "gpt-4o", miss)
		}
		r.Add(t0.Add(29*time.Minute), "gpt-4o", Counters{Bypasses: 1})
		r.Add(t0.Add(29*time.Minute), "gpt-4o", Counters{Errors: 1})
		r.Add(t0.Add(10*time.Minute), "claude-haiku-4-5", miss)
		// Two hours earlier: outside 1h, inside 24h.
		r.Add(t0.Add(-2*time.Hour), "gpt-4o", hit)

		ctx := context.Background()
		rep, err := r.Query(ctx, Windows[0], "")
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Models) != 2 || rep.Models[0].Model != "gpt-4o" {
			t.Fatalf("models = %+v", rep.Models)
		}
		g := rep.Models[0]
		if g.Requests != 12 || g.Hits != 7 || g.Misses != 3 || g.Bypasses != 1 || g.Errors != 1 {
			t.Errorf("gpt-4o counts = %+v", g.Summary)
		}
		if g.HitRatio == nil || *g.HitRatio != 0.7 {
			t.Errorf("gpt-4o hit ratio = %v, want 0.7", deref(g.HitRatio))
		}
		if *g.HitLatencyMS != 2 || *g.MissLatencyMS != 100 {
			t.Errorf("latencies = %v / %v, want 2 / 100", *g.HitLatencyMS, *g.MissLatencyMS)
		}
		if g.TokensSaved != 210 || g.CostSavedUSD != 7*0.000012 {
			t.Errorf("saved = %d tokens, $%v; want 210, $%v", g.TokensSaved, g.CostSavedUSD, 7*0.000012)
		}
		if rep.Totals.Requests != 13 || rep.Totals.UpstreamCalls != 4 {
			t.Errorf("totals = %+v", rep.Totals)
		}
		if len(rep.Series) != 60 || rep.Series[0].T != t0.Add(-29*time.Minute).Unix() || rep.Series[59].T != t0.Add(30*time.Minute).Unix() {
			t.Errorf("series spans %d points from %d to %d", len(rep.Series), rep.Series[0].T, rep.Series[len(rep.Series)-1].T)
		}
		if p := g.Series[29+29]; p.Misses != 3 || p.Requests != 5 {
			t.Errorf("minute 29 point = %+v", p)
		}

		day, err := r.Query(ctx, Windows[1], "gpt-4o")
		if err != nil {
			t.Fatal(err)
		}
		if len(day.Models) != 1 || day.Totals.Hits != 8 || day.Totals.Requests != 13 {
			t.Errorf("24h gpt-4o = %+v (models %d)", day.Totals, len(day.Models))
		}
		if len(day.Series) != 24 || day.Series[23].Hits != 7 || day.Series[21].Hits != 1 {
			t.Errorf("24h series: last %+v, two hours before %+v", day.Series[23], day.Series[21])
		}
	})
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestRecordersShareRedis(t *testing.T) {
	srv := redistest.Start(t)
	c := &clock{t: t0}
	var rs []*Recorder
	for i := 0; i < 2; i++ {
		b, err := dialRedis(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, newRecorder(t, b, c))
	}
	rs[0].Add(t0, "gpt-4o", Counters{Hits: 4})
	rs[1].Add(t0, "gpt-4o", Counters{Hits: 3, Misses: 3})
	for _, r := range rs {
		if err := r.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range rs {
		rep, err := r.Query(context.Background(), Windows[2], "")
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Totals; got.Hits != 7 || got.Misses != 3 || *got.HitRatio != 0.7 {
			t.Errorf("replica %d sees %+v, want 7 hits, 3 misses", i, got)
		}
	}
	// Buckets expire: minutes after about a day, hours after a week.
	rc := srv.Client()
	ctx := context.Background()
	mttl := rc.TTL(ctx, minuteKey(t0.Unix())).Val()
	httl := rc.TTL(ctx, hourKey(t0.Unix())).Val()
	if mttl <= 24*time.Hour || mttl > DefaultMinuteTTL || httl <= 7*24*time.Hour || httl > DefaultHourTTL {
		t.Errorf("TTLs: minute bucket %v, hour bucket %v", mttl, httl)
	}
	fields := rc.HGetAll(ctx, minuteKey(t0.Unix())).Val()
	want := map[string]string{"gpt-4o|hit": "7", "gpt-4o|miss": "3"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("minute bucket fields (-want +got):\n%s", diff)
	}
}

func TestRecorderBoundsPendingRows(t *testing.T) {
	c := &clock{t: t0}
	r := NewRecorder(Options{Now: c.Now, MaxPending: 2, FlushInterval: time.Hour})
	defer r.Close(context.Background())
	r.Add(t0, "a", Counters{Hits: 1})
	r.Add(t0, "b", Counters{Hits: 1})
	r.Add(t0, "a", Counters{Hits: 1}) // existing row: kept
	r.Add(t0, "c", Counters{Hits: 1}) // a third row: dropped
	if r.Dropped() != 1 {
		t.Errorf("Dropped() = %d, want 1", r.Dropped())
	}
	rep, err := r.Query(context.Background(), Windows[0], "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Totals.Hits != 3 {
		t.Errorf("hits = %d, want 3", rep.Totals.Hits)
	}
	r.Add(t0, "c", Counters{Hits: 1}) // room again after the flush
	if r.Dropped() != 1 {
		t.Errorf("Dropped() after flush = %d, want 1", r.Dropped())
	}
}

func TestFailedFlushIsReported(t *testing.T) {
	srv := redistest.Start(t)
	b, err := dialRedis(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	var seen []error
	c := &clock{t: t0}
	r := NewRecorder(Options{Backend: b, Now: c.Now, FlushInterval: time.Hour, OnFlushError: func(err error) { seen = append(seen, err) }})
	defer r.Close(context.Background())
	srv.Kill()
	r.Add(t0, "gpt-4o", Counters{Hits: 1})
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("Flush with Redis down succeeded")
	}
	if r.FlushErrors() != 1 || len(seen) != 1 || r.LastError() == "" {
		t.Errorf("FlushErrors %d, OnFlushError calls %d, LastError %q", r.FlushErrors(), len(seen), r.LastError())
	}
	if _, err := r.Query(context.Background(), Windows[0], ""); err == nil {
		t.Error("Query with Redis down succeeded")
	}
}

func TestParseWindow(t *testing.T) {
	tests := []struct {
		give string
		want string
		err  bool
	}{{"", "1h", false}, {"1h", "1h", false}, {"24h", "24h", false}, {"7d", "7d", false}, {"2h", "", true}}
	for _, tt := range tests {
		w, err := ParseWindow(tt.give)
		if (err != nil) != tt.err || w.Name != tt.want {
			t.Errorf("ParseWindow(%q) = %q, %v; want %q, error %v", tt.give, w.Name, err, tt.want, tt.err)
		}
	}
}

func dialRedis(url string) (*Redis, error) {
	c, err := store.NewClient(store.RedisOptions{URL: url})
	if err != nil {
		return nil, err
	}
	return NewRedis(c, true), nil
}
