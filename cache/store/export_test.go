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
