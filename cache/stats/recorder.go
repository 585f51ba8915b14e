package stats

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultFlushInterval = time.Second
	DefaultMaxPending    = 4096
	DefaultMinuteTTL     = 25 * time.Hour
	DefaultHourTTL       = 7*24*time.Hour + 2*time.Hour
)

// keyPrefix starts every bucket key. It is outside the cache's "ditto:"
// key space on purpose, so purging the cache keeps the statistics.
const keyPrefix = "ditto-stats:v1:"

// Options configures NewRecorder. The zero value records in memory.
type Options struct {
	// Backend stores the buckets. Nil: NewMemory(Now).
	Backend Backend
	// FlushInterval is how often pending counts are written. Default
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// MaxPending bounds the (minute, model) rows waiting for a flush;
	// counts that do not fit are dropped and counted (Dropped). Default
	// DefaultMaxPending.
	MaxPending int
	// MinuteTTL and HourTTL are how long minute and hour buckets are kept.
	// Defaults DefaultMinuteTTL and DefaultHourTTL.
	MinuteTTL, HourTTL time.Duration
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// OnFlushError, if set, is called (from the flushing goroutine) with
	// every failed flush; the batch is lost.
	OnFlushError func(error)
}

// Recorder aggregates counts and flushes them to its Backend. Add never
// blocks on the backend. Safe for concurrent use; Close stops it.
type Recorder struct {
	o Options

	mu      sync.Mutex
	pending map[rowKey]*Counters

	flushMu sync.Mutex // one flush at a time, so Flush covers earlier Adds
	dropped atomic.Int64
	failed  atomic.Int64
	lastErr atomic.Pointer[string]

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type rowKey struct {
	minute int64 // unix seconds, multiple of 60
	model  string
}

// NewRecorder starts a Recorder; call Close to stop its flusher.
func NewRecorder(o Options) *Recorder {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Backend == nil {
		o.Backend = NewMemory(o.Now)
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MinuteTTL <= 0 {
		o.MinuteTTL = DefaultMinuteTTL
	}
	if o.HourTTL <= 0 {
		o.HourTTL = DefaultHourTTL
	}
	r := &Recorder{o: o, pending: map[rowKey]*Counters{}, stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

// Kind names the backend ("memory" or "redis").
func (r *Recorder) Kind() string { return r.o.Backend.Kind() }

// Add records c for model at time t. It only touches memory.
func (r *Recorder) Add(t time.Time, model string, c Counters) {
	k := rowKey{minute: t.Unix() / 60 * 60, model: model}
	r.mu.Lock()
	row := r.pending[k]
	if row == nil {
		if len(r.pending) >= r.o.MaxPending {
			r.mu.Unlock()
			r.dropped.Add(1)
			return
		}
		row = new(Counters)
		r.pending[k] = row
	}
	row.Add(c)
	r.mu.Unlock()
}

// Dropped is how many Adds were dropped because MaxPending rows were
// waiting.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// FlushErrors is how many flushes failed.
func (r *Recorder) FlushErrors() int64 { return r.failed.Load() }

// LastError is the error of the last failed flush, or "" when the last
// flush succeeded.
func (r *Recorder) LastError() string {
	if p := r.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

func (r *Recorder) loop() {
	defer close(r.done)
	t := time.NewTicker(r.o.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = r.Flush(ctx)
			cancel()
		case <-r.stop:
			return
		}
	}
}

// Flush writes every count added before the call. Counts of a failed
// flush are lost (statistics are best effort); the error is returned and
// passed to OnFlushError.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	rows := r.pending
	if len(rows) == 0 {
		r.mu.Unlock()
		return nil
	}
	r.pending = make(map[rowKey]*Counters, len(rows))
	r.mu.Unlock()

	buckets := map[string]Write{}
	add := func(key string, ttl time.Duration, model string, c *Counters) {
		w, ok := buckets[key]
		if !ok {
			w = Write{Key: key, TTL: ttl, Fields: map[string]int64{}}
			buckets[key] = w
		}
		for i, p := range c.fields() {
			if *p != 0 {
				w.Fields[field(model, fieldNames[i])] += *p
			}
		}
	}
	for k, c := range rows {
		add(minuteKey(k.minute), r.o.MinuteTTL, k.model, c)
		add(hourKey(k.minute/3600*3600), r.o.HourTTL, k.model, c)
	}
	writes := make([]Write, 0, len(buckets))
	for _, w := range buckets {
		writes = append(writes, w)
	}
	if err := r.o.Backend.Incr(ctx, writes); err != nil {
		r.failed.Add(1)
		msg := err.Error()
		r.lastErr.Store(&msg)
		if r.o.OnFlushError != nil {
			r.o.OnFlushError(err)
		}
		return err
	}
	r.lastErr.Store(nil)
	return nil
}

// Close stops the flusher and flushes what is pending, within ctx.
func (r *Recorder) Close(ctx context.Context) error {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	err := r.Flush(ctx)
	if cerr := r.o.Backend.Close(); err == nil {
		err = cerr
	}
	return err
}

func minuteKey(unix int64) string { return keyPrefix + "m:" + strconv.FormatInt(unix, 10) }
func hourKey(unix int64) string   { return keyPrefix + "h:" + strconv.FormatInt(unix, 10) }
