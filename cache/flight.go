package cache

import (
	"context"
	"sync"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
)

// A flight is one upstream call whose progress any number of identical
// requests follow. The call runs on its own goroutine with its own context,
// cancelled only when every follower has left, so one client disconnecting
// does not cut the answer short for the others (tailscale's DoChanContext
// idea, extended to streams).
//
// Followers read the chunks published so far and then wait for more; a
// follower that joins late still sees the whole stream from its start.
type flight struct {
	key    string
	group  *flightGroup    // nil for solo flights
	ctx    context.Context // the call's context (group flights)
	cancel context.CancelFunc
	// remote is set, before finish, when another replica produced the
	// answer (cross-replica coalescing); every follower is then COALESCED.
	remote bool

	mu      sync.Mutex
	chunks  []*normalize.Chunk // published chunks (stream flights)
	done    bool
	resp    *normalize.Response // final answer on success; nil when remote
	entry   store.Entry         // the answer as stored (Body and Meta)
	stored  bool                // the answer was written to the store
	err     error               // terminal error
	wake    chan struct{}       // made when a follower waits; closed (and dropped) whenever state changes
	waiters int
}

// flightKey identifies a flight by the request's verification digest, not
// its store key: requests whose 64-bit hashes collide must never share an
// upstream answer.
func flightKey(k cachekey.Key) string { return string(k.Digest[:]) }

// flightGroup tracks in-flight upstream calls by flightKey.
type flightGroup struct {
	mu      sync.Mutex
	flights map[string]*flight
}

// join returns the flight for key, starting one with start when none is in
// progress. leader reports whether this call started it. The caller must
// call f.leave exactly once when it stops following.
func (g *flightGroup) join(parent context.Context, key string, start func(f *flight, ctx context.Context)) (f *flight, leader bool) {
	f, leader = g.enter(parent, key)
	if leader {
		go f.run(start)
	}
	return f, leader
}

// enter is join without starting the call: a leader must run it, with run
// (on a goroutine) or runHere. The flight's context keeps parent's values
// (the leader's trace span) without its cancellation.
func (g *flightGroup) enter(parent context.Context, key string) (f *flight, leader bool) {
	g.mu.Lock()
	if g.flights == nil {
		g.flights = make(map[string]*flight)
	}
	if f, ok := g.flights[key]; ok {
		f.mu.Lock()
		// A cancelled flight is about to fail: new requests deserve their
		// own attempt, not its error.
		abandoned := f.waiters == 0 && !f.done
		if !abandoned {
			f.waiters++
		}
		f.mu.Unlock()
		if !abandoned {
			g.mu.Unlock()
			return f, false
		}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	f = &flight{key: key, group: g, ctx: ctx, cancel: cancel, waiters: 1}
	g.flights[key] = f
	g.mu.Unlock()
	return f, true
}

// run makes the flight's call on its own context.
func (f *flight) run(start func(f *flight, ctx context.Context)) {
	defer f.cancel()
	start(f, f.ctx)
}

// runHere makes the flight's call on the leader's goroutine, saving a
// goroutine and a hand-off per miss when the leader does not need to relay
// a stream while the call runs. The call still has the flight's own
// context: when the leader's request ends first, the leader leaves the
// flight as a waiting follower would, so the call is cancelled only if no
// follower remains. following reports whether the leader is still a
// follower (then it must follow and leave as usual); false means its
// client went away and it has already left.
func (f *flight) runHere(reqCtx context.Context, start func(f *flight, ctx context.Context)) (following bool) {
	stop := context.AfterFunc(reqCtx, f.leave)
	f.run(start)
	return stop()
}

// forget removes f from the group so later requests start a new flight (or
// find the stored answer). finish calls it before announcing the outcome, so
// a request sent after a client got its answer never joins a finished
// flight: it is a HIT (answer stored), or a new attempt (failure).
func (g *flightGroup) forget(f *flight) {
	g.mu.Lock()
	if g.flights[f.key] == f {
		delete(g.flights, f.key)
	}
	g.mu.Unlock()
}

// newFlight returns a private flight with one follower, run by the caller.
func newFlight() *flight {
	return &flight{cancel: func() {}, waiters: 1}
}

// solo returns a private flight that nobody else can join (used when
// coalescing is off), to be run as a group's flight is (run or runHere),
// on parent's values without its cancellation.
func solo(parent context.Context) *flight {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	return &flight{ctx: ctx, cancel: cancel, waiters: 1}
}

// publish appends a chunk and wakes followers.
func (f *flight) publish(c *normalize.Chunk) {
	f.mu.Lock()
	f.chunks = append(f.chunks, c)
	f.signalLocked()
	f.mu.Unlock()
}

// finish records the outcome and wakes followers. Exactly one call.
func (f *flight) finish(resp *normalize.Response, e store.Entry, stored bool, err error) {
	if f.group != nil {
		f.group.forget(f)
	}
	f.mu.Lock()
	f.done, f.resp, f.entry, f.stored, f.err = true, resp, e, stored, err
	f.signalLocked()
	f.mu.Unlock()
}

// finishRemote records an answer another replica produced and stored.
func (f *flight) finishRemote(e store.Entry) {
	f.mu.Lock()
	f.remote = true
	f.mu.Unlock()
	f.finish(nil, e, false, nil)
}

func (f *flight) signalLocked() {
	if f.wake != nil {
		close(f.wake)
		f.wake = nil // the next follower to wait makes another
	}
}

// leave drops one follower; the last one out cancels an unfinished call.
func (f *flight) leave() {
	f.mu.Lock()
	f.waiters--
	last := f.waiters == 0 && !f.done
	f.mu.Unlock()
	if last {
		f.cancel()
	}
}

// flightState is a follower's view at one moment.
type flightState struct {
	chunks []*normalize.Chunk // chunks from the follower's position on
	done   bool
	resp   *normalize.Response
	entry  store.Entry
	stored bool
	remote bool
	err    error
	wake   <-chan struct{} // closed when there is more to see
}

// state returns what is new since position from.
func (f *flight) state(from int) flightState {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wake == nil && !f.done {
		// Made only when a follower may wait on it: a flight nobody
		// follows publishes its chunks without a channel per chunk.
		f.wake = make(chan struct{})
	}
	s := flightState{done: f.done, resp: f.resp, entry: f.entry, stored: f.stored, remote: f.remote, err: f.err, wake: f.wake}
	if from < len(f.chunks) {
		s.chunks = f.chunks[from:len(f.chunks):len(f.chunks)]
	}
	return s
}

// wait blocks until the flight is done or ctx ends.
func (f *flight) wait(ctx context.Context) (flightState, error) {
	for {
		s := f.state(0)
		if s.done {
			return s, nil
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return s, ctx.Err()
		}
	}
}
