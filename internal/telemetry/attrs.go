package telemetry

import (
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// AttrCache keeps one prepared attribute set per label combination K, so
// the hot path does not sort and hash the same labels on every request.
// The caller bounds its labels, and so the cache. The zero value is ready.
type AttrCache[K comparable] struct {
	mu sync.RWMutex
	m  map[K]*AttrOpts // a struct key: lookups do not allocate
}

// AttrOpts are one attribute set as the option slices instruments take,
// passed on with "...": a variadic argument of an instrument's (interface)
// method would otherwise be allocated on every call.
type AttrOpts struct {
	Rec []metric.RecordOption
	Add []metric.AddOption
}

// Get returns k's attribute set, built by build the first time.
func (c *AttrCache[K]) Get(k K, build func() []attribute.KeyValue) *AttrOpts {
	c.mu.RLock()
	opt, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return opt
	}
	o := metric.WithAttributeSet(attribute.NewSet(build()...))
	opt = &AttrOpts{Rec: []metric.RecordOption{o}, Add: []metric.AddOption{o}}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[K]*AttrOpts)
	}
	c.m[k] = opt
	c.mu.Unlock()
	return opt
}

// Tally is a counter per attribute set kept with atomics and reported by
// an observable counter's callback when metrics are collected: every
// request adds to a few of these, and an atomic add costs a fraction of a
// synchronous instrument call. The zero value is ready.
type Tally[K comparable] struct {
	mu    sync.RWMutex
	cells map[K]*tallyCell
}

type tallyCell struct {
	opt []metric.ObserveOption
	n   atomic.Int64
}

// Add adds n to k's cell, creating it with build's attributes.
func (t *Tally[K]) Add(k K, n int64, build func() []attribute.KeyValue) {
	t.mu.RLock()
	c := t.cells[k]
	t.mu.RUnlock()
	if c == nil {
		t.mu.Lock()
		if c = t.cells[k]; c == nil {
			c = &tallyCell{opt: []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(build()...))}}
			if t.cells == nil {
				t.cells = make(map[K]*tallyCell)
			}
			t.cells[k] = c
		}
		t.mu.Unlock()
	}
	c.n.Add(n)
}

// Each calls f with every cell's attributes and value.
func (t *Tally[K]) Each(f func(v int64, opt []metric.ObserveOption)) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, c := range t.cells {
		f(c.n.Load(), c.opt)
	}
}
