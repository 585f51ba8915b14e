package limits_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/limits"
)

// price: one token of "pricey" costs $0.001 in and $0.002 out.
func price(model string) (float64, float64, bool) {
	if model == "pricey" {
		return 1000, 2000, true
	}
	return 0, 0, false
}

func TestBudgetsAcrossReplicas(t *testing.T) {
	for _, r := range rigs(t) {
		t.Run(r.name, func(t *testing.T) {
			b := configs.Budgets{
				Default: configs.Budget{DailyUSD: 1},
				Tenants: map[string]configs.Budget{"vip": {MonthlyUSD: 2}, "free": {}},
			}
			a := r.limiter(t, configs.Default().Limits, b, price)
			replicas := []*limits.Limiter{a, a}
			if r.srv != nil {
				replicas[1] = r.limiter(t, configs.Default().Limits, b, price)
			}
			if !a.Enabled() {
				t.Fatal("Enabled() = false with budgets configured")
			}
			spend := func(lim *limits.Limiter, tenant, model string, in, out int64) limits.Decision {
				t.Helper()
				d := lim.Admit(ctx, limits.Request{Tenant: tenant, Model: model, Tokens: in + out})
				if d.Allowed {
					d.Settle(ctx, limits.Usage{InputTokens: in, OutputTokens: out})
				}
				return d
			}
			// $0.40 + $0.50 on two replicas: under the daily $1.
			for i, d := range []limits.Decision{spend(replicas[0], "acme", "pricey", 400, 0), spend(replicas[1], "acme", "pricey", 100, 200)} {
				if !d.Allowed {
					t.Fatalf("call %d refused under budget: %s", i, d.Message)
				}
			}
			spend(replicas[0], "acme", "cheap-unpriced", 1e6, 1e6) // unpriced: free
			s, err := replicas[1].Spend(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(s.Day.SpentUSD-0.9) > 1e-9 || s.Day.LimitUSD != 1 || s.Day.RemainingUSD == nil || math.Abs(*s.Day.RemainingUSD-0.1) > 1e-9 {
				t.Errorf("Spend(acme).Day = %+v, want $0.90 of $1 spent", s.Day)
			}
			if s.Month.RemainingUSD != nil || math.Abs(s.Month.SpentUSD-0.9) > 1e-9 {
				t.Errorf("Spend(acme).Month = %+v, want $0.90 spent and no limit", s.Month)
			}
			if want := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC); !s.Day.Resets.Equal(want) {
				t.Errorf("day resets %v, want %v", s.Day.Resets, want)
			}
			// $0.20 more crosses the budget; the next request on either replica is refused.
			if d := spend(replicas[1], "acme", "pricey", 200, 0); !d.Allowed {
				t.Fatalf("call at $0.90 refused: %s", d.Message)
			}
			for i, lim := range replicas {
				d := lim.Admit(ctx, limits.Request{Tenant: "acme", Model: "pricey", Tokens: 1})
				if d.Allowed || d.Status != 429 || d.Type != "insufficient_quota" || d.Code != "insufficient_quota" ||
					!strings.Contains(d.Message, "daily budget of $1.00") {
					t.Errorf("replica %d over budget: allowed %v, %d %s %s %q", i, d.Allowed, d.Status, d.Type, d.Code, d.Message)
				}
				if want := 8*time.Hour + 50*time.Minute + 34*time.Second; d.RetryAfter != want {
					t.Errorf("replica %d: retry after %v, want until midnight UTC (%v)", i, d.RetryAfter, want)
				}
			}
			// Other tenants are untouched; a tenant without a budget is never refused.
			if d := spend(a, "vip", "pricey", 1000, 0); !d.Allowed {
				t.Errorf("vip refused: %s", d.Message)
			}
			if d := spend(a, "free", "pricey", 1e6, 0); !d.Allowed {
				t.Errorf("tenant without budget refused: %s", d.Message)
			}
			if s, _ := a.Spend(ctx, "free"); s.Day.SpentUSD != 0 || s.Day.RemainingUSD != nil {
				t.Errorf("Spend(free) = %+v, want nothing tracked", s)
			}
			// The monthly budget: $2 of which vip spent $1.
			spend(a, "vip", "pricey", 0, 500)
			if d := a.Admit(ctx, limits.Request{Tenant: "vip", Model: "pricey"}); d.Allowed || !strings.Contains(d.Message, "monthly budget of $2.00") {
				t.Errorf("vip at $2: allowed %v %q, want the monthly budget spent", d.Allowed, d.Message)
			}
			// A new day: acme may spend again.
			r.clock.Advance(9 * time.Hour)
			if d := a.Admit(ctx, limits.Request{Tenant: "acme", Model: "pricey"}); !d.Allowed {
				t.Errorf("acme the next day: refused: %s", d.Message)
			}
		})
	}
}
