// Package stats keeps Ditto's per-model cache statistics in time buckets
// (per minute and per hour), in Redis so that every replica reports the
// whole cluster, or in memory for a single gateway. It backs GET
// /v1/cache/stats and the dashboard.
//
// Recording never waits on the backend: a Recorder adds counts to a
// bounded in-process table that a background goroutine flushes in batches
// (one pipelined round trip per flush), and drops and counts what does not
// fit. Statistics are best effort: a failed flush loses its batch.
package stats

import (
	"strings"
	"time"
)

// Counters are additive per-model counts. The zero value is empty; Add
// sums two values field by field.
type Counters struct {
	Hits      int64 // answered from the cache
	Misses    int64 // looked up, not found, answered by a provider
	Coalesced int64 // missed, answered by another request's provider call
	Bypasses  int64 // did not use the cache (no-cache, no-store, disabled)
	Errors    int64 // failed (upstream errors, stalls)

	HitLatency  Sum // client-visible duration of hits
	MissLatency Sum // client-visible duration of misses
	HitTTFT     Sum // time to first byte of streamed hits
	MissTTFT    Sum // time to first byte of streamed misses

	TokensSaved      int64 // prompt + completion tokens answered without a provider call
	CostSavedNanoUSD int64 // what those tokens would have cost, in 1e-9 USD
	UpstreamCalls    int64 // provider calls (attempts, retries included)
	UpstreamErrors   int64 // failed provider calls
	// ShadowHits counts misses on shadow-mode routes that would have been
	// hits: what turning the cache on would serve.
	ShadowHits int64
}

// Sum is a total duration and how many durations it adds up.
type Sum struct {
	Micros int64
	Count  int64
}

// Observe adds one duration.
func (s *Sum) Observe(d time.Duration) {
	s.Micros += d.Microseconds()
	s.Count++
}

// MeanMillis is the average in milliseconds, or nil when empty.
func (s Sum) MeanMillis() *float64 {
	if s.Count == 0 {
		return nil
	}
	v := float64(s.Micros) / float64(s.Count) / 1000
	return &v
}

// fieldNames are the stored field names of Counters, in fields() order.
// Changing one orphans stored data: bump keyVersion.
var fieldNames = [...]string{
	"hit", "miss", "coalesced", "bypass", "error",
	"hit_lat_us", "hit_lat_n", "miss_lat_us", "miss_lat_n",
	"hit_ttft_us", "hit_ttft_n", "miss_ttft_us", "miss_ttft_n",
	"tokens_saved", "cost_saved_nusd", "upstream_calls", "upstream_errors",
	"shadow_hit",
}

func (c *Counters) fields() [len(fieldNames)]*int64 {
	return [...]*int64{
		&c.Hits, &c.Misses, &c.Coalesced, &c.Bypasses, &c.Errors,
		&c.HitLatency.Micros, &c.HitLatency.Count, &c.MissLatency.Micros, &c.MissLatency.Count,
		&c.HitTTFT.Micros, &c.HitTTFT.Count, &c.MissTTFT.Micros, &c.MissTTFT.Count,
		&c.TokensSaved, &c.CostSavedNanoUSD, &c.UpstreamCalls, &c.UpstreamErrors,
		&c.ShadowHits,
	}
}

// Add adds o to c.
func (c *Counters) Add(o Counters) {
	dst, src := c.fields(), o.fields()
	for i := range dst {
		*dst[i] += *src[i]
	}
}

// set stores one field by name; unknown names (from a newer build) are
// ignored.
func (c *Counters) set(name string, v int64) {
	for i, n := range fieldNames {
		if n == name {
			*c.fields()[i] += v
			return
		}
	}
}

// Requests is every request counted, whatever its outcome.
func (c Counters) Requests() int64 {
	return c.Hits + c.Misses + c.Coalesced + c.Bypasses + c.Errors
}

// HitRatio is hits over requests that looked the cache up and were
// answered: hits / (hits + misses + coalesced). Errors and bypasses are not
// misses. Nil when there were no such requests.
func (c Counters) HitRatio() *float64 {
	n := c.Hits + c.Misses + c.Coalesced
	if n == 0 {
		return nil
	}
	v := float64(c.Hits) / float64(n)
	return &v
}

// CostSavedUSD converts CostSavedNanoUSD to dollars.
func (c Counters) CostSavedUSD() float64 { return float64(c.CostSavedNanoUSD) / 1e9 }

// NanoUSD converts dollars to the stored unit, rounding to the nearest.
func NanoUSD(usd float64) int64 {
	if usd < 0 {
		return -NanoUSD(-usd)
	}
	return int64(usd*1e9 + 0.5)
}

// field is the stored hash field of one model's counter: "<model>|<name>".
func field(model, name string) string { return model + "|" + name }

// splitField is the inverse of field. Model names may contain '|'; counter
// names never do.
func splitField(f string) (model, name string, ok bool) {
	i := strings.LastIndexByte(f, '|')
	if i < 0 {
		return "", "", false
	}
	return f[:i], f[i+1:], true
}
