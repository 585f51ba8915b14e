// Package loadgen sends bounded HTTP load, open-loop at a fixed rate or
// closed-loop at a fixed concurrency, and records latency and time to first
// byte in HDR histograms.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Request is one request body and its own extra headers. Both are read-only
// once returned by a Source.
type Request struct {
	Body   []byte
	Header http.Header // may be nil
}

// Source returns the i-th request of a run; i counts from 0 and includes the
// warm-up. It is called from many goroutines at once.
type Source func(i int64) Request

// Config describes one load phase against one URL. A run is bounded: at least
// one of Duration and MaxRequests must be set.
type Config struct {
	URL    string // full URL to POST to
	Source Source
	Header http.Header // sent with every request; Content-Type defaults to application/json

	// Rate > 0 selects open-loop mode: requests start at fixed intervals
	// whatever the answers do, and latency is measured from each request's
	// intended start, so a stalled server is not hidden by a stalled
	// generator (no coordinated omission). Otherwise Concurrency workers
	// (default 1) each send a request as soon as the previous one is answered.
	Rate        float64
	Concurrency int

	Warmup      time.Duration // load sent before measuring; not recorded
	Duration    time.Duration // the measured phase
	MaxRequests int64         // cap on measured requests; 0 means none

	// MaxInFlight bounds open-loop requests outstanding at once; a request
	// due while the limit is reached is not sent and counts as an error.
	// 0 means 4096.
	MaxInFlight int
	// Timeout bounds each request. 0 means 30 s.
	Timeout time.Duration
	// StopOnError ends a closed-loop run at the first failed request, e.g.
	// when priming a cache, where one failure makes the rest pointless.
	StopOnError bool
	// Client sends the requests. nil means NewClient(max(Concurrency, 256)).
	Client *http.Client
}

// NewClient returns a client tuned for load: keep-alive with up to conns idle
// connections per host, no compression, no proxy.
func NewClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}}
}

// Result is what one phase measured. Histograms hold microseconds and only
// successful requests.
type Result struct {
	Requests int64            // measured requests that completed, successful or not
	Errors   int64            // of Requests, the failed ones (plus open-loop requests never sent)
	ErrKinds map[string]int64 // error kind → count
	ErrFirst string           // the first error seen, for the report
	Cache    map[string]int64 // X-Ditto-Cache response header value → count ("" when absent)
	Bytes    int64            // response body bytes
	Elapsed  time.Duration    // from the start of measuring to the last measured answer
	Latency  *hdrhistogram.Histogram
	TTFB     *hdrhistogram.Histogram // to the first byte of the response body
}

// Throughput is successful requests per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

// Quantile returns the q-th percentile (0–100) of h as a duration.
func Quantile(h *hdrhistogram.Histogram, q float64) time.Duration {
	return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond
}

// CacheCount returns how many answers carried X-Ditto-Cache: status.
func (r *Result) CacheCount(status string) int64 { return r.Cache[status] }

const histMax = int64(120 * time.Second / time.Microsecond)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMax, 3) }

// recorder collects results from many goroutines.
type recorder struct {
	mu  sync.Mutex
	res Result
	end time.Time
}

type outcome struct {
	latency, ttfb time.Duration
	cache         string
	bytes         int64
	errKind       string
	err           string
	done          time.Time
}

func (rc *recorder) add(o outcome) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r := &rc.res
	r.Requests++
	r.Bytes += o.bytes
	if o.done.After(rc.end) {
		rc.end = o.done
	}
	if o.errKind != "" {
		r.Errors++
		r.ErrKinds[o.errKind]++
		if r.ErrFirst == "" {
			r.ErrFirst = o.err
		}
		return
	}
	r.Cache[o.cache]++
	r.Latency.RecordValue(max(int64(o.latency/time.Microsecond), 1))
	r.TTFB.RecordValue(max(int64(o.ttfb/time.Microsecond), 1))
}

// Run sends the load cfg describes and returns what it measured. It stops
// at the end of the phase, at MaxRequests, or when ctx is done, and waits for
// the requests it started.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Duration <= 0 && cfg.MaxRequests <= 0 {
		return nil, errors.New("loadgen: unbounded run: set Duration or MaxRequests")
	}
	if cfg.Source == nil || cfg.URL == "" {
		return nil, errors.New("loadgen: URL and Source are required")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4096
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(max(cfg.Concurrency, 256))
		defer cfg.Client.CloseIdleConnections()
	}
	if cfg.Header == nil {
		cfg.Header = http.Header{}
	}
	if cfg.Header.Get("Content-Type") == "" {
		cfg.Header = cfg.Header.Clone()
		cfg.Header.Set("Content-Type", "application/json")
	}
	rc := &recorder{res: Result{
		ErrKinds: map[string]int64{},
		Cache:    map[string]int64{},
		Latency:  newHist(),
		TTFB:     newHist(),
	}}
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := time.Time{} // zero: bounded by MaxRequests only
	if cfg.Duration > 0 {
		end = measureFrom.Add(cfg.Duration)
	}
	rc.end = measureFrom
	if cfg.Rate > 0 {
		openLoop(ctx, &cfg, rc, start, measureFrom, end)
	} else {
		closedLoop(ctx, &cfg, rc, measureFrom, end)
	}
	rc.res.Elapsed = rc.end.Sub(measureFrom)
	return &rc.res, ctx.Err()
}

func closedLoop(ctx context.Context, cfg *Config, rc *recorder, measureFrom, end time.Time) {
	var next, measured atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			buf := make([]byte, 32<<10)
			for ctx.Err() == nil && !failed.Load() {
				now := time.Now()
				if !end.IsZero() && !now.Before(end) {
					return
				}
				counted := !now.Before(measureFrom)
				if counted && cfg.MaxRequests > 0 && measured.Add(1) > cfg.MaxRequests {
					return
				}
				o := send(ctx, cfg, cfg.Source(next.Add(1)-1), now, buf)
				if counted {
					rc.add(o)
				}
				if o.errKind != "" && cfg.StopOnError {
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
}

func openLoop(ctx context.Context, cfg *Config, rc *recorder, start, measureFrom, end time.Time) {
	interval := float64(time.Second) / cfg.Rate
	inflight := make(chan struct{}, cfg.MaxInFlight)
	bufs := sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	var wg sync.WaitGroup
	timer := time.NewTimer(0)
	defer timer.Stop()
	var measured int64
loop:
	for k := int64(0); ctx.Err() == nil; k++ {
		due := start.Add(time.Duration(float64(k) * interval))
		if !end.IsZero() && !due.Before(end) {
			break
		}
		counted := !due.Before(measureFrom)
		if counted {
			if cfg.MaxRequests > 0 && measured >= cfg.MaxRequests {
				break
			}
			measured++
		}
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break loop // still wait for the requests in flight
			}
		}
		select {
		case inflight <- struct{}{}:
		default:
			if counted {
				rc.add(outcome{errKind: "in-flight limit", err: fmt.Sprintf("more than %d requests outstanding", cfg.MaxInFlight), done: time.Now()})
			}
			continue
		}
		wg.Go(func() {
			defer func() { <-inflight }()
			bp := bufs.Get().(*[]byte)
			o := send(ctx, cfg, cfg.Source(k), due, *bp)
			bufs.Put(bp)
			if counted {
				rc.add(o)
			}
		})
	}
	wg.Wait()
}

var doneMarker = []byte("data: [DONE]")

// send does one request. Latency counts from t0, which for open-loop load is
// when the request was due rather than when it went out.
func send(ctx context.Context, cfg *Config, r Request, t0 time.Time, buf []byte) (o outcome) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	defer func() { o.done = time.Now() }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(r.Body))
	if err != nil {
		return outcome{errKind: "request", err: err.Error()}
	}
	h := make(http.Header, len(cfg.Header)+len(r.Header))
	for k, v := range cfg.Header {
		h[k] = v
	}
	for k, v := range r.Header {
		h[k] = v
	}
	req.Header = h
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return outcome{errKind: "transport", err: err.Error()}
	}
	defer resp.Body.Close()
	var tail []byte // the last bytes read, to find the end of a stream
	var n int64
	for {
		m, rerr := resp.Body.Read(buf)
		if m > 0 {
			if n == 0 {
				o.ttfb = time.Since(t0)
			}
			n += int64(m)
			tail = appendTail(tail, buf[:m], 32)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return outcome{errKind: "read body", err: rerr.Error(), bytes: n}
		}
	}
	o.latency = time.Since(t0)
	o.bytes = n
	o.cache = resp.Header.Get("X-Ditto-Cache")
	switch {
	case resp.StatusCode != http.StatusOK:
		o.errKind = "status " + strconv.Itoa(resp.StatusCode)
		o.err = fmt.Sprintf("%s: %.200s", resp.Status, tail)
	case n == 0:
		o.errKind, o.err = "empty body", "200 with an empty body"
	case strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") &&
		!bytes.HasSuffix(bytes.TrimRight(tail, "\r\n"), doneMarker):
		o.errKind, o.err = "stream without [DONE]", fmt.Sprintf("stream ended with %q", tail)
	}
	return o
}

// appendTail keeps the last n bytes of everything appended.
func appendTail(tail, p []byte, n int) []byte {
	if len(p) >= n {
		return append(tail[:0], p[len(p)-n:]...)
	}
	tail = append(tail, p...)
	if len(tail) > n {
		tail = append(tail[:0], tail[len(tail)-n:]...)
	}
	return tail
}
