package cache

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
)

// Idempotency: a request sent with a key (the Idempotency-Key header) runs
// at most once per key while its record lives; a retry with the same key
// and the same request gets the first answer, even while the first is
// still running (the retry waits for it), even under no-store, and on any
// replica sharing the store. The same key with another request is a
// conflict.

// ErrConflict is an idempotency key reused with a different request.
var ErrConflict = errors.New("cache: idempotency key reused with a different request")

// Once names one idempotent request.
type Once struct {
	// Key is where its record lives (RecordKey of the tenant's namespace,
	// kind "idempotency", the client's key).
	Key cachekey.Key
	// Fingerprint identifies the request (a digest of its dialect and
	// exact bytes): a retry must match it.
	Fingerprint [32]byte
	// TTL is how long the record is kept.
	TTL time.Duration
}

// Claim is the right, and the duty, to run an idempotent request: Done
// records its answer, Abort lets a retry run it again. Exactly one of them
// must be called.
type Claim struct {
	e       *Engine
	o       Once
	release func()
	local   *pending
}

// pending is a claim held in this process, which local retries wait on.
type pending struct {
	fp   [32]byte
	done chan struct{}
}

// onceState holds the claims held in this process.
type onceState struct {
	mu      sync.Mutex
	pending map[[32]byte]*pending
}

// onceMetaLen is the fingerprint's length at the start of a record's Meta.
const onceMetaLen = 32

// Claim returns the answer recorded for o (an entry as the engine's codec
// stores answers), or a Claim when nobody has answered it yet, after
// waiting (up to FillWait, or until ctx ends) for a request holding the
// key here or on another replica. It fails with ErrConflict when the key
// belongs to another request. A store that cannot answer makes the request
// run (fail open): idempotency is then per process only.
func (e *Engine) Claim(ctx context.Context, o Once) (*Claim, *store.Entry, error) {
	deadline := e.now().Add(max(e.o.FillWait, time.Second))
	wait := fillPollFirst
	for {
		if rec, err := e.record(ctx, o); err != nil || rec != nil {
			return nil, rec, err
		}
		p, mine := e.localClaim(o)
		if mine {
			c := &Claim{e: e, o: o, release: noop, local: p}
			run := true
			if e.shared {
				rel, acquired, err := e.st.Lease(ctx, o.Key, max(o.TTL, e.o.LeaseTTL))
				switch {
				case acquired:
					c.release = rel
				case err == nil:
					run = false // another replica holds the key
				} // else the store cannot say: run it (fail open)
			}
			if run {
				// The holder may have recorded its answer and let go
				// between the read above and the claim (or the lease).
				if rec, err := e.record(ctx, o); err != nil || rec != nil {
					c.Abort()
					return nil, rec, err
				}
				return c, nil, nil
			}
			// Another replica holds the key: wait for its record.
			e.dropLocal(o, p)
		} else if p.fp != o.Fingerprint {
			return nil, nil, ErrConflict
		} else {
			select {
			case <-p.done:
				continue // answered (or aborted): read the record
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		wait = min(wait*3/2, fillPollMax)
		if e.now().After(deadline) {
			// The holder is taking too long or vanished without releasing:
			// run the request (recording its answer) rather than fail it.
			p, mine := e.localClaim(o)
			if !mine {
				p = nil
			}
			return &Claim{e: e, o: o, release: noop, local: p}, nil, nil
		}
	}
}

// record reads o's record: nil when there is none (or the store cannot
// say), ErrConflict when it belongs to another request.
func (e *Engine) record(ctx context.Context, o Once) (*store.Entry, error) {
	rec, ok, err := e.st.Get(ctx, o.Key)
	if err != nil {
		e.obs.storeError("get", err)
		return nil, nil
	}
	if !ok || rec.Digest != o.Key.Digest || len(rec.Meta) < onceMetaLen || e.codec.Check(rec.Body) != nil {
		return nil, nil
	}
	if !bytes.Equal(rec.Meta[:onceMetaLen], o.Fingerprint[:]) {
		return nil, ErrConflict
	}
	rec.Meta = rec.Meta[onceMetaLen:]
	return &rec, nil
}

// localClaim returns this process's claim of o's key, taking it when
// there is none (mine).
func (e *Engine) localClaim(o Once) (p *pending, mine bool) {
	e.once.mu.Lock()
	defer e.once.mu.Unlock()
	if e.once.pending == nil {
		e.once.pending = map[[32]byte]*pending{}
	}
	if p := e.once.pending[o.Key.Digest]; p != nil {
		return p, false
	}
	p = &pending{fp: o.Fingerprint, done: make(chan struct{})}
	e.once.pending[o.Key.Digest] = p
	return p, true
}

func (e *Engine) dropLocal(o Once, p *pending) {
	e.once.mu.Lock()
	if e.once.pending[o.Key.Digest] == p {
		delete(e.once.pending, o.Key.Digest)
	}
	e.once.mu.Unlock()
	close(p.done)
}

// Done records the answer (an entry as the engine's codec stores it) and
// wakes the retries waiting for it.
func (c *Claim) Done(ctx context.Context, answer store.Entry) {
	meta := make([]byte, 0, onceMetaLen+len(answer.Meta))
	meta = append(append(meta, c.o.Fingerprint[:]...), answer.Meta...)
	rec := store.Entry{Digest: c.o.Key.Digest, Created: c.e.now(), Body: answer.Body, Meta: meta}
	if err := c.e.st.Set(context.WithoutCancel(ctx), c.o.Key, rec, c.o.TTL); err != nil {
		c.e.obs.storeError("set", err)
	}
	c.finish()
}

// Abort gives the key up without an answer: a retry runs the request.
func (c *Claim) Abort() { c.finish() }

func (c *Claim) finish() {
	c.release()
	if c.local != nil {
		c.e.dropLocal(c.o, c.local)
	}
}

// Replay is the Answer of a recorded idempotent request: its stored entry,
// served as a hit.
func (e *Engine) Replay(entry *store.Entry) *Answer {
	return &Answer{e: e, Status: Hit, Entry: *entry, Age: max(e.now().Sub(entry.Created), 0), done: true, Replayed: true}
}
