package store

// WeightedSize is the total weight the memory store's weigher gives its
// entries, for BenchmarkMemoryOverhead to compare with the heap.
func (m *Memory) WeightedSize() uint64 { return m.c.WeightedSize() }
