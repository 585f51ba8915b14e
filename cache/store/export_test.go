package store

// WeightedSize is the total weight the memory store's weigher gives its
// entries, for BenchmarkMemoryOverhead to compare with the heap.
func (m *Memory) WeightedSize() uint64 { return m.c.WeightedSize() }

// TaggedKeys is how many cache keys the memory store's tag index holds.
func TaggedKeys(m *Memory) int {
	m.tags.mu.Lock()
	defer m.tags.mu.Unlock()
	return len(m.tags.keys)
}

// Live reports whether the tiered store's subscription is confirmed, so
// tests can wait for it before they rely on invalidations.
func (t *Tiered) Live() bool { return t.live.Load() }

// L1Weight is the total weight of the tiered store's in-process entries.
func (t *Tiered) L1Weight() uint64 { return t.l1.WeightedSize() }

// Heartbeats is how many of r's held leases have a heartbeat running.
func Heartbeats(r *Redis) int { return int(r.beating.Load()) }
