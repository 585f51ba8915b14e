// Package limits enforces rate limits and spend budgets per tenant and per
// upstream model, independent of any transport.
//
// A Limiter decides before a provider call (Admit) with an estimate of the
// request's tokens and corrects the estimate after the call with the
// provider's usage (Decision.Settle), which also charges the tenant's
// budget. Limits are GCRA buckets of one minute (a limit of N per minute
// refills continuously and allows a burst of N): across replicas through
// Redis with github.com/go-redis/redis_rate, whose calls for one decision
// share one pipelined round trip, or in process with the same algorithm.
// Spend is kept in integer nano-USD per UTC day and month.
//
// When Redis cannot answer within limits.timeout, or its breaker is open,
// a decision follows limits.fail_open: admitted (the default) or refused
// with 503. A limiter never blocks longer than that timeout.
package limits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/redisbatch"
)

// PriceFunc returns a model's price in USD per million input and output
// tokens, and whether the model is priced at all (unpriced models spend
// nothing). It must be safe for concurrent use.
type PriceFunc func(model string) (input, output float64, ok bool)

// Options are a Limiter's collaborators. The zero value keeps everything in
// process with the wall clock and prices nothing.
type Options struct {
	// Redis, when non-nil, shares limits and spend between every replica
	// using it. The client should fail fast (small read/write timeouts, no
	// retries, ContextTimeoutEnabled), as cache/store.NewClient's does. The
	// Limiter does not close it.
	Redis redis.UniversalClient
	// Batch, when non-nil (a redisbatch.Batcher on Redis), sends the
	// decisions that are one bucket operation (a counted hit, most
	// settles) in pipelines shared with concurrent requests. The Limiter
	// does not close it.
	Batch *redisbatch.Batcher
	// Price prices usage for budgets; nil prices nothing.
	Price PriceFunc
	// Now is the clock of in-process buckets and of budget periods; nil
	// means time.Now. (Redis buckets use the Redis server's clock.)
	Now func() time.Time
}

// Limiter enforces configs.Limits and configs.Budgets. It is safe for
// concurrent use.
type Limiter struct {
	limits  configs.Limits
	budgets configs.Budgets
	price   PriceFunc
	now     func() time.Time
	mem     *memory       // nil with Redis
	rdb     *redisBackend // nil without Redis
	sync    *syncer       // limits.sync_interval with Redis; else nil
	cb      *gobreaker.CircuitBreaker[struct{}]
	enabled bool

	*counters // shared with the Limiters Reconfigured returns
}

// counters are a Limiter's Stats.
type counters struct {
	admitted, refused, degraded, errs, dropped atomic.Uint64
}

// New returns a Limiter for the given configuration (already validated by
// configs.Config.Validate).
func New(l configs.Limits, b configs.Budgets, o Options) *Limiter {
	lim := &Limiter{limits: l, budgets: b, price: o.Price, now: o.Now, counters: &counters{}}
	if lim.now == nil {
		lim.now = time.Now
	}
	if o.Redis != nil {
		lim.rdb = newRedisBackend(o.Redis, o.Batch)
		lim.sync = newSyncer(lim)
	} else {
		lim.mem = newMemory(lim.now)
	}
	lim.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "limits",
		MaxRequests: 1,
		Timeout:     l.BreakerCooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(max(l.BreakerFailures, 1)) },
		IsExcluded:  func(err error) bool { return errors.Is(err, context.Canceled) },
	})
	lim.enabled = enabled(l, b)
	return lim
}

// Reconfigured returns a Limiter with new limits, budgets and prices that
// keeps l's state: its buckets and spend (in memory or in Redis, so what a
// tenant used before still counts), its breaker and its Stats. l stays
// usable; both share that state. A configuration that turns limits on
// where l has no Redis backend though one is wanted needs New instead.
func (l *Limiter) Reconfigured(lc configs.Limits, b configs.Budgets, price PriceFunc) *Limiter {
	n := &Limiter{limits: lc, budgets: b, price: price, now: l.now, mem: l.mem, rdb: l.rdb, sync: l.sync, cb: l.cb, counters: l.counters}
	if n.rdb != nil && (lc.SyncInterval != l.limits.SyncInterval || lc.Timeout != l.limits.Timeout) {
		// New copies; l's syncer still sends what it has taken.
		n.sync = newSyncer(n)
	}
	n.enabled = enabled(lc, b)
	return n
}

// Close sends what a limiter with limits.sync_interval has taken and not
// yet sent to Redis, and stops its background syncs; decisions after it are
// made in Redis. It does nothing for other limiters, and is safe to call
// more than once and on Limiters sharing state (Reconfigured).
func (l *Limiter) Close() {
	if l != nil && l.sync != nil {
		l.sync.close()
	}
}

// Retire is Close for a limiter a reload replaced with next: it sends what
// l's syncer holds and stops it, unless next shares that syncer (the same
// limits.sync_interval and timeout), in which case next carries on with it.
func (l *Limiter) Retire(next *Limiter) {
	if l != nil && l.sync != nil && (next == nil || next.sync != l.sync) {
		l.sync.close()
	}
}

// enabled reports whether any limit or budget is configured.
func enabled(l configs.Limits, b configs.Budgets) bool {
	on := l.Default != (configs.Rate{}) || b.Default != (configs.Budget{})
	for _, r := range l.Tenants {
		on = on || r != (configs.Rate{})
	}
	for _, r := range l.Models {
		on = on || r != (configs.Rate{})
	}
	for _, t := range b.Tenants {
		on = on || t != (configs.Budget{})
	}
	return on
}

// Enabled reports whether any limit or budget is configured; when false,
// every decision admits and costs nothing, so callers may skip the
// Limiter altogether.
func (l *Limiter) Enabled() bool { return l.enabled }

// CountsHits reports limits.count_hits: whether cache hits are admitted
// and settled like provider calls (true) or are free (false, the default).
func (l *Limiter) CountsHits() bool { return l.limits.CountHits }

// Estimate is the cheap token estimate Admit needs before the call: the
// request body's bytes / 4 for the input, plus maxOutput (the request's
// max_tokens or max_completion_tokens; ≤ 0 means unset, and then
// limits.estimated_output_tokens) times choices (n; ≤ 0 means 1) for the
// output. Settle corrects it with the provider's usage.
func (l *Limiter) Estimate(bodyBytes, maxOutput, choices int) int64 {
	if maxOutput <= 0 {
		maxOutput = l.limits.EstimatedOutputTokens
	}
	if choices <= 0 {
		choices = 1
	}
	return int64(bodyBytes)/4 + int64(maxOutput)*int64(choices)
}

// Request is what Admit decides on.
type Request struct {
	// Tenant is the authenticated caller's tenant, never anything the
	// client chose in the body.
	Tenant string
	// Model is the upstream model (the name sent to the provider), matched
	// exactly against limits.models and used to price budgets.
	Model string
	// Tokens is the estimated input + output tokens (Estimate).
	Tokens int64
}

// Usage is what the provider reported for a call.
type Usage struct {
	InputTokens, OutputTokens int64
}

// Window is one limit's state as OpenAI's x-ratelimit-* headers describe
// it. Limit is 0 when no limit of that kind applies.
type Window struct {
	Limit     int64         // per minute
	Remaining int64         // what could be spent right now
	Reset     time.Duration // until the bucket is full again
}

// Refusal statuses of a Decision.
const (
	StatusTooManyRequests    = 429 // a rate limit or budget refused
	StatusServiceUnavailable = 503 // Redis could not decide and fail_open is off
)

// Decision is the outcome of Admit. The HTTP layer answers a refused
// decision with Status and OpenAI's error shape {"error": {"message":
// Message, "type": Type, "code": Code}}, and sets SetHeaders' headers on
// every answer, allowed or not. A Decision is used by one goroutine.
type Decision struct {
	Allowed bool
	// Status, Type, Code and Message describe a refusal; empty when
	// Allowed. Type and Code follow OpenAI: "requests" or "tokens" with
	// code "rate_limit_exceeded", and "insufficient_quota" for budgets.
	Status     int
	Type, Code string
	Message    string
	RetryAfter time.Duration // when to try again; 0 if unknown
	Requests   Window        // the tightest request limit that applied
	Tokens     Window        // the tightest token limit that applied
	Degraded   bool          // Redis could not decide: Allowed follows fail_open
	l          *Limiter
	req        Request
	ops        [4]op
	nops       int
	budget     bool
	done       bool
}

// Admit decides whether req may go to the provider, reserving one request
// and req.Tokens tokens (at most a bucket's whole limit, so a request
// larger than a limit passes when its bucket is full) in every bucket that
// applies: the tenant's (limits.tenants, else limits.default) and the
// model's (limits.models). A tenant whose budget for the day or month is
// spent is refused until the period ends. Buckets reserved for a refused
// request are given back.
//
// Admit makes at most one Redis round trip (plus one more to give buckets
// back when it refuses) bounded by limits.timeout.
func (l *Limiter) Admit(ctx context.Context, req Request) Decision {
	d := Decision{Allowed: true, l: l, req: req}
	tr := l.tenantRate(req.Tenant)
	mr := l.limits.Models[req.Model]
	d.add(bucketID{kind: tenantRequests, name: req.Tenant}, tr.RequestsPerMinute, 1)
	d.add(bucketID{kind: tenantTokens, name: req.Tenant}, tr.TokensPerMinute, req.Tokens)
	d.add(bucketID{kind: modelRequests, name: req.Model}, mr.RequestsPerMinute, 1)
	d.add(bucketID{kind: modelTokens, name: req.Model}, mr.TokensPerMinute, req.Tokens)
	bud := l.budgetFor(req.Tenant)
	d.budget = bud != (configs.Budget{})
	if d.nops == 0 && !d.budget {
		return d
	}
	var sp *spendOp
	if d.budget {
		sp = l.newSpendOp(req.Tenant, 0)
	}
	if err := l.run(ctx, d.ops[:d.nops], sp, false); err != nil {
		return l.degrade(d)
	}
	d.fill()
	if d.Allowed && d.budget {
		d.checkBudget(bud, sp)
	}
	if !d.Allowed {
		l.refused.Add(1)
		d.giveBack(ctx, true)
		return d
	}
	l.admitted.Add(1)
	return d
}

func (d *Decision) add(id bucketID, limit, n int64) {
	if limit <= 0 {
		return
	}
	d.ops[d.nops] = op{id: id, limit: limit, n: min(max(n, 0), limit)}
	d.nops++
}

// fill reads the reservation results into the decision.
func (d *Decision) fill() {
	var refusedBy *op
	for i := range d.nops {
		o := &d.ops[i]
		w := &d.Requests
		if o.id.kind.tokens() {
			w = &d.Tokens
		}
		if !o.res.allowed {
			if refusedBy == nil || o.res.retryAfter > refusedBy.res.retryAfter {
				refusedBy = o
			}
			continue
		}
		if w.Limit == 0 || tighter(o, w) {
			*w = Window{Limit: o.limit, Remaining: o.res.remaining, Reset: o.res.resetAfter}
		}
	}
	if refusedBy == nil {
		return
	}
	o := refusedBy
	w := &d.Requests
	d.Type, d.Code, d.Status = "requests", "rate_limit_exceeded", StatusTooManyRequests
	unit := "requests per minute (RPM)"
	if o.id.kind.tokens() {
		w, d.Type, unit = &d.Tokens, "tokens", "tokens per minute (TPM)"
	}
	*w = Window{Limit: o.limit, Remaining: 0, Reset: o.res.resetAfter}
	d.Allowed, d.RetryAfter = false, o.res.retryAfter
	scope := "tenant " + o.id.name
	if o.id.kind == modelRequests || o.id.kind == modelTokens {
		scope = "model " + o.id.name
	}
	d.Message = fmt.Sprintf("Rate limit reached for %s on %s: Limit %d, Requested %d. Please try again in %s.",
		scope, unit, o.limit, o.n, resetString(d.RetryAfter))
}

// tighter reports whether o leaves less room than the window w holds:
// a smaller share remaining, then a later reset.
func tighter(o *op, w *Window) bool {
	a := float64(o.res.remaining) / float64(o.limit)
	b := float64(w.Remaining) / float64(w.Limit)
	return a < b || a == b && o.res.resetAfter > w.Reset
}

// degrade is the decision when Redis could not answer.
func (l *Limiter) degrade(d Decision) Decision {
	l.degraded.Add(1)
	d.Degraded, d.nops = true, 0
	d.Requests, d.Tokens = Window{}, Window{}
	if l.limits.FailOpen {
		d.Allowed = true
		return d
	}
	d.Allowed, d.Status, d.Type, d.Code = false, StatusServiceUnavailable, "server_error", "rate_limiter_unavailable"
	d.RetryAfter = l.limits.BreakerCooldown
	d.Message = "The gateway cannot check rate limits right now. Please try again shortly."
	return d
}

// Settle corrects the tokens reserved by Admit with the provider's usage
// (a positive difference uses what the buckets have left; a negative one
// is given back) and charges the tenant's budget for it, in one Redis
// round trip. Call it once after the provider call, with zero usage when
// the call failed (the request still counts). It runs even if ctx is
// already cancelled (bounded by limits.timeout); failures are counted in
// Stats and dropped. It does nothing for a refused or degraded decision,
// or one already settled or cancelled.
func (d *Decision) Settle(ctx context.Context, u Usage) { d.settle(ctx, u, true) }

// SettleCached is Settle for a request answered from the cache (with
// limits.count_hits): its tokens count against the rate limits, but a
// cached answer costs no money, so budgets are not charged.
func (d *Decision) SettleCached(ctx context.Context, u Usage) { d.settle(ctx, u, false) }

func (d *Decision) settle(ctx context.Context, u Usage, charge bool) {
	if d.l == nil || !d.Allowed || d.Degraded || d.done {
		return
	}
	d.done = true
	l := d.l
	actual := max(u.InputTokens, 0) + max(u.OutputTokens, 0)
	var ops [2]op
	n := 0
	for i := range d.nops {
		o := d.ops[i]
		if !o.id.kind.tokens() {
			continue
		}
		switch delta := actual - o.n; {
		case delta > 0:
			ops[n] = op{id: o.id, limit: o.limit, n: delta, atMost: true}
			n++
		case delta < 0:
			ops[n] = op{id: o.id, limit: o.limit, n: delta}
			n++
		}
	}
	var sp *spendOp
	if d.budget && charge {
		if nano := l.cost(d.req.Model, u); nano > 0 {
			sp = l.newSpendOp(d.req.Tenant, nano)
		}
	}
	if n == 0 && sp == nil {
		return
	}
	if err := l.run(ctx, ops[:n], sp, true); err != nil {
		l.dropped.Add(1)
	}
}

// Cancel gives back everything Admit reserved, as if the request had
// never been admitted: for a request that reached no provider (a
// coalesced follower served by another request's call, when hits are
// free). It does nothing for a refused, degraded, settled or cancelled
// decision.
func (d *Decision) Cancel(ctx context.Context) {
	if d.l == nil || !d.Allowed || d.Degraded || d.done {
		return
	}
	d.done = true
	d.giveBack(ctx, false)
}

// giveBack returns the reservations of the buckets that granted one; with
// onlyGranted false (Cancel) every reservation was granted.
func (d *Decision) giveBack(ctx context.Context, onlyGranted bool) {
	var ops [4]op
	n := 0
	for i := range d.nops {
		o := d.ops[i]
		if onlyGranted && !o.res.allowed || o.n == 0 {
			continue
		}
		ops[n] = op{id: o.id, limit: o.limit, n: -o.n}
		n++
	}
	if n == 0 {
		return
	}
	if err := d.l.run(ctx, ops[:n], nil, true); err != nil {
		d.l.dropped.Add(1)
	}
}

// SetHeaders sets the rate-limit headers OpenAI clients read, through set
// (e.g. http.Header.Set): x-ratelimit-limit-, -remaining- and -reset-
// requests and tokens for each kind of limit that applied (resets in Go
// duration form, as OpenAI sends them: "1s", "6m0s", "17.28s"), and, on a
// refusal with a known wait, Retry-After (whole seconds, rounded up) and
// retry-after-ms. It sets nothing when no limit applied.
func (d *Decision) SetHeaders(set func(name, value string)) {
	// Every value is formatted into one buffer and cut from one string:
	// one allocation for all of them, on a path every request may take.
	var buf [192]byte
	var names [8]string
	var ends [8]int
	b, n := buf[:0], 0
	mark := func(name string) {
		names[n], ends[n] = name, len(b)
		n++
	}
	for i, w := range [2]*Window{&d.Requests, &d.Tokens} {
		if w.Limit <= 0 {
			continue
		}
		hn := &rateHeaders[i]
		b = strconv.AppendInt(b, w.Limit, 10)
		mark(hn[0])
		b = strconv.AppendInt(b, max(w.Remaining, 0), 10)
		mark(hn[1])
		b = append(b, resetString(w.Reset)...)
		mark(hn[2])
	}
	if !d.Allowed && d.RetryAfter > 0 {
		b = strconv.AppendInt(b, int64(math.Ceil(d.RetryAfter.Seconds())), 10)
		mark("Retry-After")
		b = strconv.AppendInt(b, int64(math.Ceil(float64(d.RetryAfter)/float64(time.Millisecond))), 10)
		mark("Retry-After-Ms")
	}
	if n == 0 {
		return
	}
	all, start := string(b), 0
	for i := range n {
		set(names[i], all[start:ends[i]])
		start = ends[i]
	}
}

// rateHeaders are OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens}
// in canonical form (http.CanonicalHeaderKey), so that setting them on the
// hit path neither builds nor canonicalizes a name.
var rateHeaders = [2][3]string{
	{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests"},
	{"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens"},
}

// resetString formats a wait as OpenAI's reset headers do: a Go duration
// rounded to the millisecond ("12ms", "1s", "6m0s").
func resetString(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d > 0 && d < time.Millisecond {
		d = time.Millisecond
	}
	return d.Round(time.Millisecond).String()
}

// Stats are a Limiter's counters since New.
type Stats struct {
	Admitted uint64 // decisions that admitted with every bucket answering
	Refused  uint64 // decisions refused by a limit or budget
	Degraded uint64 // decisions Redis could not make (fail_open applied)
	Errors   uint64 // failed or skipped (breaker open) Redis round trips
	Dropped  uint64 // settlements, charges and give-backs lost to errors
	Breaker  string // "closed", "open" or "half-open"
	// Backend is "redis" (limits shared by every replica, Breaker guards
	// Redis) or "memory" (this replica's, Breaker unused); Mode is
	// "exact" or, with limits.sync_interval, "sync".
	Backend, Mode string
}

// Stats returns the counters, for metrics and /readyz.
func (l *Limiter) Stats() Stats {
	st := Stats{
		Admitted: l.admitted.Load(), Refused: l.refused.Load(), Degraded: l.degraded.Load(),
		Errors: l.errs.Load(), Dropped: l.dropped.Load(), Breaker: l.cb.State().String(),
		Backend: "memory", Mode: "exact",
	}
	if l.rdb != nil {
		st.Backend = "redis"
	}
	if l.sync != nil {
		st.Mode = "sync"
	}
	return st
}

func (l *Limiter) tenantRate(tenant string) configs.Rate {
	if r, ok := l.limits.Tenants[tenant]; ok {
		return r
	}
	return l.limits.Default
}

// run applies ops and sp in memory; with limits.sync_interval, on this
// replica's copies when they are fresh; otherwise in one Redis round trip
// (whose answer refreshes the copies).
func (l *Limiter) run(ctx context.Context, ops []op, sp *spendOp, detach bool) error {
	if l.mem != nil {
		l.mem.run(ops, sp)
		return nil
	}
	if l.sync != nil && l.sync.try(ops, sp) {
		return nil
	}
	var sps []*spendOp
	if sp != nil {
		sps = []*spendOp{sp}
	}
	if err := l.redis(ctx, ops, sps, detach); err != nil {
		return err
	}
	if l.sync != nil {
		l.sync.adopt(ops, sp)
	}
	return nil
}

// redis applies ops and sps in one Redis round trip through the breaker,
// bounded by limits.timeout; detached, it runs even when ctx is cancelled
// (corrections after the client has gone).
func (l *Limiter) redis(ctx context.Context, ops []op, sps []*spendOp, detach bool) error {
	// A copy, so the caller's ops (in a Decision) stay off the heap on
	// the in-process path: these escape into the breaker's closure.
	cp := make([]op, len(ops))
	copy(cp, ops)
	if detach {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, l.limits.Timeout)
	defer cancel()
	_, err := l.cb.Execute(func() (struct{}, error) { return struct{}{}, l.rdb.run(ctx, cp, sps) })
	if err != nil {
		l.errs.Add(1)
		return err
	}
	copy(ops, cp)
	return nil
}

// bucketKind names one of a request's buckets.
type bucketKind uint8

const (
	tenantRequests bucketKind = iota
	tenantTokens
	modelRequests
	modelTokens
)

func (k bucketKind) tokens() bool { return k == tenantTokens || k == modelTokens }

// bucketID identifies a bucket; comparable, so in-process maps need no key
// strings.
type bucketID struct {
	kind bucketKind
	name string
}

// op is one bucket operation: reserve n (or, with atMost, up to n; a
// negative n gives n back), and its result.
type op struct {
	id     bucketID
	limit  int64 // per minute, also the burst
	n      int64
	atMost bool
	res    result
}

type result struct {
	allowed    bool
	taken      int64 // what an allowed op took (n, or up to n with atMost); set in process only
	remaining  int64
	retryAfter time.Duration
	resetAfter time.Duration
}
