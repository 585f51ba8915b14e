package limits_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/internal/redistest"
)

var ctx = context.Background()

func TestRequestsAcrossReplicas(t *testing.T) {
	for _, r := range rigs(t) {
		t.Run(r.name, func(t *testing.T) {
			const limit = 12
			l := baseLimits(configs.Rate{RequestsPerMinute: limit})
			a := r.limiter(t, l, configs.Budgets{}, nil)
			replicas := []*limits.Limiter{a, a}
			if r.srv != nil {
				replicas[1] = r.limiter(t, l, configs.Budgets{}, nil) // a second replica on the same Redis
			}
			var admitted, refused atomic.Int64
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					d := replicas[i%2].Admit(ctx, limits.Request{Tenant: "acme", Model: "gpt-4o", Tokens: 10})
					switch {
					case d.Degraded:
						t.Errorf("request %d degraded", i)
					case d.Allowed:
						admitted.Add(1)
					default:
						refused.Add(1)
						if d.Status != 429 || d.Type != "requests" || d.Code != "rate_limit_exceeded" || d.RetryAfter <= 0 {
							t.Errorf("refusal = %d %s %s retry %v, want 429 requests rate_limit_exceeded with a wait", d.Status, d.Type, d.Code, d.RetryAfter)
						}
					}
				})
			}
			wg.Wait()
			if got := admitted.Load(); got < limit || got > limit+r.slack(limit) {
				t.Errorf("admitted %d of 40 across two replicas, want %d", got, limit)
			}
			// Another tenant has its own bucket.
			if d := a.Admit(ctx, limits.Request{Tenant: "beta", Model: "gpt-4o"}); !d.Allowed {
				t.Errorf("tenant beta refused: %s", d.Message)
			}
		})
	}
}

func TestTokensCorrectedAfterSettle(t *testing.T) {
	for _, r := range rigs(t) {
		t.Run(r.name, func(t *testing.T) {
			const tpm = 600
			lim := r.limiter(t, baseLimits(configs.Rate{TokensPerMinute: tpm}), configs.Budgets{}, nil)
			remaining := func() int64 {
				t.Helper()
				d := lim.Admit(ctx, limits.Request{Tenant: "acme", Tokens: 0})
				if !d.Allowed || d.Tokens.Limit != tpm {
					t.Fatalf("probe: allowed %v, tokens %+v", d.Allowed, d.Tokens)
				}
				return d.Tokens.Remaining
			}
			check := func(step string, want int64) {
				t.Helper()
				if got := remaining(); got < want-r.trunc() || got > want+r.slack(tpm) {
					t.Errorf("%s: remaining tokens = %d, want %d", step, got, want)
				}
			}
			d := lim.Admit(ctx, limits.Request{Tenant: "acme", Tokens: 100})
			if !d.Allowed || d.Tokens.Remaining > 500+r.slack(tpm) || d.Tokens.Remaining < 500-r.trunc() {
				t.Fatalf("Admit(100 tokens) = %v, tokens %+v, want allowed with 500 left", d.Allowed, d.Tokens)
			}
			d.Settle(ctx, limits.Usage{InputTokens: 150, OutputTokens: 250}) // 400 used: 300 more
			check("after settling 400 of 100 estimated", 200)
			d.Settle(ctx, limits.Usage{}) // a second Settle changes nothing
			check("after a second settle", 200)

			d = lim.Admit(ctx, limits.Request{Tenant: "acme", Tokens: 150})
			d.Settle(ctx, limits.Usage{InputTokens: 20, OutputTokens: 30}) // 100 given back
			check("after settling 50 of 150 estimated", 150)

			// More than is left: the bucket is emptied, the rest forgiven.
			d = lim.Admit(ctx, limits.Request{Tenant: "acme", Tokens: 100})
			d.Settle(ctx, limits.Usage{OutputTokens: 1000})
			if d := lim.Admit(ctx, limits.Request{Tenant: "acme", Tokens: 50}); d.Allowed && r.srv == nil {
				t.Errorf("Admit after overspending allowed, tokens %+v", d.Tokens)
			} else if !d.Allowed && d.Type != "tokens" {
				t.Errorf("refusal type = %q, want tokens", d.Type)
			}

			// A request larger than the whole limit passes on a full bucket.
			r.clock.Advance(time.Minute)
			fresh := lim.Admit(ctx, limits.Request{Tenant: "big", Tokens: 10 * tpm})
			if !fresh.Allowed {
				t.Errorf("request of 10x the limit on a full bucket refused: %s", fresh.Message)
			}
		})
	}
}

func TestCancelAndRefusalGiveBack(t *testing.T) {
	for _, r := range rigs(t) {
		t.Run(r.name, func(t *testing.T) {
			l := baseLimits(configs.Rate{RequestsPerMinute: 5, TokensPerMinute: 1000})
			l.Models = map[string]configs.Rate{"gpt-4o": {RequestsPerMinute: 1}}
			lim := r.limiter(t, l, configs.Budgets{}, nil)
			first := lim.Admit(ctx, limits.Request{Tenant: "acme", Model: "gpt-4o", Tokens: 100})
			if !first.Allowed {
				t.Fatalf("first request refused: %s", first.Message)
			}
			second := lim.Admit(ctx, limits.Request{Tenant: "acme", Model: "gpt-4o", Tokens: 100})
			if second.Allowed || !strings.Contains(second.Message, "model gpt-4o") {
				t.Fatalf("second request: allowed %v %q, want refused by the model's limit", second.Allowed, second.Message)
			}
			// The refused request gave its tenant reservation back: 5 - 1 left.
			probe := lim.Admit(ctx, limits.Request{Tenant: "acme", Model: "other"})
			if probe.Requests.Remaining < 3-r.trunc() || probe.Requests.Remaining > 3+r.slack(5) {
				t.Errorf("tenant requests remaining = %d, want 3 (the refused request gave its reservation back)", probe.Requests.Remaining)
			}
			// Cancel gives the first request's model slot and tokens back.
			first.Cancel(ctx)
			again := lim.Admit(ctx, limits.Request{Tenant: "acme", Model: "gpt-4o", Tokens: 100})
			if !again.Allowed {
				t.Errorf("after Cancel the model's slot is still taken: %s", again.Message)
			}
			if again.Tokens.Remaining < 900-r.trunc() || again.Tokens.Remaining > 900+r.slack(1000) {
				t.Errorf("tokens remaining after Cancel = %d, want 900 (the 100 of the refused request and of the cancelled one are back)", again.Tokens.Remaining)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	r := &rig{name: "memory", clock: newClock()}
	l := baseLimits(configs.Rate{RequestsPerMinute: 60, TokensPerMinute: 6000})
	lim := r.limiter(t, l, configs.Budgets{}, nil)
	d := lim.Admit(ctx, limits.Request{Tenant: "acme", Tokens: 150})
	h := http.Header{}
	d.SetHeaders(h.Set)
	want := http.Header{
		"X-Ratelimit-Limit-Requests":     {"60"},
		"X-Ratelimit-Remaining-Requests": {"59"},
		"X-Ratelimit-Reset-Requests":     {"1s"},
		"X-Ratelimit-Limit-Tokens":       {"6000"},
		"X-Ratelimit-Remaining-Tokens":   {"5850"},
		"X-Ratelimit-Reset-Tokens":       {"1.5s"},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("allowed request headers (-want +got):\n%s", diff)
	}
	for range 59 {
		lim.Admit(ctx, limits.Request{Tenant: "acme", Tokens: 1})
	}
	d = lim.Admit(ctx, limits.Request{Tenant: "acme", Tokens: 1})
	h = http.Header{}
	d.SetHeaders(h.Set)
	want = http.Header{
		"X-Ratelimit-Limit-Requests":     {"60"},
		"X-Ratelimit-Remaining-Requests": {"0"},
		"X-Ratelimit-Reset-Requests":     {"1m0s"},
		"X-Ratelimit-Limit-Tokens":       {"6000"},
		"X-Ratelimit-Remaining-Tokens":   {"5790"},
		"X-Ratelimit-Reset-Tokens":       {"2.1s"},
		"Retry-After":                    {"1"},
		"Retry-After-Ms":                 {"1000"},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("refused request headers (-want +got):\n%s", diff)
	}
	if d.Allowed || d.RetryAfter != time.Second {
		t.Errorf("61st request in a minute: allowed %v, retry after %v, want refused for 1s", d.Allowed, d.RetryAfter)
	}
	r.clock.Advance(time.Second)
	if d := lim.Admit(ctx, limits.Request{Tenant: "acme", Tokens: 1}); !d.Allowed {
		t.Errorf("after Retry-After: refused: %s", d.Message)
	}
	// No limit applies: no headers.
	open := r.limiter(t, configs.Default().Limits, configs.Budgets{}, nil)
	d = open.Admit(ctx, limits.Request{Tenant: "acme", Tokens: 1})
	h = http.Header{}
	d.SetHeaders(h.Set)
	if !d.Allowed || len(h) != 0 || open.Enabled() {
		t.Errorf("unlimited: allowed %v headers %v enabled %v, want allowed, none, false", d.Allowed, h, open.Enabled())
	}
}

func TestResetFormat(t *testing.T) {
	// OpenAI sends Go durations: "12ms", "1s", "17.28s", "6m0s".
	tests := []struct {
		tpm, tokens int64
		want        string
	}{
		{60000, 0, "0s"},
		{6000000, 1, "1ms"}, // 10µs rounds up: a reset is never "0s" while the bucket is not full
		{60000, 12, "12ms"},
		{60000, 1000, "1s"},
		{60000, 17280, "17.28s"},
		{60000, 60000, "1m0s"},
	}
	r := &rig{name: "memory", clock: newClock()}
	for _, tt := range tests {
		lim := r.limiter(t, baseLimits(configs.Rate{TokensPerMinute: tt.tpm}), configs.Budgets{}, nil)
		d := lim.Admit(ctx, limits.Request{Tenant: "t", Tokens: tt.tokens})
		h := http.Header{}
		d.SetHeaders(h.Set)
		if got := h.Get("x-ratelimit-reset-tokens"); got != tt.want {
			t.Errorf("reset after %d tokens of %d per minute = %q, want %q", tt.tokens, tt.tpm, got, tt.want)
		}
	}
}

func TestEstimate(t *testing.T) {
	l := configs.Default().Limits
	l.EstimatedOutputTokens = 256
	lim := limits.New(l, configs.Budgets{}, limits.Options{})
	tests := []struct {
		bytes, maxOut, n int
		want             int64
	}{
		{400, 0, 0, 100 + 256},
		{400, 50, 1, 150},
		{401, 50, 3, 100 + 150},
		{0, -1, 0, 256},
	}
	for _, tt := range tests {
		if got := lim.Estimate(tt.bytes, tt.maxOut, tt.n); got != tt.want {
			t.Errorf("Estimate(%d, %d, %d) = %d, want %d", tt.bytes, tt.maxOut, tt.n, got, tt.want)
		}
	}
}

// A limit of 1 per minute admits one request, then refuses: the bucket's
// arithmetic must not round the first request's full-burst reservation
// into a refusal (it did for some clock readings, "try again in 0s").
func TestLimitOfOne(t *testing.T) {
	t.Run("memory", func(t *testing.T) { limitOfOne(t, limits.Options{}) })
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		limitOfOne(t, limits.Options{Redis: client(t, srv)})
	})
}

func limitOfOne(t *testing.T, o limits.Options) {
	for i := range 200 {
		lim := limits.New(baseLimits(configs.Rate{RequestsPerMinute: 1}), configs.Budgets{}, o)
		tenant := fmt.Sprintf("t%d", i) // a new bucket each round, also in Redis
		if d := lim.Admit(ctx, limits.Request{Tenant: tenant, Model: "m"}); !d.Allowed {
			t.Fatalf("round %d: first request refused: %s", i, d.Message)
		}
		if d := lim.Admit(ctx, limits.Request{Tenant: tenant, Model: "m"}); d.Allowed {
			t.Fatalf("round %d: second request admitted", i)
		}
	}
}
