package cache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/normalize"
)

// stepFiller streams words, one chunk each; after the first it waits for
// gate (nil: no wait) or its context's end.
type stepFiller struct {
	words     []string
	gate      chan struct{}
	calls     atomic.Int64
	cancelled atomic.Bool
	here      atomic.Bool // the fill's context came through Request.Here
}

type hereKey struct{}

func (f *stepFiller) fill(ctx context.Context, publish func(*normalize.Chunk)) (*normalize.Response, error) {
	f.calls.Add(1)
	f.here.Store(ctx.Value(hereKey{}) != nil)
	text := ""
	for i, w := range f.words {
		if i == 1 && f.gate != nil {
			select {
			case <-f.gate:
			case <-ctx.Done():
				f.cancelled.Store(true)
				return nil, ctx.Err()
			}
		}
		publish(&normalize.Chunk{Choices: []normalize.ChunkChoice{{Delta: normalize.Delta{Content: &w}}}})
		text += w
	}
	return answer(text), nil
}

// sinkRequest is a streaming request whose chunks go to a sink recording
// them, with a Here that marks the fill's context.
func sinkRequest(k string, f *stepFiller, p cache.Policy) (*cache.Request, *chunkLog) {
	log := &chunkLog{}
	r := &cache.Request{Key: key(k), Policy: p, Stream: true, Fill: cache.FillFunc(f.fill),
		Sink: log.add,
		Here: func(ctx context.Context) context.Context { return context.WithValue(ctx, hereKey{}, true) }}
	return r, log
}

type chunkLog struct {
	mu    sync.Mutex
	words []string
}

func (l *chunkLog) add(c *normalize.Chunk) {
	l.mu.Lock()
	l.words = append(l.words, *c.Choices[0].Delta.Content)
	l.mu.Unlock()
}

func (l *chunkLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := ""
	for _, w := range l.words {
		s += w
	}
	return s
}

// drain follows a to its end and returns the text of the chunks Next gave.
func drain(t *testing.T, ctx context.Context, a *cache.Answer) string {
	t.Helper()
	s := ""
	for {
		chunks, done, err := a.Next(ctx)
		if err != nil {
			t.Fatalf("Next = %v", err)
		}
		for _, c := range chunks {
			s += *c.Choices[0].Delta.Content
		}
		if done {
			return s
		}
	}
}

// A stream whose caller takes chunks as they come is filled inside Serve,
// on the caller's goroutine, under Here's context; Next repeats none of
// them; the answer is stored.
func TestSinkStreamFillsInsideServe(t *testing.T) {
	for _, coalesce := range []bool{true, false} {
		e, _ := newEngine(t, cache.Options{Coalesce: coalesce})
		f := &stepFiller{words: []string{"a", "b", "c"}}
		r, log := sinkRequest("inline", f, policy)
		a, err := e.Serve(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		got := log.text() // before anything else runs: the fill is over
		if rest := drain(t, context.Background(), a); rest != "" {
			t.Errorf("coalesce=%v: Next repeated %q", coalesce, rest)
		}
		a.Close()
		if got != "abc" || !f.here.Load() || a.Status != cache.Miss || !a.Stored || a.Err() != nil {
			t.Errorf("coalesce=%v: sink got %q by Serve's return, here=%v, %v stored=%v err=%v; want abc, here, a stored MISS",
				coalesce, got, f.here.Load(), a.Status, a.Stored, a.Err())
		}
		again, _ := sinkRequest("inline", f, policy)
		if b, _ := serve(t, e, again); b.Status != cache.Hit || f.calls.Load() != 1 {
			t.Errorf("coalesce=%v: repeat %v after %d calls, want a HIT after 1", coalesce, b.Status, f.calls.Load())
		}
	}
}

// A request joining a stream that is filled on its leader's goroutine
// follows it from its first chunk, through Next, without Sink or Here;
// when the leader's client leaves, the call goes on for the follower.
func TestSinkStreamFollowerSurvivesTheLeader(t *testing.T) {
	e, _ := newEngine(t, cache.Options{Coalesce: true})
	f := &stepFiller{words: []string{"one ", "two ", "three"}, gate: make(chan struct{})}
	r, leaderLog := sinkRequest("joined", f, policy)
	lctx, leave := context.WithCancel(context.Background())
	served := make(chan *cache.Answer)
	go func() {
		a, err := e.Serve(lctx, r)
		if err != nil {
			t.Error(err)
		}
		served <- a
	}()
	waitFor(t, func() bool { return leaderLog.text() == "one " })

	fr, followerSink := sinkRequest("joined", f, policy)
	follower, err := e.Serve(context.Background(), fr)
	if err != nil {
		t.Fatal(err)
	}
	leave() // the leader's client goes; the follower still wants the answer
	close(f.gate)
	leader := <-served
	leader.Close()
	got := drain(t, context.Background(), follower)
	follower.Close()
	if got != "one two three" || followerSink.text() != "" || follower.Status != cache.Coalesced || !follower.Stored {
		t.Errorf("follower: Next %q, sink %q, %v stored=%v; want the whole stream from Next, a stored COALESCED",
			got, followerSink.text(), follower.Status, follower.Stored)
	}
	if f.calls.Load() != 1 || f.cancelled.Load() {
		t.Errorf("calls %d, cancelled %v: want one call, not cancelled", f.calls.Load(), f.cancelled.Load())
	}
	if leaderLog.text() != "one two three" {
		t.Errorf("leader's sink %q: chunks go on to the sink of a gone client (its writes fail)", leaderLog.text())
	}
}

// A leader alone whose client leaves cancels its call: nothing stored,
// and Serve returns.
func TestSinkStreamAloneCancelsWhenItsClientLeaves(t *testing.T) {
	for _, coalesce := range []bool{true, false} {
		e, m := newEngine(t, cache.Options{Coalesce: coalesce})
		f := &stepFiller{words: []string{"x", "y"}, gate: make(chan struct{})}
		r, log := sinkRequest("alone", f, policy)
		ctx, leave := context.WithCancel(context.Background())
		r.Sink = func(c *normalize.Chunk) { log.add(c); leave() } // gone after the first chunk
		a, err := e.Serve(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _ = a.Next(context.Background())
		a.Close()
		if !f.cancelled.Load() || a.Stored || a.Err() == nil {
			t.Errorf("coalesce=%v: cancelled %v, stored %v, err %v; want the call cancelled, nothing stored", coalesce, f.cancelled.Load(), a.Stored, a.Err())
		}
		if _, ok, _ := m.Get(context.Background(), key("alone")); ok {
			t.Errorf("coalesce=%v: a cancelled stream was stored", coalesce)
		}
	}
}

// Without a Sink a stream is filled on the flight's goroutine, as before:
// Serve returns at once and Next relays every chunk; Here is not used.
func TestStreamWithoutSinkRelaysThroughNext(t *testing.T) {
	e, _ := newEngine(t, cache.Options{Coalesce: true})
	f := &stepFiller{words: []string{"p", "q"}, gate: make(chan struct{})}
	r, _ := sinkRequest("relay", f, policy)
	r.Sink = nil
	a, err := e.Serve(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	close(f.gate) // Serve returned before the gate opened: the call is elsewhere
	got := drain(t, context.Background(), a)
	a.Close()
	if got != "pq" || f.here.Load() || !a.Stored {
		t.Errorf("Next %q, here %v, stored %v; want pq from Next, no Here, stored", got, f.here.Load(), a.Stored)
	}
}
