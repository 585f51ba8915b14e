package store

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisOptionsDefaults checks the fail-open settings and their
// precedence: explicit field, then URL parameter, then default.
func TestRedisOptionsDefaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	tests := []struct {
		name      string
		give      RedisOptions
		wantDial  time.Duration
		wantRead  time.Duration
		wantRetry int
		wantIdle  int
		wantProto int
	}{
		{"defaults", RedisOptions{URL: "redis://127.0.0.1:1/2"}, DefaultDialTimeout, DefaultReadTimeout, 0, DefaultMinIdleConns, 2}, // go-redis stores "no retries" (-1) as 0,
		{"url params", RedisOptions{URL: "redis://127.0.0.1:1?dial_timeout=1s&read_timeout=50ms&max_retries=2&min_idle_conns=4&protocol=3"}, time.Second, 50 * time.Millisecond, 2, 4, 3},
		{"fields win", RedisOptions{URL: "redis://127.0.0.1:1?dial_timeout=1s", DialTimeout: 30 * time.Millisecond, ReadTimeout: 70 * time.Millisecond, MaxRetries: 1, MinIdleConns: 1}, 30 * time.Millisecond, 70 * time.Millisecond, 1, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRedis(ctx, tt.give)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			c, ok := r.c.(*redis.Client)
			if !ok {
				t.Fatalf("client is %T, want *redis.Client", r.c)
			}
			o := c.Options()
			if o.DialTimeout != tt.wantDial || o.ReadTimeout != tt.wantRead || o.MaxRetries != tt.wantRetry || o.MinIdleConns != tt.wantIdle {
				t.Errorf("dial, read, retries, idle = %v, %v, %d, %d; want %v, %v, %d, %d",
					o.DialTimeout, o.ReadTimeout, o.MaxRetries, o.MinIdleConns, tt.wantDial, tt.wantRead, tt.wantRetry, tt.wantIdle)
			}
			if o.Protocol != tt.wantProto {
				t.Errorf("protocol %d, want RESP%d", o.Protocol, tt.wantProto)
			}
			if !o.ContextTimeoutEnabled || !o.DisableIdentity || o.DialerRetries != 1 || o.WriteTimeout <= 0 || o.PoolTimeout != DefaultPoolTimeout {
				t.Errorf("ContextTimeoutEnabled %v, DisableIdentity %v, DialerRetries %d, WriteTimeout %v, PoolTimeout %v; want true, true, 1, > 0, %v",
					o.ContextTimeoutEnabled, o.DisableIdentity, o.DialerRetries, o.WriteTimeout, o.PoolTimeout, DefaultPoolTimeout)
			}
		})
	}
}

func TestRedisModes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	tests := []struct {
		give        RedisOptions
		wantCluster bool
	}{
		{RedisOptions{URL: "rediss://127.0.0.1:1"}, false},
		{RedisOptions{URL: "redis://127.0.0.1:1?addr=127.0.0.1:2"}, true},
		{RedisOptions{URL: "redis://127.0.0.1:1", Cluster: true}, true},
		{RedisOptions{URL: "redis://127.0.0.1:1?master_name=mymaster"}, false},
	}
	for _, tt := range tests {
		r, err := NewRedis(ctx, tt.give)
		if err != nil {
			t.Errorf("NewRedis(%+v) = %v", tt.give, err)
			continue
		}
		if _, got := r.c.(*redis.ClusterClient); got != tt.wantCluster {
			t.Errorf("NewRedis(%+v) client %T, want cluster %v", tt.give, r.c, tt.wantCluster)
		}
		r.Close()
	}
}

func TestGlobEscape(t *testing.T) {
	tests := []struct{ give, want string }{
		{"ditto:v1:acme:", "ditto:v1:acme:"},
		{`a*b?c[d]e\f`, `a\*b\?c\[d\]e\\f`},
	}
	for _, tt := range tests {
		if got := globEscape(tt.give); got != tt.want {
			t.Errorf("globEscape(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
