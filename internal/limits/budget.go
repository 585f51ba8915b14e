package limits

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/dittocache/ditto/configs"
)

// nanoPerUSD: spend is counted in integer nano-USD, exact to add across
// replicas (INCRBY) and fine enough for one token of the cheapest model.
const nanoPerUSD = 1e9

// period is one budget period of a tenant: a UTC day or month.
type period struct {
	id  int32     // yyyymmdd or yyyymm
	end time.Time // when the next period starts
}

func periodsAt(now time.Time) (day, month period) {
	now = now.UTC()
	y, m, d := now.Date()
	day = period{id: int32(y*10000 + int(m)*100 + d), end: time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)}
	month = period{id: int32(y*100 + int(m)), end: time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)}
	return day, month
}

// spendOp reads a tenant's spend for the current day and month, after
// adding add nano-USD to both.
type spendOp struct {
	tenant     string
	at         time.Time // when the op was made
	day, month period
	add        int64
	dayNano    int64 // results
	monthNano  int64
}

func (l *Limiter) newSpendOp(tenant string, add int64) *spendOp {
	now := l.now()
	day, month := periodsAt(now)
	return &spendOp{tenant: tenant, at: now, day: day, month: month, add: add}
}

func (l *Limiter) budgetFor(tenant string) configs.Budget {
	if b, ok := l.budgets.Tenants[tenant]; ok {
		return b
	}
	return l.budgets.Default
}

// cost prices u for model in nano-USD; 0 when the model is unpriced.
func (l *Limiter) cost(model string, u Usage) int64 {
	if l.price == nil {
		return 0
	}
	in, out, ok := l.price(model)
	if !ok {
		return 0
	}
	// USD per million tokens → nano-USD per token is price × 1000.
	return int64(math.Round((float64(max(u.InputTokens, 0))*in + float64(max(u.OutputTokens, 0))*out) * 1e3))
}

// checkBudget refuses d when the tenant has spent its day's or month's
// budget (the spend already recorded; a request in flight may overshoot by
// its own cost).
func (d *Decision) checkBudget(b configs.Budget, sp *spendOp) {
	over := func(limitUSD float64, spent int64) bool {
		return limitUSD > 0 && spent >= int64(math.Round(limitUSD*nanoPerUSD))
	}
	var name string
	var limit float64
	var spent int64
	var end time.Time
	switch {
	case over(b.MonthlyUSD, sp.monthNano):
		name, limit, spent, end = "monthly", b.MonthlyUSD, sp.monthNano, sp.month.end
	case over(b.DailyUSD, sp.dayNano):
		name, limit, spent, end = "daily", b.DailyUSD, sp.dayNano, sp.day.end
	default:
		return
	}
	d.Allowed, d.Status, d.Type, d.Code = false, StatusTooManyRequests, "insufficient_quota", "insufficient_quota"
	d.RetryAfter = end.Sub(d.l.now())
	d.Message = fmt.Sprintf("Tenant %s has used its %s budget of $%.2f (spent $%.4f). The budget resets at %s.",
		sp.tenant, name, limit, float64(spent)/nanoPerUSD, end.Format(time.RFC3339))
}

// Spend is a tenant's spend and budget, as /v1/cache/stats shows it.
type Spend struct {
	Tenant string      `json:"tenant"`
	Day    SpendPeriod `json:"day"`
	Month  SpendPeriod `json:"month"`
}

// SpendPeriod is the spend of one UTC day or month.
type SpendPeriod struct {
	SpentUSD float64 `json:"spent_usd"`
	// LimitUSD is the budget; 0 means unlimited, and then RemainingUSD
	// is nil.
	LimitUSD     float64   `json:"limit_usd"`
	RemainingUSD *float64  `json:"remaining_usd,omitempty"`
	Resets       time.Time `json:"resets"` // start of the next period
}

// Spend returns tenant's spend in the current UTC day and month and what
// its budget leaves. Spend is tracked only for tenants with a budget
// (budgets.tenants or budgets.default); others report zero. With Redis it
// is the spend of every replica, and an error when Redis cannot answer.
func (l *Limiter) Spend(ctx context.Context, tenant string) (Spend, error) {
	b := l.budgetFor(tenant)
	sp := l.newSpendOp(tenant, 0)
	out := Spend{Tenant: tenant}
	if b != (configs.Budget{}) {
		if err := l.run(ctx, nil, sp, false); err != nil {
			return out, fmt.Errorf("limits: read spend: %w", err)
		}
	}
	mk := func(spent int64, limit float64, end time.Time) SpendPeriod {
		p := SpendPeriod{SpentUSD: float64(spent) / nanoPerUSD, LimitUSD: limit, Resets: end}
		if limit > 0 {
			r := max(limit-p.SpentUSD, 0)
			p.RemainingUSD = &r
		}
		return p
	}
	out.Day = mk(sp.dayNano, b.DailyUSD, sp.day.end)
	out.Month = mk(sp.monthNano, b.MonthlyUSD, sp.month.end)
	return out, nil
}

// spendKeys are the Redis keys of a tenant's day and month spend.
func spendKeys(sp *spendOp) (day, month string) {
	base := "ditto:budget:" + sp.tenant + ":"
	return base + "d:" + strconv.Itoa(int(sp.day.id)), base + "m:" + strconv.Itoa(int(sp.month.id))
}
