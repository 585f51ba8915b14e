package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dittocache/ditto/normalize"
)

// metrics holds the gateway's in-process counters. Safe for concurrent use.
type metrics struct {
	mu          sync.Mutex
	models      map[string]*modelCounters
	storeErrors map[string]int64 // by operation
	mismatches  int64
}

// modelCounters are the counters of one requested model.
type modelCounters struct {
	Requests       map[string]int64 // by cache status
	Coalesced      int64
	UpstreamCalls  int64
	UpstreamErrors int64
	UpstreamTime   time.Duration
	TokensSaved    int64
	CostSaved      float64 // USD
}

func newMetrics() *metrics {
	return &metrics{models: map[string]*modelCounters{}, storeErrors: map[string]int64{}}
}

func (m *metrics) model(name string) *modelCounters {
	mc, ok := m.models[name]
	if !ok {
		mc = &modelCounters{Requests: map[string]int64{}}
		m.models[name] = mc
	}
	return mc
}

func (m *metrics) request(model, status string) {
	m.mu.Lock()
	m.model(model).Requests[status]++
	m.mu.Unlock()
}

func (m *metrics) coalesced(model string) {
	m.mu.Lock()
	m.model(model).Coalesced++
	m.mu.Unlock()
}

func (m *metrics) upstream(r Route, d time.Duration, err error) {
	m.mu.Lock()
	mc := m.model(r.Model)
	mc.UpstreamCalls++
	mc.UpstreamTime += d
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			mc.UpstreamErrors++
		}
	}
	m.mu.Unlock()
}

// served records what a response saved: answers served from the cache or a
// shared flight cost nothing upstream.
func (m *metrics) served(r Route, resp *normalize.Response, status string) {
	if resp == nil || resp.Usage == nil || (status != statusHit && status != statusCoalesced) {
		return
	}
	tokens := int64(resp.Usage.PromptTokens + resp.Usage.CompletionTokens)
	var cost float64
	if p, ok := catalogPrice(r.UpstreamModel); ok {
		cost = (float64(resp.Usage.PromptTokens)*p.Input + float64(resp.Usage.CompletionTokens)*p.Output) / 1e6
	}
	m.mu.Lock()
	mc := m.model(r.Model)
	mc.TokensSaved += tokens
	mc.CostSaved += cost
	m.mu.Unlock()
}

func (m *metrics) storeError(op string, err error) {
	m.mu.Lock()
	m.storeErrors[op]++
	m.mu.Unlock()
}

func (m *metrics) digestMismatch() {
	m.mu.Lock()
	m.mismatches++
	m.mu.Unlock()
}
