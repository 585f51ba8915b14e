package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/providertest"
)

var update = flag.Bool("update", false, "rewrite testdata/request.*.golden")

// recordedStream returns the events of testdata/chat.stream.sse.
func recordedStream(t *testing.T) [][]byte {
	t.Helper()
	events := providertest.SplitEvents(providertest.ReadFile(t, "testdata/chat.stream.sse"))
	if n := len(events); n < 3 || !bytes.HasPrefix(events[n-1], []byte("data: [DONE]")) ||
		!bytes.Contains(events[n-2], []byte(`"choices":[],"usage"`)) || !bytes.Contains(events[n-3], []byte(`"finish_reason":"stop"`)) {
		t.Fatal("testdata/chat.stream.sse no longer ends with finish, usage, [DONE]")
	}
	return events
}

// noDone is the recorded stream without its final [DONE] event, as sent by
// compatible servers that omit it.
func noDone(t *testing.T) []byte {
	events := recordedStream(t)
	return bytes.Join(events[:len(events)-1], nil)
}

// openAIError is an error body in OpenAI's shape.
func openAIError(message, typ, param, code string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": typ, "param": nullable(param), "code": nullable(code)}})
	return b
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestConformance(t *testing.T) {
	recorded := providertest.OpenAIChatCases(t, "testdata")
	providertest.Run(t, providertest.Suite{
		New: func(baseURL, apiKey string) providers.Provider {
			return New(Options{BaseURL: baseURL + "/v1/", APIKey: apiKey})
		},
		Model:      "gpt-4o",
		AuthHeader: "Authorization",
		AuthPrefix: "Bearer ",
		Check: func(t testing.TB, r *http.Request, body []byte, stream bool) {
			if r.URL.Path != "/v1/chat/completions" || r.URL.RawQuery != "" {
				t.Errorf("URL = %s, want /v1/chat/completions", r.URL)
			}
			want := normalize.AppendOpenAIRequest(nil, providertest.DefaultRequest("gpt-4o"), "gpt-4o", stream)
			if string(body) != string(want) {
				t.Errorf("body = %s\nwant %s", body, want)
			}
		},
		// Compatible servers may omit [DONE]; a clean end after the usage
		// chunk is then complete.
		TerminalOptional: true,
		Cases: append(recorded, providertest.Case{
			Name:   "stream without [DONE]",
			Stream: true,
			Reply:  providertest.Reply{Body: noDone(t)},
			Want:   recorded[2].Want, // the answer of the recorded stream
		}),
		Errors: []providertest.ErrorCase{{
			Name:   "bad request",
			Reply:  providertest.Reply{Status: 400, Body: openAIError("Invalid value for 'temperature': expected a number between 0 and 2.", "invalid_request_error", "temperature", "invalid_value")},
			Status: 400, Type: "invalid_request_error", Code: "invalid_value",
		}, {
			Name: "bad request with a numeric code",
			Reply: providertest.Reply{Status: 400,
				Body: []byte(`{"error":{"message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}}`)},
			Status: 400, Type: "BadRequestError", Code: "400",
		}, {
			Name:   "unauthorized",
			Reply:  providertest.Reply{Status: 401, Body: openAIError("Incorrect API key provided: "+providertest.APIKey+". You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "", "invalid_api_key")},
			Status: 401, Type: "invalid_request_error", Code: "invalid_api_key",
		}, {
			Name:   "unauthorized stream",
			Stream: true,
			Reply:  providertest.Reply{Status: 401, Body: []byte(`{"error":{"message":"Missing bearer authentication in header"}}`)},
			Status: 401, Type: "authentication_error",
		}, {
			Name:   "model not found",
			Reply:  providertest.Reply{Status: 404, Body: openAIError("The model `gpt-4o` does not exist or you do not have access to it.", "invalid_request_error", "", "model_not_found")},
			Status: 404, Type: "invalid_request_error", Code: "model_not_found",
		}, {
			Name: "rate limited, Retry-After",
			Reply: providertest.Reply{Status: 429, Header: http.Header{"retry-after": {"7"}},
				Body: openAIError("Rate limit reached for gpt-4o in organization org-123 on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 7s.", "requests", "", "rate_limit_exceeded")},
			Status: 429, Type: "requests", Code: "rate_limit_exceeded", RetryAfter: 7 * time.Second,
		}, {
			Name:   "rate limited stream, retry-after-ms wins",
			Stream: true,
			Reply: providertest.Reply{Status: 429, Header: http.Header{"retry-after": {"1"}, "retry-after-ms": {"776"}},
				Body: openAIError("Rate limit reached for gpt-4o in organization org-123 on tokens per min (TPM): Limit 30000, Used 29876, Requested 512. Please try again in 776ms.", "tokens", "", "rate_limit_exceeded")},
			Status: 429, Type: "tokens", Code: "rate_limit_exceeded", RetryAfter: 776 * time.Millisecond,
		}, {
			Name:   "server error",
			Reply:  providertest.Reply{Status: 500, Body: openAIError("The server had an error while processing your request. Sorry about that!", "server_error", "", "")},
			Status: 500, Type: "server_error",
		}, {
			Name:   "overloaded",
			Stream: true,
			Reply:  providertest.Reply{Status: 503, Header: http.Header{"retry-after": {"3"}}, Body: openAIError("The engine is currently overloaded, please try again later.", "server_error", "", "")},
			Status: 503, Type: "server_error", RetryAfter: 3 * time.Second,
		}, {
			Name:   "HTML from a proxy",
			Reply:  providertest.Reply{Status: 502, Header: http.Header{"Content-Type": {"text/html"}}, Body: []byte("<html><body><h1>502 Bad Gateway</h1></body></html>")},
			Status: 502, Type: "server_error",
		}, {
			Name:   "error event mid-stream",
			Stream: true,
			Reply: providertest.Reply{Body: append(bytes.Join(recordedStream(t)[:3], nil),
				`data: {"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`+"\n\n"...)},
			Status: 502, Type: "server_error",
		}, {
			Name:   "error event without a message",
			Stream: true,
			Reply:  providertest.Reply{Body: []byte(`data: {"error":{"code":"overloaded"}}` + "\n\n")},
			Status: 502, Type: "server_error", Code: "",
		}, {
			Name:   "malformed event",
			Stream: true,
			Reply:  providertest.Reply{Body: []byte("data: {\"id\":\"x\",\"choices\":[\n\ndata: [DONE]\n\n")},
			Status: 502, Type: "server_error", Code: "bad_upstream_response",
		}, {
			Name:   "stream answered with something else",
			Stream: true,
			Reply:  providertest.Reply{Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("hello")},
			Status: 502, Type: "server_error", Code: "bad_upstream_response",
		}},
	})
}

// serveOnce starts a server answering every request with status, header and
// body, and returns a Client for it.
func serveOnce(t *testing.T, status int, header http.Header, body []byte) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return New(Options{BaseURL: srv.URL, APIKey: providertest.APIKey})
}

// record starts a server that answers every request with the recorded
// completion after passing it and its body to seen, and returns its URL.
func record(t *testing.T, seen func(r *http.Request, body []byte)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen(r, body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(providertest.ReadFile(t, "testdata/chat.nonstream.response.json"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// send sends req with Stream, closing the stream at once, or with
// Complete, failing the test if the call fails.
func send(t *testing.T, c *Client, req *normalize.Request, stream bool) {
	t.Helper()
	if !stream {
		if _, err := c.Complete(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		return
	}
	st, err := c.Stream(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// TestStreamIgnored: a server that ignores stream:true and answers with a
// whole completion is served as a complete stream.
func TestStreamIgnored(t *testing.T) {
	for _, tc := range providertest.OpenAIChatCases(t, "testdata") {
		if tc.Stream {
			continue
		}
		t.Run(tc.Name, func(t *testing.T) {
			c := serveOnce(t, 200, http.Header{"Content-Type": {"application/json"}}, tc.Reply.Body)
			st, err := c.Stream(t.Context(), providertest.DefaultRequest("gpt-4o"))
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			chunks, err := providertest.Collect(t, st)
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			providertest.CheckResponse(t, providertest.Assemble(t, chunks), &tc.Want)
			if last := chunks[len(chunks)-1]; len(last.Choices) != 0 || last.Usage == nil {
				t.Errorf("last chunk = %+v, want usage only", last)
			}
		})
	}
}

// TestStreamEnd checks when a stream may end with io.EOF: at [DONE] once
// every choice has finished, or at a clean end of body once every choice has
// finished and usage has arrived. Every other end wraps io.ErrUnexpectedEOF.
func TestStreamEnd(t *testing.T) {
	events := recordedStream(t)
	n := len(events)
	join := func(parts ...[]byte) string { return string(bytes.Join(parts, nil)) }
	const (
		choice0 = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}]}` + "\n\n"
		choice1 = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":1,"delta":{"role":"assistant","content":"b"},"finish_reason":null}]}` + "\n\n"
		finish0 = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
		use     = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}` + "\n\n"
		done    = "data: [DONE]\n\n"
	)
	tests := []struct {
		name     string
		body     string
		complete bool
	}{
		{"recorded", join(events...), true},
		{"[DONE] without usage", join(events[:n-2]...) + done, true},
		{"[DONE] without a final blank line", join(events[:n-1]...) + "data: [DONE]", true},
		{"no [DONE], after usage", join(events[:n-1]...), true},
		{"no [DONE], after usage, CRLF", strings.ReplaceAll(join(events[:n-1]...), "\n", "\r\n"), true},
		{"no [DONE], after finish before usage", join(events[:n-2]...), false},
		{"no [DONE], before finish", join(events[:n-3]...), false},
		{"[DONE] before finish", join(events[:n-3]...) + done, false},
		{"empty body", "", false},
		{"only [DONE]", done, false},
		{"only usage", use, false},
		{"two choices, one unfinished, [DONE]", choice0 + choice1 + finish0 + use + done, false},
		{"two choices, one unfinished, usage", choice0 + choice1 + finish0 + use, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := providertest.Collect(t, newStream("openai", "", io.NopCloser(strings.NewReader(tc.body))))
			if tc.complete {
				if err != nil {
					t.Fatalf("stream ended with %v, want io.EOF", err)
				}
				return
			}
			if err == nil || errors.Is(err, io.EOF) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("stream ended with %v, want an error wrapping io.ErrUnexpectedEOF", err)
			}
			if _, ok := providers.AsError(err); ok {
				t.Errorf("truncation reported as an upstream error: %v", err)
			}
		})
	}
}

// TestStreamErrorSticky: after an error, Recv keeps returning it.
func TestStreamErrorSticky(t *testing.T) {
	body := `data: {"error":{"message":"boom","type":"server_error","param":"p","code":7}}` + "\n\n" + string(providertest.ReadFile(t, "testdata/chat.stream.sse"))
	st := newStream("openai", "", io.NopCloser(strings.NewReader(body)))
	defer st.Close()
	_, err1 := st.Recv()
	_, err2 := st.Recv()
	pe, ok := providers.AsError(err1)
	if !ok || err1 != err2 {
		t.Fatalf("Recv = %v, then %v; want the same *providers.Error", err1, err2)
	}
	if pe.Message != "boom" || pe.Param != "p" || pe.Code != "7" || pe.Status != 502 {
		t.Errorf("error = %+v", pe)
	}
}

func TestErrorFields(t *testing.T) {
	body := openAIError("Invalid value for 'temperature': expected a number between 0 and 2.", "invalid_request_error", "temperature", "invalid_value")
	_, err := serveOnce(t, 400, nil, body).Complete(t.Context(), providertest.DefaultRequest("gpt-4o"))
	pe, ok := providers.AsError(err)
	if !ok {
		t.Fatalf("err = %v, want *providers.Error", err)
	}
	want := providers.Error{Provider: "openai", Status: 400, Type: "invalid_request_error", Code: "invalid_value", Param: "temperature",
		Message: "Invalid value for 'temperature': expected a number between 0 and 2."}
	if *pe != want {
		t.Errorf("error = %+v\nwant %+v", *pe, want)
	}

	// A plain-text body is quoted, the key redacted.
	_, err = serveOnce(t, 502, nil, []byte("upstream connect error for key "+providertest.APIKey)).Complete(t.Context(), providertest.DefaultRequest("gpt-4o"))
	if pe, ok := providers.AsError(err); !ok || pe.Message != "upstream returned HTTP 502: upstream connect error for key [REDACTED]" {
		t.Errorf("err = %v", err)
	}
}

// TestTransportErrorHidesURL: transport errors lose the request URL (some
// compatible servers take keys in the path or query) but keep their cause.
func TestTransportErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL + "/secret-in-path"
	srv.Close()
	c := New(Options{BaseURL: base})
	_, err := c.Complete(t.Context(), providertest.DefaultRequest("gpt-4o"))
	if err == nil || strings.Contains(err.Error(), "secret-in-path") {
		t.Errorf("err = %v, want an error without the URL", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.Stream(ctx, providertest.DefaultRequest("gpt-4o"))
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "secret-in-path") {
		t.Errorf("err = %v, want context.Canceled without the URL", err)
	}
}

// TestRequestGolden checks the bodies and headers the adapter sends. The
// bodies are compared with testdata/request.NAME.golden (-update rewrites
// them); unknown fields and the client's spelling of the token limit must
// reach the upstream unchanged.
func TestRequestGolden(t *testing.T) {
	fixture := func(path string) string { return string(providertest.ReadFile(t, path)) }
	tests := []struct {
		name string
		in   string
		// passthrough lists members of in that must reach the upstream
		// with the same (JSON-equal) value.
		passthrough []string
		absent      []string
	}{
		{name: "chat.nonstream", in: fixture("testdata/chat.nonstream.request.json")},
		{name: "chat.stream", in: fixture("testdata/chat.stream.request.json")},
		{name: "chat.tools.nonstream", in: fixture("testdata/chat.tools.nonstream.request.json"), passthrough: []string{"tools"}},
		{name: "chat.tools.stream", in: fixture("testdata/chat.tools.stream.request.json")},
		{
			name:        "spec-example.image_input",
			in:          fixture("testdata/spec-example.image_input.request.json"),
			passthrough: []string{"max_tokens", "messages"},
			absent:      []string{"max_completion_tokens"},
		},
		{
			name: "passthrough",
			in: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_completion_tokens":64,"reasoning_effort":"low",` +
				`"x_vendor_option":{"b":[1,2.5,"x"],"a":true},"prediction":{"type":"content","content":"Hi"},"metadata":{"k":"v"},"store":true,"user":"u-1","seed":42}`,
			passthrough: []string{"max_completion_tokens", "reasoning_effort", "x_vendor_option", "prediction", "metadata", "store", "user", "seed"},
			absent:      []string{"max_tokens"},
		},
		{
			name: "passthrough.stream",
			in: `{"model":"llama-3.1-8b","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],` +
				`"max_tokens":16,"top_k":40,"repetition_penalty":1.1,"chat_template_kwargs":{"enable_thinking":false}}`,
			passthrough: []string{"max_tokens", "top_k", "repetition_penalty", "chat_template_kwargs"},
			absent:      []string{"max_completion_tokens"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := normalize.DecodeOpenAI([]byte(tc.in))
			if err != nil {
				t.Fatalf("DecodeOpenAI: %v", err)
			}
			var got []byte
			url := record(t, func(r *http.Request, body []byte) {
				got = body
				if r.URL.Path != "/v1/chat/completions" {
					t.Errorf("path = %s", r.URL.Path)
				}
			})
			send(t, New(Options{BaseURL: url + "/v1"}), req, req.Stream)
			providertest.Golden(t, "testdata/request."+tc.name+".golden", got, *update)

			var in, sent map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tc.in), &in); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &sent); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.passthrough {
				if !jsonEqual(t, in[k], sent[k]) {
					t.Errorf("%s = %s, want %s", k, sent[k], in[k])
				}
			}
			for _, k := range tc.absent {
				if _, ok := sent[k]; ok {
					t.Errorf("%s sent: %s", k, sent[k])
				}
			}
			if !jsonEqual(t, in["model"], sent["model"]) {
				t.Errorf("model = %s, want %s", sent["model"], in["model"])
			}
			if req.Stream {
				if string(sent["stream"]) != "true" || !jsonEqual(t, sent["stream_options"], []byte(`{"include_usage":true}`)) {
					t.Errorf("stream request sent stream=%s stream_options=%s, want true and include_usage", sent["stream"], sent["stream_options"])
				}
			} else if _, ok := sent["stream"]; ok {
				t.Errorf("non-stream request sent stream=%s", sent["stream"])
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		t.Fatalf("not JSON: %s / %s", a, b)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

func TestHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		stream    bool
	}{
		{"with key", "sk-abc", false},
		{"with key, stream", "sk-abc", true},
		{"without key", "", false},
		{"without key, stream", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h http.Header
			url := record(t, func(r *http.Request, _ []byte) { h = r.Header.Clone() })
			extra := http.Header{"openai-organization": {"org-1"}, "OpenAI-Project": {"proj_1"}, "X-Multi": {"a", "b"}}
			c := New(Options{BaseURL: url, APIKey: tc.key, Header: extra})
			extra.Set("OpenAI-Project", "changed after New")
			send(t, c, providertest.DefaultRequest("gpt-4o"), tc.stream)
			auth, hasAuth := h["Authorization"]
			switch {
			case tc.key != "" && (len(auth) != 1 || auth[0] != "Bearer "+tc.key):
				t.Errorf("Authorization = %q, want Bearer %s", auth, tc.key)
			case tc.key == "" && hasAuth:
				t.Errorf("Authorization = %q sent without a key", auth)
			}
			if got := h.Get("OpenAI-Organization"); got != "org-1" {
				t.Errorf("OpenAI-Organization = %q", got)
			}
			if got := h.Get("OpenAI-Project"); got != "proj_1" {
				t.Errorf("OpenAI-Project = %q, want the value given to New", got)
			}
			if got := h.Values("X-Multi"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
				t.Errorf("X-Multi = %q", got)
			}
			if got := h.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			wantAccept := "application/json"
			if tc.stream {
				wantAccept = "text/event-stream"
			}
			if got := h.Get("Accept"); got != wantAccept {
				t.Errorf("Accept = %q, want %q", got, wantAccept)
			}
		})
	}
}
