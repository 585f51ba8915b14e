// Package fakeopenai is an httptest upstream that speaks OpenAI's real
// chat-completions wire format, for tests. By default it answers with
// recorded OpenAI payloads (testdata, from openai-python's recorded live
// responses); in Echo mode each answer repeats the last user message, so
// different prompts get different answers. It counts calls and can fail,
// stall, block or cut streams on demand.
package fakeopenai

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

//go:embed testdata/*.json testdata/*.sse
var fixtures embed.FS

// Fixture returns a recorded payload by file name.
func Fixture(name string) []byte {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		panic(err)
	}
	return b
}

// Fixture texts, for assertions. The recorded stream and non-stream answers
// differ, as two live calls did.
const (
	TextAnswer       = "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, I recommend checking a reliable weather website or app like the Weather Channel or a local news station."
	StreamTextAnswer = "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, I recommend checking a reliable weather website or a weather app."
	ToolArgs         = `{"city":"San Francisco","state":"CA"}`
	StreamToolArgs   = `{"city":"New York City"}`
)

// Failure makes the upstream answer with an error.
type Failure struct {
	Status     int
	Body       string // default: OpenAI error JSON for the status
	RetryAfter string // Retry-After header
}

// Server is a fake OpenAI upstream. Configure it before sending requests,
// or under its own locking via the Set methods.
type Server struct {
	*httptest.Server
	calls  atomic.Int64
	active atomic.Int64 // calls being answered now

	mu       sync.Mutex
	echo     bool
	failures []Failure     // consumed one per call
	gate     chan struct{} // when set, calls block until it is closed
	cut      int           // when > 0, streams stop after this many events, without [DONE]
	delay    time.Duration // between stream events
	bodies   [][]byte      // request bodies received
	headers  []http.Header // request headers received
	urls     []string      // request URIs (path and query) received
	arrived  chan struct{} // receives one value per call, if set
}

// New starts a fake upstream; it is closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

// BaseURL is the API root to configure as OPENAI_BASE_URL.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Calls is how many chat-completion requests arrived.
func (s *Server) Calls() int { return int(s.calls.Load()) }

// SetEcho switches to answers that repeat the last user message.
func (s *Server) SetEcho(on bool) { s.mu.Lock(); s.echo = on; s.mu.Unlock() }

// FailNext queues failures for the next calls, in order.
func (s *Server) FailNext(f ...Failure) {
	s.mu.Lock()
	s.failures = append(s.failures, f...)
	s.mu.Unlock()
}

// Block makes calls wait until the returned release function is called.
func (s *Server) Block() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.gate = ch
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// Arrivals returns a channel that receives once per call as it arrives.
func (s *Server) Arrivals() <-chan struct{} {
	ch := make(chan struct{}, 1024)
	s.mu.Lock()
	s.arrived = ch
	s.mu.Unlock()
	return ch
}

// CutStreamsAfter makes streams end abruptly after n events (0: never).
func (s *Server) CutStreamsAfter(n int) { s.mu.Lock(); s.cut = n; s.mu.Unlock() }

// Active is the number of calls being answered now (a cancelled call ends
// as soon as the fake notices: at once while blocked or between events).
func (s *Server) Active() int { return int(s.active.Load()) }

// SetStreamDelay spaces stream events by d.
func (s *Server) SetStreamDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// Requests returns copies of the request bodies received so far.
func (s *Server) Requests() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

// URLs returns the request URIs (path and query) received so far.
func (s *Server) URLs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.urls...)
}

// Headers returns the request headers received so far.
func (s *Server) Headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...)
}

type request struct {
	Stream   bool              `json:"stream"`
	Tools    []json.RawMessage `json:"tools"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/models" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1,"owned_by":"openai"}]}`)
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/v1/completions" {
		s.legacy(w, r)
		return
	}
	// Any path ending in /chat/completions: OpenAI (/v1/...) and Azure
	// (/openai/deployments/NAME/...) alike.
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	s.calls.Add(1)
	s.active.Add(1)
	defer s.active.Add(-1)
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.headers = append(s.headers, r.Header.Clone())
	s.urls = append(s.urls, r.URL.RequestURI())
	var fail *Failure
	if len(s.failures) > 0 {
		fail = &s.failures[0]
		s.failures = s.failures[1:]
	}
	gate, echo, cut, delay, arrived := s.gate, s.echo, s.cut, s.delay, s.arrived
	s.mu.Unlock()
	if arrived != nil {
		arrived <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if fail != nil {
		writeFailure(w, *fail)
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		writeFailure(w, Failure{Status: 400, Body: `{"error":{"message":"We could not parse the JSON body of your request.","type":"invalid_request_error","param":null,"code":null}}`})
		return
	}
	tools := len(req.Tools) > 0
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case tools:
			w.Write(Fixture("chat.tools.nonstream.response.json"))
		case echo:
			w.Write(echoResponse(lastUser(req)))
		default:
			w.Write(Fixture("chat.nonstream.response.json"))
		}
		return
	}
	var events [][]byte
	switch {
	case tools:
		events = splitSSE(Fixture("chat.tools.stream.sse"))
	case echo:
		events = echoStream(lastUser(req))
	default:
		events = splitSSE(Fixture("chat.stream.sse"))
	}
	if req.StreamOptions == nil || !req.StreamOptions.IncludeUsage {
		events = withoutUsage(events)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	for i, ev := range events {
		if cut > 0 && i >= cut {
			// Abort the connection mid-stream, as a crashed upstream would.
			panic(http.ErrAbortHandler)
		}
		if delay > 0 && i > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Write(ev)
		w.Write([]byte("\n\n"))
		fl.Flush()
	}
}

// legacy answers POST /v1/completions (legacy text completions) with the
// echo answer to the prompt, as JSON or as a stream ending in [DONE].
func (s *Server) legacy(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.calls.Add(1)
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.headers = append(s.headers, r.Header.Clone())
	s.urls = append(s.urls, r.URL.RequestURI())
	s.mu.Unlock()
	var req struct {
		Prompt json.RawMessage `json:"prompt"`
		Stream bool            `json:"stream"`
	}
	var prompt string
	if json.Unmarshal(body, &req) != nil || json.Unmarshal(req.Prompt, &prompt) != nil {
		writeFailure(w, Failure{Status: 400, Body: `{"error":{"message":"prompt must be a string","type":"invalid_request_error","param":"prompt","code":null}}`})
		return
	}
	text, _ := json.Marshal(EchoAnswer(prompt))
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"cmpl-fake","object":"text_completion","created":1,"model":"gpt-3.5-turbo-instruct","choices":[{"text":%s,"index":0,"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}`, text)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprintf(w, "data: {\"id\":\"cmpl-fake\",\"object\":\"text_completion\",\"created\":1,\"model\":\"gpt-3.5-turbo-instruct\",\"choices\":[{\"text\":%s,\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}\n\n", text)
	io.WriteString(w, "data: {\"id\":\"cmpl-fake\",\"object\":\"text_completion\",\"created\":1,\"model\":\"gpt-3.5-turbo-instruct\",\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n")
	io.WriteString(w, "data: {\"id\":\"cmpl-fake\",\"object\":\"text_completion\",\"created\":1,\"model\":\"gpt-3.5-turbo-instruct\",\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3,\"total_tokens\":5}}\n\n")
	io.WriteString(w, "data: [DONE]\n\n")
}

func writeFailure(w http.ResponseWriter, f Failure) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	body := f.Body
	if body == "" {
		typ := "server_error"
		switch {
		case f.Status == 429:
			typ = "rate_limit_exceeded"
		case f.Status < 500:
			typ = "invalid_request_error"
		}
		body = fmt.Sprintf(`{"error":{"message":"fake upstream failure %d","type":%q,"param":null,"code":"fake_%d"}}`, f.Status, typ, f.Status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	io.WriteString(w, body)
}

func lastUser(req request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role != "user" {
			continue
		}
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			return s
		}
		var parts []struct {
			Text string `json:"text"`
		}
		json.Unmarshal(m.Content, &parts)
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

// EchoAnswer is the Echo-mode answer to a prompt.
func EchoAnswer(prompt string) string { return "echo: " + prompt }

func echoResponse(prompt string) []byte {
	content, _ := json.Marshal(EchoAnswer(prompt))
	return []byte(`{"id":"chatcmpl-echo","object":"chat.completion","created":1727346142,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":` +
		string(content) + `,"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15},"system_fingerprint":"fp_echo"}`)
}

func echoStream(prompt string) [][]byte {
	head := `data: {"id":"chatcmpl-echo","object":"chat.completion.chunk","created":1727346142,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_echo","choices":[{"index":0,"delta":`
	var evs [][]byte
	evs = append(evs, []byte(head+`{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`))
	for _, piece := range strings.SplitAfter(EchoAnswer(prompt), " ") {
		c, _ := json.Marshal(piece)
		evs = append(evs, []byte(head+`{"content":`+string(c)+`},"logprobs":null,"finish_reason":null}]}`))
	}
	evs = append(evs, []byte(head+`{},"logprobs":null,"finish_reason":"stop"}]}`))
	evs = append(evs, []byte(`data: {"id":"chatcmpl-echo","object":"chat.completion.chunk","created":1727346142,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_echo","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`))
	evs = append(evs, []byte("data: [DONE]"))
	return evs
}

func splitSSE(b []byte) [][]byte {
	var out [][]byte
	for _, ev := range bytes.Split(bytes.TrimSpace(b), []byte("\n\n")) {
		if ev = bytes.TrimSpace(ev); len(ev) > 0 {
			out = append(out, ev)
		}
	}
	return out
}

func withoutUsage(events [][]byte) [][]byte {
	out := events[:0:0]
	for _, ev := range events {
		if bytes.Contains(ev, []byte(`"choices":[]`)) && bytes.Contains(ev, []byte(`"usage"`)) {
			continue
		}
		out = append(out, ev)
	}
	return out
}
