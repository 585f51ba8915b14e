package limits

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/internal/redisbatch"
)

// redisBackend keeps buckets in Redis with redis_rate (keys
// "rate:ditto:rl:…") and spend in integer nano-USD counters
// ("ditto:budget:TENANT:d:YYYYMMDD" and ":m:YYYYMM") that expire an hour
// after their period ends.
type redisBackend struct {
	rdb     redis.UniversalClient
	rl      *redis_rate.Limiter
	batched bool // rl's EvalSha goes through a redisbatch.Batcher
}

func newRedisBackend(rdb redis.UniversalClient, b *redisbatch.Batcher) *redisBackend {
	if b != nil {
		return &redisBackend{rdb: rdb, rl: redis_rate.NewLimiter(batched{rdb, b}), batched: true}
	}
	return &redisBackend{rdb: rdb, rl: redis_rate.NewLimiter(rdb)}
}

// batched is the client redis_rate sees when lone decisions are
// autopipelined (Options.Batch): EvalSha, every decision once Redis has
// the script, goes through the Batcher; the rest (the EVAL after NOSCRIPT,
// deleting a bucket) straight to the client.
type batched struct {
	redis.UniversalClient
	b *redisbatch.Batcher
}

func (c batched) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return c.b.EvalSha(ctx, sha1, keys, args...)
}

// periodGrace keeps a spend counter a little past its period, so a replica
// whose clock lags still adds to the right one.
const periodGrace = time.Hour

func redisKey(id bucketID) string {
	switch id.kind {
	case tenantRequests:
		return "ditto:rl:t:" + id.name + ":req"
	case tenantTokens:
		return "ditto:rl:t:" + id.name + ":tok"
	case modelRequests:
		return "ditto:rl:m:" + id.name + ":req"
	default:
		return "ditto:rl:m:" + id.name + ":tok"
	}
}

// run applies ops and sps in one round trip: a lone bucket with nothing
// else is one redis_rate call; buckets without spend, when batched, are
// redis_rate calls at once in the pipelines shared with other requests;
// otherwise every redis_rate call of the batch and the spend commands go
// out in one pipeline (see batch).
func (b *redisBackend) run(ctx context.Context, ops []op, sps []*spendOp) error {
	spendCmds := make([][]redis.Cmder, len(sps))
	queueSpend := func(p redis.Pipeliner) {
		for i, sp := range sps {
			day, month := spendKeys(sp)
			if sp.add == 0 {
				spendCmds[i] = []redis.Cmder{p.MGet(ctx, day, month)}
				continue
			}
			// Relative TTLs from this replica's clock: an absolute EXPIREAT
			// would delete the counter at once on a Redis whose clock is ahead.
			spendCmds[i] = []redis.Cmder{
				p.IncrBy(ctx, day, sp.add), p.Expire(ctx, day, sp.day.end.Sub(sp.at)+periodGrace),
				p.IncrBy(ctx, month, sp.add), p.Expire(ctx, month, sp.month.end.Sub(sp.at)+periodGrace)}
		}
	}
	var err error
	switch {
	case len(ops) == 0:
		p := b.rdb.Pipeline()
		queueSpend(p)
		_, err = p.Exec(ctx)
	case len(ops) == 1 && len(sps) == 0:
		err = call(ctx, b.rl, &ops[0])
	case len(sps) == 0 && b.batched:
		// The buckets' scripts ride the shared pipelines together.
		err = callAll(ctx, b.rl, ops)
	default:
		err = b.batch(ctx, ops, queueSpend)
	}
	if err != nil {
		return err
	}
	for i, sp := range sps {
		if err := readSpend(sp, spendCmds[i]); err != nil {
			return err
		}
	}
	return b.clearRefilled(ctx, ops)
}

// call runs one op through redis_rate.
func call(ctx context.Context, rl *redis_rate.Limiter, o *op) error {
	lim := redis_rate.Limit{Rate: int(o.limit), Burst: int(o.limit), Period: window}
	var (
		r   *redis_rate.Result
		err error
	)
	if o.atMost {
		r, err = rl.AllowAtMost(ctx, redisKey(o.id), lim, int(o.n))
	} else {
		r, err = rl.AllowN(ctx, redisKey(o.id), lim, int(o.n))
	}
	if err != nil {
		return fmt.Errorf("limits: redis: %w", err)
	}
	o.res = result{allowed: r.Allowed != 0 || o.n <= 0, remaining: int64(r.Remaining), retryAfter: r.RetryAfter, resetAfter: r.ResetAfter}
	return nil
}

// clearRefilled deletes buckets that a give-back refilled completely:
// redis_rate stores nothing when the new arrival time is not in the future,
// which would leave the old one in place. Rare (only when more is given
// back than the bucket holds), so it may cost a second round trip.
func (b *redisBackend) clearRefilled(ctx context.Context, ops []op) error {
	var keys []string
	for i := range ops {
		if ops[i].n < 0 && ops[i].res.resetAfter <= 0 {
			keys = append(keys, "rate:"+redisKey(ops[i].id))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	// One key per command: the keys may live on different Cluster slots.
	p := b.rdb.Pipeline()
	for _, k := range keys {
		p.Del(ctx, k)
	}
	_, err := p.Exec(ctx)
	return err
}

func readSpend(sp *spendOp, cmds []redis.Cmder) error {
	if sp.add == 0 {
		vals, err := cmds[0].(*redis.SliceCmd).Result()
		if err != nil {
			return fmt.Errorf("limits: redis: %w", err)
		}
		var errs [2]error
		sp.dayNano, errs[0] = counter(vals[0])
		sp.monthNano, errs[1] = counter(vals[1])
		return errors.Join(errs[:]...)
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return fmt.Errorf("limits: redis: %w", err)
		}
	}
	sp.dayNano, sp.monthNano = cmds[0].(*redis.IntCmd).Val(), cmds[2].(*redis.IntCmd).Val()
	return nil
}

// counter reads an MGET value: nil (absent) is 0.
func counter(v any) (int64, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("limits: spend counter holds %q", v)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("limits: spend counter of type %T", v)
	}
}

// batch runs redis_rate for every op concurrently against a pipeline that
// collects their EVALSHA commands (plus whatever queue adds) and sends them
// in one round trip once the last has arrived: redis_rate's algorithm,
// unchanged, at the cost of one round trip per decision instead of one per
// bucket.
func (b *redisBackend) batch(ctx context.Context, ops []op, queue func(redis.Pipeliner)) error {
	bt := &pipeBatch{UniversalClient: b.rdb, pipe: b.rdb.Pipeline(), want: len(ops), done: make(chan struct{})}
	queue(bt.pipe)
	return callAll(ctx, redis_rate.NewLimiter(bt), ops)
}

// callAll runs every op through rl concurrently.
func callAll(ctx context.Context, rl *redis_rate.Limiter, ops []op) error {
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	for i := 1; i < len(ops); i++ {
		wg.Go(func() { errs[i] = call(ctx, rl, &ops[i]) })
	}
	errs[0] = call(ctx, rl, &ops[0])
	wg.Wait()
	return errors.Join(errs...)
}

// pipeBatch is the Redis client redis_rate sees inside batch: EvalSha
// queues into one pipeline, and the want-th call executes it; earlier
// callers wait for that (or for ctx). Everything else, including the EVAL
// redis_rate falls back to after NOSCRIPT (once per script after a Redis
// restart), goes straight to the client.
type pipeBatch struct {
	redis.UniversalClient // everything but EvalSha
	pipe                  redis.Pipeliner
	want                  int

	mu   sync.Mutex
	n    int
	done chan struct{}
}

func (p *pipeBatch) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	p.mu.Lock()
	cmd := p.pipe.EvalSha(ctx, sha1, keys, args...)
	p.n++
	last := p.n == p.want
	p.mu.Unlock()
	if last {
		_, _ = p.pipe.Exec(ctx) // each command carries its own error
		close(p.done)
		return cmd
	}
	select {
	case <-p.done:
		return cmd
	case <-ctx.Done():
		// cmd may still be written by Exec: answer with a fresh one.
		c := redis.NewCmd(ctx)
		c.SetErr(ctx.Err())
		return c
	}
}
