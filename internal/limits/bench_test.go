package limits_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/internal/redistest"
)

// BenchmarkAdmitSettle measures what the limiter adds to one request: an
// Admit over a tenant's request and token buckets and its Settle, from 50
// goroutines (the c=50) over 64 tenants with limits never reached.
// "unlimited" is the cost when nothing is configured; "redis" is two round
// trips per request (one Admit, one Settle), on loopback.
func BenchmarkAdmitSettle(b *testing.B) {
	tenants := make([]string, 64)
	for i := range tenants {
		tenants[i] = "tenant-" + strconv.Itoa(i)
	}
	huge := baseLimits(configs.Rate{RequestsPerMinute: 1 << 40, TokensPerMinute: 1 << 50})
	run := func(b *testing.B, lim *limits.Limiter) {
		var next atomic.Uint64
		b.ReportAllocs()
		b.SetParallelism(25) // 25 × GOMAXPROCS (2 here) = 50 goroutines
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				t := tenants[next.Add(1)%uint64(len(tenants))]
				d := lim.Admit(ctx, limits.Request{Tenant: t, Model: "gpt-4o", Tokens: 300})
				if !d.Allowed {
					b.Errorf("refused: %s", d.Message)
					return
				}
				d.Settle(ctx, limits.Usage{InputTokens: 120, OutputTokens: 200})
			}
		})
	}
	b.Run("unlimited", func(b *testing.B) {
		run(b, limits.New(configs.Default().Limits, configs.Budgets{}, limits.Options{}))
	})
	b.Run("memory", func(b *testing.B) {
		run(b, limits.New(huge, configs.Budgets{}, limits.Options{}))
	})
	b.Run("redis", func(b *testing.B) {
		srv := redistest.Start(b)
		o := limits.Options{Redis: client(b, srv)}
		run(b, limits.New(huge, configs.Budgets{}, o))
	})
}
