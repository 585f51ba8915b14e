// Package gosdk drives a real Ditto gateway with the official OpenAI Go SDK
// (github.com/openai/openai-go/v3) against fake upstreams that speak
// OpenAI's recorded wire format. It lives in its own package because the SDK
// takes minutes to compile the first time.
package gosdk

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/gateway"
	"github.com/dittocache/ditto/internal/fakeopenai"
	"github.com/dittocache/ditto/providers/registry"
)

// env is one gateway in front of one fake upstream.
type env struct {
	up     *fakeopenai.Server
	gw     *httptest.Server
	srv    *gateway.Server
	client openai.Client
}

type setup struct {
	cfg      func(*configs.Config)
	redisURL string
}

func newEnv(t *testing.T, opts ...func(*setup)) *env {
	t.Helper()
	st := &setup{}
	for _, o := range opts {
		o(st)
	}
	up := fakeopenai.New(t)
	e := &env{up: up}
	e.start(t, st)
	return e
}

func (e *env) start(t *testing.T, st *setup) {
	t.Helper()
	getenv := func(k string) string {
		switch k {
		case "OPENAI_BASE_URL":
			return e.up.BaseURL()
		case "OPENAI_API_KEY":
			return "sk-upstream-canary-1234"
		case "REDIS_URL":
			return st.redisURL
		}
		return ""
	}
	cfg, err := configs.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if st.cfg != nil {
		st.cfg(cfg)
	}
	provs, err := registry.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	deps := gateway.Deps{Providers: provs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv, err := gateway.New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		gw.Close()
		srv.Close()
	})
	e.gw, e.srv = gw, srv
	e.client = openai.NewClient(
		option.WithBaseURL(gw.URL+"/v1/"),
		option.WithAPIKey("sk-client-canary-5678"),
		option.WithMaxRetries(0),
	)
}

func withRedis(url string) func(*setup) { return func(s *setup) { s.redisURL = url } }

func withConfig(f func(*configs.Config)) func(*setup) { return func(s *setup) { s.cfg = f } }

func userMessage(text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
	}
}

// complete sends a non-streaming request and returns the completion and the
// response headers.
func (e *env) complete(t *testing.T, p openai.ChatCompletionNewParams, opts ...option.RequestOption) (*openai.ChatCompletion, http.Header) {
	t.Helper()
	var resp *http.Response
	c, err := e.client.Chat.Completions.New(context.Background(), p, append(opts, option.WithResponseInto(&resp))...)
	if err != nil {
		t.Fatalf("chat.completions.create: %v", err)
	}
	return c, resp.Header
}

// stream sends a streaming request and returns the accumulated completion,
// the chunks and the response headers.
func (e *env) stream(t *testing.T, p openai.ChatCompletionNewParams, opts ...option.RequestOption) (openai.ChatCompletionAccumulator, []openai.ChatCompletionChunk, http.Header) {
	t.Helper()
	var resp *http.Response
	s := e.client.Chat.Completions.NewStreaming(context.Background(), p, append(opts, option.WithResponseInto(&resp))...)
	defer s.Close()
	var acc openai.ChatCompletionAccumulator
	var chunks []openai.ChatCompletionChunk
	for s.Next() {
		ch := s.Current()
		acc.AddChunk(ch)
		chunks = append(chunks, ch)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	var h http.Header
	if resp != nil {
		h = resp.Header
	}
	return acc, chunks, h
}

func wantCache(t *testing.T, h http.Header, status string) {
	t.Helper()
	if got := h.Get("X-Ditto-Cache"); got != status {
		t.Errorf("X-Ditto-Cache = %q, want %q", got, status)
	}
	cs := h.Get("Cache-Status")
	switch status {
	case "HIT":
		if cs != "ditto; hit" {
			t.Errorf("Cache-Status = %q, want %q", cs, "ditto; hit")
		}
		if h.Get("Age") == "" {
			t.Error("hit without Age header")
		}
	case "MISS":
		if !strings.HasPrefix(cs, "ditto; fwd=uri-miss") {
			t.Errorf("Cache-Status = %q, want ditto; fwd=uri-miss...", cs)
		}
	}
	if k := h.Get("X-Ditto-Cache-Key"); !strings.HasPrefix(k, "ditto:v") {
		t.Errorf("X-Ditto-Cache-Key = %q", k)
	}
}
