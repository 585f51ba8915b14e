// Package redisbatch shares Redis pipelines among concurrent callers'
// single commands (go-redis's AutoPipeliner) without holding a command for
// callers yet to come and without giving up any caller's deadline: under
// load one write and one read carry many requests' commands, and a lone
// caller pays one round trip, as without it.
package redisbatch

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Batcher batches the commands sent through it. It is safe for concurrent
// use.
type Batcher struct {
	ap *redis.AutoPipeliner
}

// New returns a Batcher on c, or nil when c cannot batch this way (a
// Cluster client: its commands are routed per slot). Standalone and
// Sentinel clients can. Close it before c.
func New(c redis.UniversalClient) (*Batcher, error) {
	sc, ok := c.(*redis.Client)
	if !ok {
		return nil, nil
	}
	// MaxBatchSize 1: flush what is queued at once, never hold a command
	// for expected arrivals (go-redis's default waits for the callers of
	// the last batch to come back, which a gateway's callers do not do:
	// they call the provider first). MaxConcurrentBatches 1: commands that
	// arrive while a batch is on the wire make the next one.
	ap, err := sc.AsyncAutoPipelineWithOptions(&redis.AutoPipelineOptions{MaxBatchSize: 1, MaxConcurrentBatches: 1})
	if err != nil {
		return nil, fmt.Errorf("redis autopipeline: %w", err)
	}
	return &Batcher{ap: ap}, nil
}

// Do sends cmd in the next batch and waits for its reply or for ctx to
// end. It returns ctx's error when ctx ended first, and nil otherwise:
// cmd then holds the reply (or the command's own error), and only then
// may it be read.
func (b *Batcher) Do(ctx context.Context, cmd redis.Cmder) error {
	if err := ctx.Err(); err != nil {
		// As a plain client: an ended context sends nothing. (The batch
		// does not run on ctx, and WaitContext reports a reply that is
		// already in over ctx's end.)
		return err
	}
	if err := b.ap.Submit(ctx, cmd).WaitContext(ctx); err != nil && err == ctx.Err() {
		return err
	}
	return nil
}

// EvalSha is the client's EvalSha, batched. When ctx ends first the
// command returned is a fresh one carrying ctx's error (the batch may
// still write the one it sent).
func (b *Batcher) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	cargs := make([]any, 0, 3+len(keys)+len(args))
	cargs = append(cargs, "evalsha", sha1, len(keys))
	for _, k := range keys {
		cargs = append(cargs, k)
	}
	cargs = append(cargs, args...)
	cmd := redis.NewCmd(ctx, cargs...)
	if err := b.Do(ctx, cmd); err != nil {
		cmd = redis.NewCmd(ctx)
		cmd.SetErr(err)
	}
	return cmd
}

// Close stops batching; commands sent after it fail.
func (b *Batcher) Close() error { return b.ap.Close() }
