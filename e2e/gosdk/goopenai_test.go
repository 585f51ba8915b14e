package gosdk

// The same core cases as chat_test.go, driven by the community Go client
// github.com/sashabaranov/go-openai: its own wire structs, its own stream
// reader and its own error type.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	goopenai "github.com/sashabaranov/go-openai"
	"github.com/sashabaranov/go-openai/jsonschema"

	"github.com/dittocache/ditto/internal/fakeopenai"
)

// headerCapture records the response headers of every call a go-openai
// client makes (go-openai does not expose them for streams).
type headerCapture struct {
	base    http.RoundTripper
	headers []http.Header
	extra   http.Header // added to every request
}

func (h *headerCapture) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(h.extra) > 0 {
		r = r.Clone(r.Context())
		for k, v := range h.extra {
			r.Header[k] = v
		}
	}
	resp, err := h.base.RoundTrip(r)
	if err == nil {
		h.headers = append(h.headers, resp.Header.Clone())
	}
	return resp, err
}

// last returns the headers of the most recent response.
func (h *headerCapture) last() http.Header { return h.headers[len(h.headers)-1] }

// goOpenAI returns an unmodified go-openai client pointed at the gateway.
func (e *env) goOpenAI() (*goopenai.Client, *headerCapture) {
	hc := &headerCapture{base: http.DefaultTransport}
	cfg := goopenai.DefaultConfig("sk-client-canary-5678")
	cfg.BaseURL = e.gw.URL + "/v1"
	cfg.HTTPClient = &http.Client{Transport: hc}
	return goopenai.NewClientWithConfig(cfg), hc
}

func goUserMessage(text string) goopenai.ChatCompletionRequest {
	return goopenai.ChatCompletionRequest{
		Model:    "gpt-4o",
		Messages: []goopenai.ChatCompletionMessage{{Role: goopenai.ChatMessageRoleUser, Content: text}},
	}
}

func goWeatherTool() goopenai.ChatCompletionRequest {
	req := goUserMessage("What's the weather like in SF?")
	req.Tools = []goopenai.Tool{{
		Type: goopenai.ToolTypeFunction,
		Function: &goopenai.FunctionDefinition{
			Name:   "get_weather",
			Strict: true,
			Parameters: jsonschema.Definition{
				Type: jsonschema.Object,
				Properties: map[string]jsonschema.Definition{
					"city":  {Type: jsonschema.String},
					"state": {Type: jsonschema.String},
				},
				Required:             []string{"city", "state"},
				AdditionalProperties: false,
			},
		},
	}}
	return req
}

// goStream reads a go-openai stream to the end and returns its chunks.
func goStream(t *testing.T, c *goopenai.Client, req goopenai.ChatCompletionRequest) []goopenai.ChatCompletionStreamResponse {
	t.Helper()
	req.Stream = true
	s, err := c.CreateChatCompletionStream(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateChatCompletionStream: %v", err)
	}
	defer s.Close()
	var chunks []goopenai.ChatCompletionStreamResponse
	for {
		ch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return chunks
		}
		if err != nil {
			t.Fatalf("stream Recv after %d chunks: %v", len(chunks), err)
		}
		chunks = append(chunks, ch)
	}
}

func TestGoOpenAIMissThenHit(t *testing.T) {
	e := newEnv(t)
	c, hc := e.goOpenAI()
	var first goopenai.ChatCompletionResponse
	for i, want := range []string{"MISS", "HIT"} {
		resp, err := c.CreateChatCompletion(context.Background(), goUserMessage("What's the weather like in SF?"))
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		wantCache(t, hc.last(), want)
		if resp.Header().Get("X-Ditto-Cache") != want {
			t.Errorf("request %d: go-openai's resp.Header() X-Ditto-Cache = %q, want %q", i+1, resp.Header().Get("X-Ditto-Cache"), want)
		}
		if got := resp.Choices[0].Message.Content; got != fakeopenai.TextAnswer {
			t.Errorf("request %d: content = %q", i+1, got)
		}
		if resp.Choices[0].FinishReason != goopenai.FinishReasonStop || resp.Usage.TotalTokens != 51 || resp.ID != "chatcmpl-ABfvaueLEMLNYbT8YzpJxsmiQ6HSY" {
			t.Errorf("request %d: finish %q usage %+v id %q", i+1, resp.Choices[0].FinishReason, resp.Usage, resp.ID)
		}
		if i == 0 {
			first = resp
		} else if resp.Created != first.Created || resp.Model != first.Model || resp.SystemFingerprint != first.SystemFingerprint {
			t.Errorf("hit differs from miss: %+v vs %+v", resp, first)
		}
	}
	if e.up.Calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", e.up.Calls())
	}
}

func TestGoOpenAIStreamWithUsage(t *testing.T) {
	e := newEnv(t)
	c, hc := e.goOpenAI()
	req := goUserMessage("What's the weather like in SF?")
	req.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	for i, want := range []string{"MISS", "HIT"} {
		chunks := goStream(t, c, req)
		wantCache(t, hc.last(), want)
		var b strings.Builder
		var finish goopenai.FinishReason
		usage := 0
		for _, ch := range chunks {
			if len(ch.Choices) > 0 {
				b.WriteString(ch.Choices[0].Delta.Content)
				if ch.Choices[0].FinishReason != "" {
					finish = ch.Choices[0].FinishReason
				}
			}
			if ch.Usage != nil {
				usage++
				if ch.Usage.TotalTokens != 44 || len(ch.Choices) != 0 {
					t.Errorf("stream %d: usage chunk %+v", i+1, ch)
				}
			}
		}
		if b.String() != fakeopenai.StreamTextAnswer || finish != goopenai.FinishReasonStop || usage != 1 {
			t.Errorf("stream %d: content %q finish %q usage chunks %d", i+1, b.String(), finish, usage)
		}
	}
	if e.up.Calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", e.up.Calls())
	}
	// Without include_usage there is no usage chunk, from the cache too.
	for _, ch := range goStream(t, c, goUserMessage("What's the weather like in SF?")) {
		if ch.Usage != nil || len(ch.Choices) == 0 {
			t.Errorf("usage not asked for, got chunk %+v", ch)
		}
	}
}

// go-openai sends "Cache-Control: no-cache" (with "Accept:
// text/event-stream") on every streaming request, as EventSource clients do;
// its users cannot turn it off. Ditto reads it as the SSE convention it is,
// not as a forced refresh, so go-openai streams hit the cache.
func TestGoOpenAIStreamsHitTheCache(t *testing.T) {
	e := newEnv(t)
	c, hc := e.goOpenAI()
	req := goUserMessage("What's the weather like in SF?")
	goStream(t, c, req)
	chunks := goStream(t, c, req)
	wantCache(t, hc.last(), "HIT")
	if len(chunks) == 0 || e.up.Calls() != 1 {
		t.Errorf("repeat stream: %d chunks, upstream calls %d, want a replay and 1 call", len(chunks), e.up.Calls())
	}
}

func TestGoOpenAIToolCalls(t *testing.T) {
	e := newEnv(t)
	c, hc := e.goOpenAI()
	for i, want := range []string{"MISS", "HIT"} {
		resp, err := c.CreateChatCompletion(context.Background(), goWeatherTool())
		if err != nil {
			t.Fatal(err)
		}
		wantCache(t, hc.last(), want)
		calls := resp.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].Function.Name != "get_weather" || calls[0].Function.Arguments != fakeopenai.ToolArgs ||
			calls[0].ID != "call_CUdUoJpsWWVdxXntucvnol1M" || calls[0].Type != goopenai.ToolTypeFunction ||
			resp.Choices[0].FinishReason != goopenai.FinishReasonToolCalls {
			t.Errorf("request %d: tool calls %+v finish %q", i+1, calls, resp.Choices[0].FinishReason)
		}
	}
	// Streamed: go-openai hands out the deltas; assemble them by index.
	e2 := newEnv(t)
	c2, hc2 := e2.goOpenAI()
	for i, want := range []string{"MISS", "HIT"} {
		chunks := goStream(t, c2, goWeatherTool())
		wantCache(t, hc2.last(), want)
		var id, name, args string
		for _, ch := range chunks {
			if len(ch.Choices) == 0 {
				continue
			}
			for _, d := range ch.Choices[0].Delta.ToolCalls {
				if d.Index == nil || *d.Index != 0 {
					t.Fatalf("stream %d: tool call delta without index 0: %+v", i+1, d)
				}
				if d.ID != "" {
					id = d.ID
				}
				name += d.Function.Name
				args += d.Function.Arguments
			}
		}
		if id != "call_4XzlGBLtUe9dy3GVNV4jhq7h" || name != "get_weather" || args != fakeopenai.StreamToolArgs {
			t.Errorf("stream %d: assembled call id %q name %q args %q", i+1, id, name, args)
		}
	}
	if e.up.Calls() != 1 || e2.up.Calls() != 1 {
		t.Errorf("upstream calls = %d and %d, want 1 each", e.up.Calls(), e2.up.Calls())
	}
}

func TestGoOpenAIErrors(t *testing.T) {
	tests := []struct {
		give fakeopenai.Failure
		want int
	}{
		{fakeopenai.Failure{Status: 400}, 400},
		{fakeopenai.Failure{Status: 401}, 401},
		{fakeopenai.Failure{Status: 404}, 404},
		{fakeopenai.Failure{Status: 429, RetryAfter: "60"}, 429},
		{fakeopenai.Failure{Status: 500}, 500},
		{fakeopenai.Failure{Status: 503}, 503},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.want), func(t *testing.T) {
			e := newEnv(t, noRetries)
			c, hc := e.goOpenAI()
			e.up.FailNext(tt.give, tt.give)
			_, err := c.CreateChatCompletion(context.Background(), goUserMessage("hi"))
			var apiErr *goopenai.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %T %v, want *openai.APIError", err, err)
			}
			if apiErr.HTTPStatusCode != tt.want || apiErr.Message != "fake upstream failure "+strconv.Itoa(tt.want) {
				t.Errorf("APIError = %d %q", apiErr.HTTPStatusCode, apiErr.Message)
			}
			if apiErr.Code != "fake_"+strconv.Itoa(tt.want) {
				t.Errorf("code = %v", apiErr.Code)
			}
			if tt.give.RetryAfter != "" && hc.last().Get("Retry-After") != tt.give.RetryAfter {
				t.Errorf("Retry-After = %q", hc.last().Get("Retry-After"))
			}
			// A stream fails at creation with the same typed error.
			req := goUserMessage("hi")
			req.Stream = true
			_, err = c.CreateChatCompletionStream(context.Background(), req)
			if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != tt.want {
				t.Errorf("stream err = %T %v, want a %d *openai.APIError", err, err, tt.want)
			}
		})
	}
	t.Run("gateway validation", func(t *testing.T) {
		e := newEnv(t)
		c, _ := e.goOpenAI()
		_, err := c.CreateChatCompletion(context.Background(), goopenai.ChatCompletionRequest{Model: "gpt-4o", Messages: []goopenai.ChatCompletionMessage{{Role: "wizard", Content: "hi"}}})
		var apiErr *goopenai.APIError
		if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 400 || apiErr.Param == nil || *apiErr.Param != "messages[0].role" || apiErr.Type != "invalid_request_error" {
			t.Errorf("err = %#v, want a 400 *openai.APIError with param messages[0].role", err)
		}
		if e.up.Calls() != 0 {
			t.Errorf("invalid request reached upstream")
		}
	})
}

func TestGoOpenAIListModels(t *testing.T) {
	e := newEnv(t)
	c, _ := e.goOpenAI()
	list, err := c.ListModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range list.Models {
		if m.Object != "model" || m.ID == "" || m.OwnedBy == "" {
			t.Errorf("model %+v", m)
		}
		found = found || m.ID == "gpt-4o"
	}
	if !found {
		t.Errorf("gpt-4o not listed: %+v", list.Models)
	}
}
