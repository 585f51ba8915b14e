package router_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/router"
)

// fake answers with its errs in turn, then with text.
type fake struct {
	calls atomic.Int64
	errs  []error
	text  string
	stall bool // Stream sends one chunk, then nothing
}

func (f *fake) next() error {
	n := int(f.calls.Add(1)) - 1
	if n < len(f.errs) {
		return f.errs[n]
	}
	return nil
}

func (f *fake) Complete(_ context.Context, req *normalize.Request) (*normalize.Response, error) {
	if err := f.next(); err != nil {
		return nil, err
	}
	return &normalize.Response{Model: req.Model, Choices: []normalize.Choice{{FinishReason: "stop",
		Message: normalize.Message{Role: "assistant", Content: []normalize.Part{{Type: "text", Text: f.text}}}}}}, nil
}

func (f *fake) Stream(ctx context.Context, req *normalize.Request) (normalize.Stream, error) {
	if err := f.next(); err != nil {
		return nil, err
	}
	return &stream{ctx: ctx, f: f}, nil
}

type stream struct {
	ctx context.Context
	f   *fake
	n   int
}

func (s *stream) Recv() (*normalize.Chunk, error) {
	s.n++
	switch {
	case s.n == 1:
		t := s.f.text
		return &normalize.Chunk{Choices: []normalize.ChunkChoice{{Delta: normalize.Delta{Role: "assistant", Content: &t}}}}, nil
	case s.f.stall:
		<-s.ctx.Done()
		return nil, s.ctx.Err()
	case s.n == 2:
		return &normalize.Chunk{Choices: []normalize.ChunkChoice{{FinishReason: "stop"}}}, nil
	}
	return nil, io.EOF
}

func (s *stream) Close() error { return nil }

func newRouter(t *testing.T, cfg func(*configs.Config), provs map[string]providers.Provider) *router.Router {
	t.Helper()
	c := configs.Default()
	c.Upstream.RetryBackoff = time.Millisecond
	if cfg != nil {
		cfg(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return router.New(c, router.Options{Providers: provs})
}

func TestResolve(t *testing.T) {
	rt := newRouter(t, func(c *configs.Config) {
		c.Routes = []configs.Route{{Model: "fast", Provider: "anthropic", UpstreamModel: "claude-haiku-4-5", Aliases: []string{"cheap"}},
			{Model: "llama-*", Provider: "openai"}}
	}, nil)
	tests := []struct{ give, provider, upstream string }{
		{"fast", "anthropic", "claude-haiku-4-5"},
		{"cheap", "anthropic", "claude-haiku-4-5"},
		{"gemini/gemini-2.5-pro", "gemini", "gemini-2.5-pro"},
		{"llama-3-8b", "openai", "llama-3-8b"},
		{"claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"},
		{"gemini-2.5-flash", "gemini", "gemini-2.5-flash"},
		{"gpt-4o", "openai", "gpt-4o"},
	}
	for _, tt := range tests {
		r, err := rt.Resolve(tt.give)
		if err != nil || r.Provider != tt.provider || r.UpstreamModel != tt.upstream {
			t.Errorf("Resolve(%q) = %s/%s, %v; want %s/%s", tt.give, r.Provider, r.UpstreamModel, err, tt.provider, tt.upstream)
		}
	}
	r, _ := rt.Resolve("gpt-4o")
	var re *router.RouteError
	if err := rt.Serves(r); !errors.As(err, &re) || re.Provider != "openai" {
		t.Errorf("Serves without an adapter = %v, want a RouteError naming openai", err)
	}
}

func TestRetriesThenFallback(t *testing.T) {
	overloaded := &providers.Error{Provider: "openai", Status: http.StatusServiceUnavailable, Message: "overloaded"}
	primary := &fake{errs: []error{overloaded, overloaded, overloaded}, text: "primary"}
	backup := &fake{text: "backup"}
	rt := newRouter(t, func(c *configs.Config) {
		c.Routes = []configs.Route{{Model: "main", Provider: "openai", UpstreamModel: "gpt-4o", Fallbacks: []string{"claude-haiku-4-5"}}}
	}, map[string]providers.Provider{"openai": primary, "anthropic": backup})
	r, _ := rt.Resolve("main")
	req := &normalize.Request{Model: "main"}
	resp, err := rt.Call(context.Background(), r, req, false, nil)
	if err != nil || resp.Choices[0].Message.Text() != "backup" {
		t.Fatalf("Call = %v, %v; want the fallback's answer", resp, err)
	}
	if primary.calls.Load() != 3 || backup.calls.Load() != 1 {
		t.Errorf("calls: primary %d, backup %d; want 3 (retries: 2) and 1", primary.calls.Load(), backup.calls.Load())
	}
	if req.Model != "main" {
		t.Errorf("the shared request was modified: model %q", req.Model)
	}
}

func TestInvalidRequestsAreNeitherRetriedNorFallenBack(t *testing.T) {
	for _, err := range []error{
		&providers.Error{Provider: "openai", Status: http.StatusBadRequest, Message: "bad"},
		&normalize.Error{Param: "n", Message: "the adapter cannot honour n"},
	} {
		primary := &fake{errs: []error{err}}
		backup := &fake{text: "backup"}
		rt := newRouter(t, func(c *configs.Config) {
			c.Routes = []configs.Route{{Model: "main", Provider: "openai", Fallbacks: []string{"claude-haiku-4-5"}}}
		}, map[string]providers.Provider{"openai": primary, "anthropic": backup})
		r, _ := rt.Resolve("main")
		if _, got := rt.Call(context.Background(), r, &normalize.Request{}, false, nil); !errors.Is(got, err) {
			t.Errorf("Call = %v, want %v", got, err)
		}
		if primary.calls.Load() != 1 || backup.calls.Load() != 0 {
			t.Errorf("%v: calls primary %d backup %d, want 1 and 0", err, primary.calls.Load(), backup.calls.Load())
		}
	}
}

func TestTransportFailuresAreUpstreamErrors(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	p := &fake{errs: []error{dial, dial, dial}}
	rt := newRouter(t, nil, map[string]providers.Provider{"openai": p})
	r, _ := rt.Resolve("gpt-4o")
	_, err := rt.Call(context.Background(), r, &normalize.Request{}, false, nil)
	if !errors.Is(err, router.ErrUpstream) || !errors.As(err, new(*net.OpError)) {
		t.Errorf("Call = %v, want ErrUpstream wrapping the dial error", err)
	}
	if p.calls.Load() != 3 {
		t.Errorf("calls = %d, want 3 (transport errors are retried)", p.calls.Load())
	}
}

// A stream that goes silent is cut after the idle timeout, and not retried
// once it has published a chunk.
func TestStalledStreamIsCut(t *testing.T) {
	p := &fake{text: "partial", stall: true}
	rt := newRouter(t, func(c *configs.Config) { c.Upstream.StreamIdleTimeout = 50 * time.Millisecond },
		map[string]providers.Provider{"openai": p})
	r, _ := rt.Resolve("gpt-4o")
	var published int
	_, err := rt.Call(context.Background(), r, &normalize.Request{}, true, func(*normalize.Chunk) { published++ })
	if !errors.Is(err, router.ErrStalled) || published != 1 || p.calls.Load() != 1 {
		t.Errorf("Call = %v after %d chunks and %d calls, want ErrStalled, 1, 1", err, published, p.calls.Load())
	}
}

func TestObserverSeesEveryAttempt(t *testing.T) {
	busy := &providers.Error{Provider: "openai", Status: http.StatusTooManyRequests, Message: "slow down"}
	p := &fake{errs: []error{busy}, text: "ok"}
	var attempts, failures atomic.Int64
	c := configs.Default()
	c.Upstream.RetryBackoff = time.Millisecond
	rt := router.New(c, router.Options{Providers: map[string]providers.Provider{"openai": p}, Observer: router.Observer{
		Attempt: func(ctx context.Context, _, _ router.Route, _ *normalize.Request) (context.Context, func(*normalize.Response, error)) {
			attempts.Add(1)
			return ctx, func(_ *normalize.Response, err error) {
				if err != nil {
					failures.Add(1)
				}
			}
		}}})
	r, _ := rt.Resolve("gpt-4o")
	if _, err := rt.Call(context.Background(), r, &normalize.Request{}, false, nil); err != nil {
		t.Fatal(err)
	}
	if attempts.Load() != 2 || failures.Load() != 1 {
		t.Errorf("observed %d attempts, %d failures; want 2 and 1", attempts.Load(), failures.Load())
	}
}
