package stats

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Backend stores bucket hashes: string fields with integer values, each
// bucket expiring after its own TTL. Implementations are safe for
// concurrent use.
type Backend interface {
	// Incr adds every write's field deltas to its bucket, creating the
	// bucket as needed, and (re)sets the bucket's TTL.
	Incr(ctx context.Context, writes []Write) error
	// Read returns the fields of each bucket, in keys order; a missing
	// bucket is an empty or nil map.
	Read(ctx context.Context, keys []string) ([]map[string]int64, error)
	// Kind names the backend for health reports: "memory" or "redis".
	Kind() string
	// Close releases what the backend holds (Redis: its client).
	Close() error
}

// Write is a batch of increments to one bucket.
type Write struct {
	Key    string
	TTL    time.Duration
	Fields map[string]int64
}

// Memory is a Backend in process memory: one gateway's statistics.
type Memory struct {
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*memBucket
	nextPrune time.Time
}

type memBucket struct {
	fields  map[string]int64
	expires time.Time
}

// NewMemory returns an empty in-memory backend. now is the clock; nil:
// time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, buckets: map[string]*memBucket{}}
}

// Kind returns "memory".
func (m *Memory) Kind() string { return "memory" }

// Close does nothing: the buckets are plain memory.
func (m *Memory) Close() error { return nil }

// Incr implements Backend.
func (m *Memory) Incr(_ context.Context, writes []Write) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.After(m.nextPrune) {
		for k, b := range m.buckets {
			if now.After(b.expires) {
				delete(m.buckets, k)
			}
		}
		m.nextPrune = now.Add(time.Minute)
	}
	for _, w := range writes {
		b := m.buckets[w.Key]
		if b == nil || now.After(b.expires) {
			b = &memBucket{fields: make(map[string]int64, len(w.Fields))}
			m.buckets[w.Key] = b
		}
		for f, v := range w.Fields {
			b.fields[f] += v
		}
		b.expires = now.Add(w.TTL)
	}
	return nil
}

// Read implements Backend. The maps returned are copies.
func (m *Memory) Read(_ context.Context, keys []string) ([]map[string]int64, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]map[string]int64, len(keys))
	for i, k := range keys {
		b := m.buckets[k]
		if b == nil || now.After(b.expires) {
			continue
		}
		c := make(map[string]int64, len(b.fields))
		for f, v := range b.fields {
			c[f] = v
		}
		out[i] = c
	}
	return out, nil
}

// Redis is a Backend on Redis: HINCRBY and EXPIRE in one pipeline per
// flush, HGETALL in one pipeline per read. It works on standalone,
// Sentinel and Cluster deployments (each bucket is one key).
type Redis struct {
	c   redis.UniversalClient
	own bool
}

// NewRedis uses c (see store.NewClient). When own is set, Close closes c;
// otherwise the caller keeps ownership.
func NewRedis(c redis.UniversalClient, own bool) *Redis { return &Redis{c: c, own: own} }

// Kind returns "redis".
func (r *Redis) Kind() string { return "redis" }

// Incr implements Backend with one pipeline.
func (r *Redis) Incr(ctx context.Context, writes []Write) error {
	if len(writes) == 0 {
		return nil
	}
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range writes {
			for f, v := range w.Fields {
				p.HIncrBy(ctx, w.Key, f, v)
			}
			p.Expire(ctx, w.Key, w.TTL)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("stats redis: %w", err)
	}
	return nil
}

// Read implements Backend with one pipeline of HGETALL.
func (r *Redis) Read(ctx context.Context, keys []string) ([]map[string]int64, error) {
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stats redis: %w", err)
	}
	out := make([]map[string]int64, len(keys))
	for i, cmd := range cmds {
		m := cmd.Val()
		if len(m) == 0 {
			continue
		}
		out[i] = make(map[string]int64, len(m))
		for f, s := range m {
			if v, err := strconv.ParseInt(s, 10, 64); err == nil {
				out[i][f] = v
			}
		}
	}
	return out, nil
}

// Close closes the client when the Redis owns it.
func (r *Redis) Close() error {
	if r.own {
		return r.c.Close()
	}
	return nil
}

// Interface guards.
var (
	_ Backend = (*Memory)(nil)
	_ Backend = (*Redis)(nil)
)
