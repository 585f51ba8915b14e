package gosdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/fakeopenai"
	"github.com/dittocache/ditto/internal/redistest"
)

func TestMissThenHit(t *testing.T) {
	e := newEnv(t)
	first, h1 := e.complete(t, userMessage("What's the weather like in SF?"))
	wantCache(t, h1, "MISS")
	if got := first.Choices[0].Message.Content; got != fakeopenai.TextAnswer {
		t.Fatalf("content = %q, want the recorded answer", got)
	}
	second, h2 := e.complete(t, userMessage("What's the weather like in SF?"))
	wantCache(t, h2, "HIT")
	if e.up.Calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", e.up.Calls())
	}
	if second.RawJSON() != first.RawJSON() {
		t.Errorf("hit body differs from miss body:\nmiss %s\nhit  %s", first.RawJSON(), second.RawJSON())
	}
	if second.ID != "chatcmpl-ABfvaueLEMLNYbT8YzpJxsmiQ6HSY" || second.Usage.TotalTokens != 51 || second.Model != "gpt-4o-2024-08-06" {
		t.Errorf("hit lost recorded fields: id %q usage %+v model %q", second.ID, second.Usage, second.Model)
	}
	if !strings.Contains(h1.Get("Cache-Status"), "stored") {
		t.Errorf("miss Cache-Status = %q, want it to say stored", h1.Get("Cache-Status"))
	}
}

func TestStreamMissThenReplay(t *testing.T) {
	e := newEnv(t)
	p := userMessage("What's the weather like in SF?")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	acc1, chunks1, h1 := e.stream(t, p)
	wantCache(t, h1, "MISS")
	acc2, chunks2, h2 := e.stream(t, p)
	wantCache(t, h2, "HIT")
	if e.up.Calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", e.up.Calls())
	}
	for i, acc := range []openai.ChatCompletionAccumulator{acc1, acc2} {
		if got := acc.Choices[0].Message.Content; got != fakeopenai.StreamTextAnswer {
			t.Errorf("stream %d content = %q, want recorded answer", i+1, got)
		}
		if acc.Choices[0].FinishReason != "stop" {
			t.Errorf("stream %d finish_reason = %q", i+1, acc.Choices[0].FinishReason)
		}
		if acc.Usage.TotalTokens != 44 {
			t.Errorf("stream %d usage = %+v, want total 44 (include_usage)", i+1, acc.Usage)
		}
	}
	if len(chunks1) < 10 {
		t.Errorf("miss relayed %d chunks, want the upstream's chunks as they came", len(chunks1))
	}
	if last := chunks2[len(chunks2)-1]; len(last.Choices) != 0 || last.Usage.TotalTokens != 44 {
		t.Errorf("replay's last chunk = %s, want a usage-only chunk", last.RawJSON())
	}
}

func TestStreamWithoutUsageOmitsUsageChunk(t *testing.T) {
	e := newEnv(t)
	p := userMessage("What's the weather like in SF?")
	for i := 0; i < 2; i++ {
		_, chunks, _ := e.stream(t, p)
		for _, c := range chunks {
			if len(c.Choices) == 0 || c.JSON.Usage.Valid() && c.Usage.TotalTokens > 0 {
				t.Fatalf("request %d: client did not ask for usage but got chunk %s", i+1, c.RawJSON())
			}
		}
	}
	// The gateway asks upstream for usage anyway, so it can count tokens saved.
	if !bytes.Contains(e.up.Requests()[0], []byte(`"include_usage":true`)) {
		t.Errorf("upstream request lacks include_usage: %s", e.up.Requests()[0])
	}
}

func TestStreamedAnswerServesNonStreamClient(t *testing.T) {
	e := newEnv(t)
	p := userMessage("What's the weather like in SF?")
	acc, _, _ := e.stream(t, p)
	c, h := e.complete(t, p)
	wantCache(t, h, "HIT")
	if c.Choices[0].Message.Content != acc.Choices[0].Message.Content || c.Choices[0].Message.Content != fakeopenai.StreamTextAnswer {
		t.Errorf("assembled content = %q, want %q", c.Choices[0].Message.Content, fakeopenai.StreamTextAnswer)
	}
	if c.Usage.TotalTokens != 44 || c.ID != "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL" {
		t.Errorf("assembled completion lost id/usage: %s", c.RawJSON())
	}
	if e.up.Calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", e.up.Calls())
	}
}

func TestCompletionServesStreamClient(t *testing.T) {
	e := newEnv(t)
	p := userMessage("What's the weather like in SF?")
	c, _ := e.complete(t, p)
	acc, _, h := e.stream(t, p)
	wantCache(t, h, "HIT")
	if acc.Choices[0].Message.Content != c.Choices[0].Message.Content {
		t.Errorf("replayed content = %q, want %q", acc.Choices[0].Message.Content, c.Choices[0].Message.Content)
	}
	if e.up.Calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", e.up.Calls())
	}
}

func weatherTool() openai.ChatCompletionNewParams {
	p := userMessage("What's the weather like in SF?")
	p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:   "get_weather",
		Strict: openai.Bool(true),
		Parameters: shared.FunctionParameters{
			"type": "object",
			"properties": map[string]any{
				"city":  map[string]any{"type": "string"},
				"state": map[string]any{"type": "string"},
			},
			"required":             []string{"city", "state"},
			"additionalProperties": false,
		},
	})}
	return p
}

func TestToolCalls(t *testing.T) {
	e := newEnv(t)
	for i, want := range []string{"MISS", "HIT"} {
		c, h := e.complete(t, weatherTool())
		wantCache(t, h, want)
		calls := c.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].Function.Name != "get_weather" || calls[0].Function.Arguments != fakeopenai.ToolArgs ||
			calls[0].ID != "call_CUdUoJpsWWVdxXntucvnol1M" || c.Choices[0].FinishReason != "tool_calls" {
			t.Errorf("request %d: tool calls = %+v finish %q", i+1, calls, c.Choices[0].FinishReason)
		}
	}
	// The tools reached the upstream intact.
	var sent struct {
		Tools []struct {
			Function struct {
				Name       string          `json:"name"`
				Strict     bool            `json:"strict"`
				Parameters json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
	}
	json.Unmarshal(e.up.Requests()[0], &sent)
	if len(sent.Tools) != 1 || !sent.Tools[0].Function.Strict || !bytes.Contains(sent.Tools[0].Function.Parameters, []byte(`"additionalProperties":false`)) {
		t.Errorf("upstream got tools %s", e.up.Requests()[0])
	}
	// A different tool set is a different request.
	p := weatherTool()
	p.Tools[0].OfFunction.Function.Description = openai.String("Get the weather")
	_, h := e.complete(t, p)
	wantCache(t, h, "MISS")
}

func TestStreamedToolCalls(t *testing.T) {
	e := newEnv(t)
	p := weatherTool()
	for i, want := range []string{"MISS", "HIT"} {
		acc, _, h := e.stream(t, p)
		wantCache(t, h, want)
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].Function.Arguments != fakeopenai.StreamToolArgs || calls[0].ID != "call_4XzlGBLtUe9dy3GVNV4jhq7h" {
			t.Errorf("stream %d: tool calls = %+v", i+1, calls)
		}
	}
	c, h := e.complete(t, p)
	wantCache(t, h, "HIT")
	if got := c.Choices[0].Message.ToolCalls; len(got) != 1 || got[0].Function.Arguments != fakeopenai.StreamToolArgs {
		t.Errorf("assembled tool calls = %+v", got)
	}
}

func TestConcurrentIdenticalMissesCallUpstreamOnce(t *testing.T) {
	e := newEnv(t)
	release := e.up.Block()
	arrived := e.up.Arrivals()
	const n = 24
	var wg sync.WaitGroup
	contents := make([]string, n)
	statuses := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := userMessage("What's the weather like in SF?")
			if i%2 == 0 {
				acc, _, h := e.stream(t, p)
				contents[i], statuses[i] = acc.Choices[0].Message.Content, h.Get("X-Ditto-Cache")
				return
			}
			c, h := e.complete(t, p)
			contents[i], statuses[i] = c.Choices[0].Message.Content, h.Get("X-Ditto-Cache")
		}(i)
	}
	<-arrived
	release()
	wg.Wait()
	if e.up.Calls() != 1 {
		t.Errorf("upstream calls = %d for %d identical concurrent requests, want 1", e.up.Calls(), n)
	}
	misses := 0
	if contents[0] != fakeopenai.TextAnswer && contents[0] != fakeopenai.StreamTextAnswer {
		t.Errorf("client 0 got %q", contents[0])
	}
	for i := range contents {
		if contents[i] != contents[0] {
			t.Errorf("client %d got %q", i, contents[i])
		}
		switch statuses[i] {
		case "MISS":
			misses++
		case "COALESCED", "HIT":
		default:
			t.Errorf("client %d X-Ditto-Cache = %q", i, statuses[i])
		}
	}
	if misses != 1 {
		t.Errorf("%d clients saw MISS, want exactly 1 (the rest COALESCED or HIT)", misses)
	}
}

func TestUpstreamErrorsAreNotCached(t *testing.T) {
	tests := []struct {
		give       fakeopenai.Failure
		wantStatus int
	}{
		{fakeopenai.Failure{Status: 429, RetryAfter: "7"}, 429},
		{fakeopenai.Failure{Status: 500}, 500},
		{fakeopenai.Failure{Status: 503}, 503},
		{fakeopenai.Failure{Status: 400}, 400},
		{fakeopenai.Failure{Status: 401}, 401},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.wantStatus), func(t *testing.T) {
			e := newEnv(t, noRetries)
			e.up.FailNext(tt.give)
			var resp *http.Response
			_, err := e.client.Chat.Completions.New(context.Background(), userMessage("hi"), option.WithResponseInto(&resp))
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *openai.Error", err)
			}
			if apiErr.StatusCode != tt.wantStatus || apiErr.Message != "fake upstream failure "+strconv.Itoa(tt.wantStatus) {
				t.Errorf("error = %d %q", apiErr.StatusCode, apiErr.Message)
			}
			if tt.give.RetryAfter != "" && resp.Header.Get("Retry-After") != tt.give.RetryAfter {
				t.Errorf("Retry-After = %q, want %q", resp.Header.Get("Retry-After"), tt.give.RetryAfter)
			}
			if apiErr.Code != "fake_"+strconv.Itoa(tt.wantStatus) {
				t.Errorf("code = %q", apiErr.Code)
			}
			_, h := e.complete(t, userMessage("hi"))
			wantCache(t, h, "MISS")
			_, h = e.complete(t, userMessage("hi"))
			wantCache(t, h, "HIT")
			if e.up.Calls() != 2 {
				t.Errorf("upstream calls = %d, want 2 (error, then success)", e.up.Calls())
			}
		})
	}
}

func TestStreamErrorBeforeFirstChunkKeepsStatus(t *testing.T) {
	e := newEnv(t)
	e.up.FailNext(fakeopenai.Failure{Status: 429, RetryAfter: "60"}) // longer than max_retry_wait: not retried
	s := e.client.Chat.Completions.NewStreaming(context.Background(), userMessage("hi"))
	for s.Next() {
	}
	var apiErr *openai.Error
	if err := s.Err(); !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Fatalf("stream err = %v, want a 429 *openai.Error", s.Err())
	}
	s.Close()
}

var noRetries = withConfig(func(c *configs.Config) { c.Upstream.Retries = 0 })

func TestTransientFailuresAreRetried(t *testing.T) {
	e := newEnv(t)
	e.up.FailNext(fakeopenai.Failure{Status: 503}, fakeopenai.Failure{Status: 429, RetryAfter: "0"})
	c, h := e.complete(t, userMessage("hi"))
	wantCache(t, h, "MISS")
	if c.Choices[0].Message.Content != fakeopenai.TextAnswer || e.up.Calls() != 3 {
		t.Errorf("content %q after %d upstream calls, want the answer after 3", c.Choices[0].Message.Content, e.up.Calls())
	}
	// An invalid request is not retried.
	e.up.FailNext(fakeopenai.Failure{Status: 400})
	_, err := e.client.Chat.Completions.New(context.Background(), userMessage("other"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || e.up.Calls() != 4 {
		t.Errorf("400: err %v after %d calls, want one call", err, e.up.Calls())
	}
	// A stream that broke after clients saw chunks is not retried.
	e.up.CutStreamsAfter(3)
	s := e.client.Chat.Completions.NewStreaming(context.Background(), userMessage("streamed"))
	for s.Next() {
	}
	s.Close()
	if s.Err() == nil || e.up.Calls() != 5 {
		t.Errorf("cut stream: err %v after %d calls, want an error and one call", s.Err(), e.up.Calls())
	}
}

func TestTruncatedStreamIsNotCached(t *testing.T) {
	e := newEnv(t)
	e.up.CutStreamsAfter(3)
	s := e.client.Chat.Completions.NewStreaming(context.Background(), userMessage("What's the weather like in SF?"))
	n := 0
	for s.Next() {
		n++
	}
	if s.Err() == nil {
		t.Fatalf("stream cut after %d chunks ended without an error: the client must not mistake it for a whole answer", n)
	}
	s.Close()
	e.up.CutStreamsAfter(0)
	acc, _, h := e.stream(t, userMessage("What's the weather like in SF?"))
	wantCache(t, h, "MISS")
	if acc.Choices[0].Message.Content != fakeopenai.StreamTextAnswer {
		t.Errorf("content after retry = %q", acc.Choices[0].Message.Content)
	}
	if e.up.Calls() != 2 {
		t.Errorf("upstream calls = %d, want 2", e.up.Calls())
	}
}

func TestCacheControl(t *testing.T) {
	e := newEnv(t)
	p := userMessage("What's the weather like in SF?")
	noStore := option.WithHeader("Cache-Control", "no-store")
	for i := 0; i < 2; i++ {
		_, h := e.complete(t, p, noStore)
		if h.Get("X-Ditto-Cache") != "BYPASS" {
			t.Errorf("no-store: X-Ditto-Cache = %q, want BYPASS", h.Get("X-Ditto-Cache"))
		}
	}
	_, h := e.complete(t, p)
	wantCache(t, h, "MISS") // no-store wrote nothing

	_, h = e.complete(t, p, option.WithHeader("Cache-Control", "no-cache"))
	if h.Get("X-Ditto-Cache") != "BYPASS" || !strings.Contains(h.Get("Cache-Status"), "stored") {
		t.Errorf("no-cache: headers %v, want BYPASS and stored", h)
	}
	_, h = e.complete(t, p, option.WithHeader("Cache-Control", "max-age=3600"))
	wantCache(t, h, "HIT")
	if e.up.Calls() != 4 {
		t.Errorf("upstream calls = %d, want 4", e.up.Calls())
	}

	_, err := e.client.Chat.Completions.New(context.Background(), userMessage("never asked"), option.WithHeader("Cache-Control", "only-if-cached"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("only-if-cached miss: err = %v, want 504", err)
	}
	if e.up.Calls() != 4 {
		t.Errorf("only-if-cached called upstream")
	}
}

// A no-store stream is relayed chunk by chunk on the request's own
// goroutine (nobody can share it): whole answers with usage, nothing stored,
// upstream failures before and after the first chunk reported as for any
// other stream.
func TestNoStoreStreams(t *testing.T) {
	e := newEnv(t, noRetries)
	noStore := option.WithHeader("Cache-Control", "no-store")
	p := userMessage("What's the weather like in SF?")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	for i := range 2 {
		acc, chunks, h := e.stream(t, p, noStore)
		wantCache(t, h, "BYPASS")
		if acc.Choices[0].Message.Content != fakeopenai.StreamTextAnswer || acc.Choices[0].FinishReason != "stop" || acc.Usage.TotalTokens != 44 {
			t.Errorf("stream %d: %q finish %q usage %+v", i, acc.Choices[0].Message.Content, acc.Choices[0].FinishReason, acc.Usage)
		}
		if len(chunks) < 10 {
			t.Errorf("stream %d relayed %d chunks, want the upstream's chunks as they came", i, len(chunks))
		}
	}
	_, _, h := e.stream(t, p)
	wantCache(t, h, "MISS") // no-store wrote nothing

	e.up.FailNext(fakeopenai.Failure{Status: 503})
	s := e.client.Chat.Completions.NewStreaming(context.Background(), userMessage("fails first"), noStore)
	for s.Next() {
	}
	var apiErr *openai.Error
	if err := s.Err(); !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Errorf("failed no-store stream: err = %v, want a 503 *openai.Error", s.Err())
	}
	s.Close()

	e.up.CutStreamsAfter(3)
	s = e.client.Chat.Completions.NewStreaming(context.Background(), userMessage("cut short"), noStore)
	n := 0
	for s.Next() {
		n++
	}
	if n == 0 || s.Err() == nil {
		t.Errorf("no-store stream cut after %d chunks: err %v, want chunks then an error", n, s.Err())
	}
	s.Close()
	e.up.CutStreamsAfter(0)
	if e.up.Calls() != 5 {
		t.Errorf("upstream calls = %d, want 5", e.up.Calls())
	}
}

func TestNamespaceHeaderSeparatesEntries(t *testing.T) {
	e := newEnv(t)
	p := userMessage("What's the weather like in SF?")
	_, h := e.complete(t, p, option.WithHeader("X-Ditto-Namespace", "team-a"))
	wantCache(t, h, "MISS")
	_, h = e.complete(t, p, option.WithHeader("X-Ditto-Namespace", "team-b"))
	wantCache(t, h, "MISS")
	_, h = e.complete(t, p, option.WithHeader("X-Ditto-Namespace", "team-a"))
	wantCache(t, h, "HIT")
}

// raw posts a body and returns status, headers and the decoded error.
func raw(t *testing.T, url, body string, hdr ...string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, resp.Header, m
}

func TestBadInputGetsOpenAIErrors(t *testing.T) {
	e := newEnv(t, withConfig(func(c *configs.Config) {
		c.Server.MaxBodyBytes = 4096
		delete(c.Providers, "anthropic")
	}))
	tests := []struct {
		name, body string
		want       int
		param      string
	}{
		{"malformed JSON", `{"model":"gpt-4o","messages":[`, 400, ""},
		{"not an object", `[1,2]`, 400, ""},
		{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "model"},
		{"model not a string", `{"model":5,"messages":[{"role":"user","content":"hi"}]}`, 400, "model"},
		{"missing messages", `{"model":"gpt-4o"}`, 400, "messages"},
		{"messages not array", `{"model":"gpt-4o","messages":"hi"}`, 400, "messages"},
		{"empty messages", `{"model":"gpt-4o","messages":[]}`, 400, "messages"},
		{"bad role", `{"model":"gpt-4o","messages":[{"role":"wizard","content":"hi"}]}`, 400, "messages[0].role"},
		{"bad temperature", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}`, 400, "temperature"},
		{"huge n", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"n":100000}`, 400, "n"},
		{"duplicate key", `{"model":"gpt-4o","model":"gpt-4","messages":[{"role":"user","content":"hi"}]}`, 400, "model"},
		{"unconfigured provider", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`, 404, "model"},
		{"too large", `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}]}`, 413, ""},
		{"deep nesting", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, m := raw(t, e.gw.URL, tt.body)
			if status != tt.want {
				t.Errorf("status = %d, want %d (%v)", status, tt.want, m)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			eobj, ok := m["error"].(map[string]any)
			if !ok {
				t.Fatalf("body %v has no error object", m)
			}
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := eobj[k]; !ok {
					t.Errorf("error object lacks %q: %v", k, eobj)
				}
			}
			if msg, _ := eobj["message"].(string); msg == "" {
				t.Error("empty error message")
			}
			if tt.param != "" && eobj["param"] != tt.param {
				t.Errorf("param = %v, want %q", eobj["param"], tt.param)
			}
		})
	}
	if e.up.Calls() != 0 {
		t.Errorf("bad input reached upstream %d times", e.up.Calls())
	}
}

func TestEquivalentSpellingsShareAnEntry(t *testing.T) {
	e := newEnv(t)
	spellings := []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"What's the weather like in SF?"}],"stop":"###"}`,
		`{"messages":[{"content":[{"type":"text","text":"What's the weather like in SF?"}],"role":"user"}],"stop":["###"],"model":"gpt-4o","temperature":1,"top_p":1,"n":1,"user":"alice","stream":false}`,
		"{\n  \"model\": \"gpt-4o\",\n  \"stop\": [\"###\"],\n  \"presence_penalty\": 0,\n  \"messages\": [ {\"role\": \"user\", \"content\": \"What\\u0027s the weather like in SF?\"} ]\n}",
	}
	for i, body := range spellings {
		status, h, m := raw(t, e.gw.URL, body)
		if status != 200 {
			t.Fatalf("spelling %d: status %d %v", i, status, m)
		}
		want := "HIT"
		if i == 0 {
			want = "MISS"
		}
		if got := h.Get("X-Ditto-Cache"); got != want {
			t.Errorf("spelling %d: X-Ditto-Cache = %q, want %q", i, got, want)
		}
	}
	// Changing what the model sees is a different request.
	for _, body := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"What's the weather like in SF?"}],"stop":"###","temperature":0.2}`,
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What's the weather like in SF?"}],"stop":"###"}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"What's the weather like in SF? "}],"stop":"###"}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"What's the weather like in SF?"}],"stop":"###","response_format":{"type":"json_object"}}`,
	} {
		_, h, _ := raw(t, e.gw.URL, body)
		if got := h.Get("X-Ditto-Cache"); got != "MISS" {
			t.Errorf("%s: X-Ditto-Cache = %q, want MISS", body, got)
		}
	}
}

func TestSecretsNotForwardedOrEchoed(t *testing.T) {
	e := newEnv(t)
	e.complete(t, userMessage("hi"))
	h := e.up.Headers()[0]
	if got := h.Get("Authorization"); got != "Bearer sk-upstream-canary-1234" {
		t.Errorf("upstream Authorization = %q, want the configured provider key", got)
	}
	for _, b := range e.up.Requests() {
		if bytes.Contains(b, []byte("sk-client-canary")) {
			t.Error("client key leaked into the upstream body")
		}
	}
}

func TestRedisSharedAcrossGatewaysAndRestarts(t *testing.T) {
	rs := redistest.Start(t)
	a := newEnv(t, withRedis(rs.URL()))
	p := userMessage("What's the weather like in SF?")
	_, h := a.complete(t, p)
	wantCache(t, h, "MISS")

	// A second gateway process sharing the Redis (and its own upstream).
	b := newEnv(t, withRedis(rs.URL()))
	c, h := b.complete(t, p)
	wantCache(t, h, "HIT")
	if c.Choices[0].Message.Content != fakeopenai.TextAnswer || b.up.Calls() != 0 {
		t.Errorf("second gateway: content %q, upstream calls %d", c.Choices[0].Message.Content, b.up.Calls())
	}
	acc, _, h := b.stream(t, p)
	wantCache(t, h, "HIT")
	if acc.Choices[0].Message.Content != fakeopenai.TextAnswer {
		t.Errorf("replay from redis: %q", acc.Choices[0].Message.Content)
	}
	// Restart: a fresh gateway on the same Redis still hits.
	a.gw.Close()
	a.srv.Close()
	a2 := newEnv(t, withRedis(rs.URL()))
	_, h = a2.complete(t, p)
	wantCache(t, h, "HIT")
}

func TestRedisDownFailsOpen(t *testing.T) {
	rs := redistest.Start(t)
	e := newEnv(t, withRedis(rs.URL()))
	e.complete(t, userMessage("warm"))
	rs.Kill()
	for i := 0; i < 5; i++ {
		c, h := e.complete(t, userMessage("What's the weather like in SF?"))
		if c.Choices[0].Message.Content != fakeopenai.TextAnswer {
			t.Fatalf("request %d with Redis down: %q", i, c.Choices[0].Message.Content)
		}
		if s := h.Get("X-Ditto-Cache"); s != "MISS" && s != "COALESCED" {
			t.Errorf("request %d: X-Ditto-Cache = %q, want MISS", i, s)
		}
	}
	resp, err := http.Get(e.gw.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"degraded"`)) {
		t.Errorf("/readyz with Redis down = %d %s, want 200 degraded", resp.StatusCode, b)
	}
}

func TestIdenticalMissesAcrossReplicasCallUpstreamOnce(t *testing.T) {
	rs := redistest.Start(t)
	a := newEnv(t, withRedis(rs.URL()))
	b := newEnv(t, withRedis(rs.URL()))
	release := a.up.Block()
	arrived := a.up.Arrivals()
	p := userMessage("What's the weather like in SF?")
	done := make(chan string, 1)
	go func() {
		c, h := a.complete(t, p)
		done <- h.Get("X-Ditto-Cache") + " " + c.Choices[0].Message.Content
	}()
	<-arrived // replica A holds the fill lease and is waiting on its provider
	type res struct {
		status, content string
	}
	fromB := make(chan res, 1)
	go func() {
		acc, _, h := b.stream(t, p) // a streaming client on replica B
		fromB <- res{h.Get("X-Ditto-Cache"), acc.Choices[0].Message.Content}
	}()
	// Replica B has tried the lease (a second SET) and is now waiting for A.
	waitUntil(t, func() bool { return redisSetCalls(t, rs) >= 2 })
	release()
	if got := <-done; got != "MISS "+fakeopenai.TextAnswer {
		t.Errorf("replica A: %q", got)
	}
	r := <-fromB
	if r.content != fakeopenai.TextAnswer || r.status != "COALESCED" {
		t.Errorf("replica B: %s %q, want A's answer, COALESCED", r.status, r.content)
	}
	if b.up.Calls() != 0 || a.up.Calls() != 1 {
		t.Errorf("upstream calls: A %d, B %d; want 1 and 0", a.up.Calls(), b.up.Calls())
	}
}

// redisSetCalls reads how many SET commands the server has run.
func redisSetCalls(t *testing.T, rs *redistest.Server) int {
	info, err := rs.Client().Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_set:calls="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			return n
		}
	}
	return 0
}

// waitUntil polls cond for up to 10 s: a bound on progress, not a timing assertion.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestModelsListAndRetrieve(t *testing.T) {
	e := newEnv(t)
	page, err := e.client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range page.Data {
		ids[m.ID] = true
		if m.Object != "model" || m.OwnedBy == "" || m.Created == 0 {
			t.Errorf("model %+v lacks fields", m)
		}
	}
	if !ids["gpt-4o-mini"] {
		t.Errorf("models.list() = %v, want the OpenAI catalog (a key is configured)", ids)
	}
	m, err := e.client.Models.Get(context.Background(), "anthropic/claude-sonnet-4-5")
	if err != nil || m.ID != "anthropic/claude-sonnet-4-5" || m.OwnedBy != "anthropic" {
		t.Errorf("models.retrieve(provider/model) = %+v, %v", m, err)
	}
}

func TestAzureAndAliasRoutes(t *testing.T) {
	azureUp := fakeopenai.New(t)
	e := newEnv(t, withConfig(func(c *configs.Config) {
		c.Providers["azure"] = configs.Provider{Type: "azure", BaseURL: azureUp.URL, APIVersion: "2024-10-21", APIKey: "azure-canary-key"}
		c.Routes = []configs.Route{
			{Model: "company-gpt", Provider: "azure", UpstreamModel: "gpt4o-deployment", Aliases: []string{"default"}},
			{Model: "fast", Provider: "openai", UpstreamModel: "gpt-4o-mini"},
		}
	}))
	p := userMessage("What's the weather like in SF?")
	p.Model = "company-gpt"
	c, h := e.complete(t, p)
	wantCache(t, h, "MISS")
	if c.Choices[0].Message.Content != fakeopenai.TextAnswer {
		t.Errorf("azure answer %q", c.Choices[0].Message.Content)
	}
	if u := azureUp.URLs(); len(u) != 1 || u[0] != "/openai/deployments/gpt4o-deployment/chat/completions?api-version=2024-10-21" {
		t.Errorf("azure request URI = %v", u)
	}
	if k := azureUp.Headers()[0].Get("Api-Key"); k != "azure-canary-key" {
		t.Errorf("azure api-key header = %q", k)
	}
	// An alias of the same route shares the entry; streaming too.
	p.Model = "default"
	acc, _, h := e.stream(t, p)
	wantCache(t, h, "HIT")
	if acc.Choices[0].Message.Content != fakeopenai.TextAnswer || azureUp.Calls() != 1 {
		t.Errorf("alias: %q after %d azure calls", acc.Choices[0].Message.Content, azureUp.Calls())
	}
	// "fast" and "gpt-4o-mini" are the same upstream model: one entry.
	p.Model = "fast"
	_, h = e.complete(t, p)
	wantCache(t, h, "MISS")
	p.Model = "gpt-4o-mini"
	_, h = e.complete(t, p)
	wantCache(t, h, "HIT")
	// A different provider never shares: openai/gpt-4o vs the azure route.
	p.Model = "gpt-4o"
	_, h = e.complete(t, p)
	wantCache(t, h, "MISS")
}

// With Redis, the fill lease must not hand a refresh the very entry it
// chose not to use.
func TestRedisNoCacheRefreshesDespiteLease(t *testing.T) {
	rs := redistest.Start(t)
	e := newEnv(t, withRedis(rs.URL()))
	p := userMessage("What's the weather like in SF?")
	e.complete(t, p)
	_, h := e.complete(t, p, option.WithHeader("Cache-Control", "no-cache"))
	if h.Get("X-Ditto-Cache") != "BYPASS" || e.up.Calls() != 2 {
		t.Errorf("no-cache with Redis: %s after %d upstream calls, want BYPASS and a second call", h.Get("X-Ditto-Cache"), e.up.Calls())
	}
	_, h = e.complete(t, p, option.WithHeader("Cache-Control", "max-age=0"))
	if h.Get("X-Ditto-Cache") != "MISS" || e.up.Calls() != 3 {
		t.Errorf("max-age=0 with Redis: %s after %d upstream calls, want MISS and a third call", h.Get("X-Ditto-Cache"), e.up.Calls())
	}
}
