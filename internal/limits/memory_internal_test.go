package limits

import (
	"strconv"
	"testing"
	"time"
)

// TestMemorySweepsRefilledBuckets: callers that come and go (pass-through
// tenants are one per client key) cost no memory once their buckets have
// refilled.
func TestMemorySweepsRefilledBuckets(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := newMemory(func() time.Time { return now })
	reserve := func(prefix string, n int) {
		for i := range n {
			o := op{id: bucketID{kind: tenantRequests, name: prefix + strconv.Itoa(i)}, limit: 60, n: 1}
			m.run([]op{o}, nil)
		}
	}
	size := func() int {
		n := 0
		for i := range m.shards {
			n += len(m.shards[i].tat)
		}
		return n
	}
	reserve("a", 20000)
	if got := size(); got != 20000 {
		t.Fatalf("buckets = %d, want 20000", got)
	}
	now = now.Add(2 * time.Second) // every bucket of 60/min refilled one request
	reserve("b", 20000)
	// Without sweeping 40000; each shard sweeps once it reaches minSweep.
	if got := size(); got > 25000 {
		t.Errorf("buckets after the first 20000 refilled = %d, want them swept (≤ 25000)", got)
	}
	// A refill by give-back deletes the bucket at once.
	o := op{id: bucketID{kind: tenantRequests, name: "c"}, limit: 60, n: 1}
	m.run([]op{o}, nil)
	o.n = -1
	before := size()
	m.run([]op{o}, nil)
	if got := size(); got != before-1 {
		t.Errorf("buckets after a full give-back = %d, want %d", got, before-1)
	}
}

// TestMemorySpendSweep: past months' spend records go.
func TestMemorySpendSweep(t *testing.T) {
	now := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
	l := &Limiter{now: func() time.Time { return now }}
	m := newMemory(l.now)
	for i := range 3000 {
		m.run(nil, l.newSpendOp("t"+strconv.Itoa(i), 1))
	}
	now = now.Add(2 * time.Hour) // February
	for i := range 3000 {
		m.run(nil, l.newSpendOp("u"+strconv.Itoa(i), 1))
	}
	if got := len(m.spend); got >= 6000 {
		t.Errorf("spend records = %d, want January's swept", got)
	}
	sp := l.newSpendOp("t1", 0)
	m.run(nil, sp)
	if sp.dayNano != 0 || sp.monthNano != 0 {
		t.Errorf("January's spend in February = %d/%d, want 0", sp.dayNano, sp.monthNano)
	}
}
