package stats

import (
	"context"
	"errors"
	"sort"
	"time"
)

// Window is a reporting period: Buckets buckets of Bucket each, ending with
// the current (partial) bucket.
type Window struct {
	Name    string
	Bucket  time.Duration // time.Minute or time.Hour
	Buckets int
}

// Windows are the periods Query accepts: the last hour by minute, the last
// 24 hours and 7 days by hour.
var Windows = []Window{
	{"1h", time.Minute, 60},
	{"24h", time.Hour, 24},
	{"7d", time.Hour, 7 * 24},
}

// ErrWindow reports a window name not in Windows.
var ErrWindow = errors.New("stats: unknown window")

// ParseWindow finds a window by name; "" is "1h".
func ParseWindow(name string) (Window, error) {
	if name == "" {
		return Windows[0], nil
	}
	for _, w := range Windows {
		if w.Name == name {
			return w, nil
		}
	}
	return Window{}, ErrWindow
}

// Report is the statistics of one window, as served by GET /v1/cache/stats.
type Report struct {
	Window string    `json:"window"`
	Bucket string    `json:"bucket"` // "1m" or "1h"
	From   time.Time `json:"from"`   // start of the first bucket
	To     time.Time `json:"to"`     // end of the last bucket
	Totals Summary   `json:"totals"`
	// Models are sorted by requests, most first.
	Models []ModelReport `json:"models"`
	// Series is every model together, one point per bucket.
	Series []Point `json:"series"`
}

// Summary is the counters of a period, with derived ratios and means.
// Means and ratios are null when nothing was measured.
type Summary struct {
	Requests       int64    `json:"requests"`
	Hits           int64    `json:"hits"`
	Misses         int64    `json:"misses"`
	Coalesced      int64    `json:"coalesced"`
	Bypasses       int64    `json:"bypasses"`
	Errors         int64    `json:"errors"`
	HitRatio       *float64 `json:"hit_ratio"`
	HitLatencyMS   *float64 `json:"hit_latency_ms"`
	MissLatencyMS  *float64 `json:"miss_latency_ms"`
	HitTTFTMS      *float64 `json:"hit_ttft_ms"`
	MissTTFTMS     *float64 `json:"miss_ttft_ms"`
	TokensSaved    int64    `json:"tokens_saved"`
	CostSavedUSD   float64  `json:"cost_saved_usd"`
	UpstreamCalls  int64    `json:"upstream_calls"`
	UpstreamErrors int64    `json:"upstream_errors"`
	// ShadowHits are the misses of shadow-mode routes that would have hit.
	ShadowHits int64 `json:"shadow_hits"`
}

// ModelReport is one model's summary and series.
type ModelReport struct {
	Model string `json:"model"`
	Summary
	Series []Point `json:"series"`
}

// Point is one bucket of a series; empty counts are omitted.
type Point struct {
	T             int64    `json:"t"` // bucket start, unix seconds
	Requests      int64    `json:"requests,omitempty"`
	Hits          int64    `json:"hits,omitempty"`
	Misses        int64    `json:"misses,omitempty"`
	Coalesced     int64    `json:"coalesced,omitempty"`
	HitRatio      *float64 `json:"hit_ratio,omitempty"`
	HitLatencyMS  *float64 `json:"hit_latency_ms,omitempty"`
	MissLatencyMS *float64 `json:"miss_latency_ms,omitempty"`
	TokensSaved   int64    `json:"tokens_saved,omitempty"`
	CostSavedUSD  float64  `json:"cost_saved_usd,omitempty"`
}

// Summarize derives a Summary from counters.
func Summarize(c Counters) Summary {
	return Summary{
		Requests: c.Requests(), Hits: c.Hits, Misses: c.Misses, Coalesced: c.Coalesced,
		Bypasses: c.Bypasses, Errors: c.Errors, HitRatio: c.HitRatio(),
		HitLatencyMS: c.HitLatency.MeanMillis(), MissLatencyMS: c.MissLatency.MeanMillis(),
		HitTTFTMS: c.HitTTFT.MeanMillis(), MissTTFTMS: c.MissTTFT.MeanMillis(),
		TokensSaved: c.TokensSaved, CostSavedUSD: c.CostSavedUSD(),
		UpstreamCalls: c.UpstreamCalls, UpstreamErrors: c.UpstreamErrors, ShadowHits: c.ShadowHits,
	}
}

func point(t int64, c Counters) Point {
	return Point{
		T: t, Requests: c.Requests(), Hits: c.Hits, Misses: c.Misses, Coalesced: c.Coalesced,
		HitRatio: c.HitRatio(), HitLatencyMS: c.HitLatency.MeanMillis(), MissLatencyMS: c.MissLatency.MeanMillis(),
		TokensSaved: c.TokensSaved, CostSavedUSD: c.CostSavedUSD(),
	}
}

// Query reports window w, for every model or only model when it is not
// empty. It first flushes this recorder's pending counts, so a gateway
// always sees its own traffic; other replicas' counts appear once they
// flush (every FlushInterval).
func (r *Recorder) Query(ctx context.Context, w Window, model string) (*Report, error) {
	_ = r.Flush(ctx) // best effort: a failure shows in LastError
	step := int64(w.Bucket / time.Second)
	last := r.o.Now().Unix() / step * step
	first := last - int64(w.Buckets-1)*step
	keys := make([]string, w.Buckets)
	for i := range keys {
		t := first + int64(i)*step
		if w.Bucket == time.Minute {
			keys[i] = minuteKey(t)
		} else {
			keys[i] = hourKey(t)
		}
	}
	buckets, err := r.o.Backend.Read(ctx, keys)
	if err != nil {
		return nil, err
	}
	perModel := map[string][]Counters{}
	all := make([]Counters, w.Buckets)
	for i, b := range buckets {
		for f, v := range b {
			m, name, ok := splitField(f)
			if !ok || (model != "" && m != model) {
				continue
			}
			s := perModel[m]
			if s == nil {
				s = make([]Counters, w.Buckets)
				perModel[m] = s
			}
			s[i].set(name, v)
			all[i].set(name, v)
		}
	}
	rep := &Report{
		Window: w.Name, Bucket: bucketName(w.Bucket),
		From: time.Unix(first, 0).UTC(), To: time.Unix(last+step, 0).UTC(),
		Models: []ModelReport{}, Series: make([]Point, w.Buckets),
	}
	var total Counters
	for i, c := range all {
		total.Add(c)
		rep.Series[i] = point(first+int64(i)*step, c)
	}
	rep.Totals = Summarize(total)
	for m, series := range perModel {
		mr := ModelReport{Model: m, Series: make([]Point, w.Buckets)}
		var sum Counters
		for i, c := range series {
			sum.Add(c)
			mr.Series[i] = point(first+int64(i)*step, c)
		}
		mr.Summary = Summarize(sum)
		rep.Models = append(rep.Models, mr)
	}
	sort.Slice(rep.Models, func(i, j int) bool {
		a, b := rep.Models[i], rep.Models[j]
		if a.Requests != b.Requests {
			return a.Requests > b.Requests
		}
		return a.Model < b.Model
	})
	return rep, nil
}

func bucketName(d time.Duration) string {
	if d == time.Minute {
		return "1m"
	}
	return "1h"
}
