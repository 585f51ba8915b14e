// Package providertest is the conformance suite every provider adapter runs
// against recorded upstream payloads served by httptest.
//
// An adapter's test builds a Suite and calls Run:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, providertest.Suite{
//			New: func(baseURL, apiKey string) providers.Provider {
//				return anthropic.New(anthropic.Options{BaseURL: baseURL, APIKey: apiKey})
//			},
//			Model:      "claude-haiku-4-5",
//			AuthHeader: "x-api-key", // OpenAI: "Authorization" with AuthPrefix "Bearer "
//			Cases: []providertest.Case{{
//				Name:   "text",
//				Reply:  providertest.ReplyFile(t, "testdata/messages.nonstream.response.json"),
//				Want:   providertest.Want{Content: "…", FinishReason: "stop"},
//			}, {
//				Name:   "stream",
//				Stream: true,
//				Reply:  providertest.ReplyFile(t, "testdata/messages.stream.sse"),
//				Want:   providertest.Want{Content: "[12345,67890]", FinishReason: "stop", Usage: providertest.Usage(135, 10)},
//			}},
//			Errors: []providertest.ErrorCase{{
//				Name:       "rate limited",
//				Reply:      providertest.Reply{Status: 429, Header: http.Header{"Retry-After": {"7"}}, Body: …},
//				Status:     429,
//				Type:       "rate_limit_error",
//				RetryAfter: 7 * time.Second,
//			}},
//		})
//	}
//
// For every request the suite checks the method (POST), a JSON request body
// with Content-Type application/json, the auth header, and Suite.Check if
// set. Then, as subtests:
//
//   - case/NAME: Complete (or Stream, assembled with normalize.Assembler)
//     returns Want: content and tool calls compared exactly (streamed
//     arguments concatenated), and finish reason, usage, id and model where
//     set. Streams must give the first chunk of each choice role
//     "assistant", end with a usage-only chunk (no choices) when Want.Usage
//     is set, return io.EOF again after io.EOF, and tolerate Close twice.
//   - error/NAME: the call fails with a *providers.Error carrying Status,
//     Type, Code (when set) and RetryAfter, naming its provider, and no error
//     message contains the API key.
//   - truncated/NAME, for every streaming case: the recorded stream cut at
//     every event boundary before the last event, and cut inside every
//     event (once ending the body cleanly, once aborting the connection),
//     must fail with an error that is not io.EOF, from Stream or from Recv.
//     So an adapter returns io.EOF only after the provider's terminal event
//     (OpenAI "data: [DONE]", Anthropic message_stop, Gemini the final
//     finishReason chunk followed by the end of the body). With
//     Suite.TerminalOptional, io.EOF is also accepted when the chunks
//     received so far assemble into a complete answer.
//   - cancel/NAME, for every streaming case: the server sends the first half
//     of the events and then waits; the client's context is cancelled; Recv
//     must return an error that is not io.EOF (it cannot block, since the
//     server never sends more), and the server must see its request context
//     done, proving the connection was released.
//
// Events in a recorded stream are separated by a blank line ("\n\n" or
// "\r\n\r\n"); the server sends them one by one, flushing after each.
package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// APIKey is the key the suite hands to Suite.New. It must never appear in an
// error message.
const APIKey = "sk-providertest-0123456789-SECRET"

// guard bounds how long the suite waits for something that must happen. It
// is a deadlock guard, not a timing assertion: passing code never comes close.
const guard = time.Minute

// Reply is one recorded upstream answer.
type Reply struct {
	Status int         // 0 means 200
	Header http.Header // response headers; Content-Type defaults to text/event-stream for streams and application/json otherwise
	Body   []byte      // a JSON body, or an SSE stream sent event by event
}

// Want is what the adapter must make of a Reply.
type Want struct {
	Content      string               // the assistant text of choice 0, compared exactly ("" means no text)
	ToolCalls    []normalize.ToolCall // compared exactly: Name and Arguments always, ID when set here, Type "function"
	FinishReason string               // "" = not checked
	Usage        *normalize.Usage     // nil = not checked; prompt, completion and total tokens compared
	ID, Model    string               // "" = not checked
}

// Case is a successful exchange.
type Case struct {
	Name    string
	Request *normalize.Request // nil: DefaultRequest(Suite.Model)
	Stream  bool               // call Stream and assemble the chunks, else Complete
	Reply   Reply
	Want    Want
}

// ErrorCase is an exchange that must fail with a *providers.Error.
type ErrorCase struct {
	Name       string
	Request    *normalize.Request // nil: DefaultRequest(Suite.Model)
	Stream     bool               // the error may then come from Stream or from Recv
	Reply      Reply
	Status     int
	Type       string
	Code       string // "" = not checked
	RetryAfter time.Duration
}

// Suite describes an adapter under test.
type Suite struct {
	// New returns the adapter talking to baseURL (the httptest server's
	// URL, no trailing slash) with apiKey.
	New        func(baseURL, apiKey string) providers.Provider
	Model      string // model of default requests
	AuthHeader string // header carrying the key, e.g. "x-api-key"
	AuthPrefix string // prefix before the key in that header, e.g. "Bearer "
	// Check, if set, inspects every request the adapter sends (path,
	// query, body); stream tells which call sent it.
	Check func(t testing.TB, r *http.Request, body []byte, stream bool)
	// TerminalOptional relaxes the truncation check for providers whose
	// terminal event some compatible servers omit (OpenAI's "[DONE]"): a
	// cut stream may then end with io.EOF if what arrived assembles into a
	// complete answer, with usage when the case wants usage. Without it, a
	// cut stream must always fail.
	TerminalOptional bool
	Cases            []Case
	Errors           []ErrorCase
}

// DefaultRequest is a one-turn text request for model.
func DefaultRequest(model string) *normalize.Request {
	return &normalize.Request{
		Model:    model,
		Messages: []normalize.Message{{Role: normalize.RoleUser, Content: []normalize.Part{{Type: normalize.PartText, Text: "Hello"}}}},
	}
}

// ReadFile returns the file's bytes or fails the test.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ReplyFile is a 200 Reply whose body is the file at path.
func ReplyFile(t testing.TB, path string) Reply {
	t.Helper()
	return Reply{Body: ReadFile(t, path)}
}

// Usage is a Usage with the given prompt and completion tokens and their
// sum as total, as Want.Usage compares it.
func Usage(prompt, completion int) *normalize.Usage {
	return &normalize.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// DecodeOpenAI decodes an OpenAI chat-completions request body or fails
// the test.
func DecodeOpenAI(t testing.TB, body string) *normalize.Request {
	t.Helper()
	r, err := normalize.DecodeOpenAI([]byte(body))
	if err != nil {
		t.Fatalf("DecodeOpenAI: %v", err)
	}
	return r
}

// OpenAIChatCases are the cases for the recorded OpenAI chat-completions
// bodies that every adapter speaking OpenAI's wire format keeps in dir
// (chat.nonstream.response.json, chat.tools.nonstream.response.json,
// chat.stream.sse, chat.tools.stream.sse), in that order: "text", "tool
// calls", "stream" and "stream tool calls".
func OpenAIChatCases(t testing.TB, dir string) []Case {
	t.Helper()
	const (
		// The streamed answer was recorded from a separate call.
		text     = "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, I recommend checking a reliable weather website or app like the Weather Channel or a local news station."
		streamed = "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, I recommend checking a reliable weather website or a weather app."
	)
	return []Case{{
		Name:  "text",
		Reply: ReplyFile(t, dir+"/chat.nonstream.response.json"),
		Want:  Want{Content: text, FinishReason: "stop", Usage: Usage(14, 37), ID: "chatcmpl-ABfvaueLEMLNYbT8YzpJxsmiQ6HSY", Model: "gpt-4o-2024-08-06"},
	}, {
		Name:  "tool calls",
		Reply: ReplyFile(t, dir+"/chat.tools.nonstream.response.json"),
		Want: Want{
			ToolCalls:    []normalize.ToolCall{{ID: "call_CUdUoJpsWWVdxXntucvnol1M", Name: "get_weather", Arguments: `{"city":"San Francisco","state":"CA"}`}},
			FinishReason: "tool_calls",
			Usage:        Usage(48, 19),
		},
	}, {
		Name:   "stream",
		Stream: true,
		Reply:  ReplyFile(t, dir+"/chat.stream.sse"),
		Want:   Want{Content: streamed, FinishReason: "stop", Usage: Usage(14, 30), ID: "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL", Model: "gpt-4o-2024-08-06"},
	}, {
		Name:   "stream tool calls",
		Stream: true,
		Reply:  ReplyFile(t, dir+"/chat.tools.stream.sse"),
		Want: Want{
			ToolCalls:    []normalize.ToolCall{{ID: "call_4XzlGBLtUe9dy3GVNV4jhq7h", Name: "get_weather", Arguments: `{"city":"New York City"}`}},
			FinishReason: "tool_calls",
			Usage:        Usage(44, 16),
		},
	}}
}

// Run runs the suite as subtests of t.
func Run(t *testing.T, s Suite) {
	if s.New == nil || s.AuthHeader == "" {
		t.Fatal("providertest: Suite.New and Suite.AuthHeader are required")
	}
	for _, c := range s.Cases {
		t.Run("case/"+c.Name, func(t *testing.T) { runCase(t, &s, &c) })
	}
	for _, c := range s.Errors {
		t.Run("error/"+c.Name, func(t *testing.T) { runError(t, &s, &c) })
	}
	for _, c := range s.Cases {
		if !c.Stream {
			continue
		}
		t.Run("truncated/"+c.Name, func(t *testing.T) { runTruncated(t, &s, &c) })
		t.Run("cancel/"+c.Name, func(t *testing.T) { runCancel(t, &s, &c) })
	}
}

// serve starts a server that checks each request and then calls reply.
func serve(t *testing.T, s *Suite, stream bool, reply func(w http.ResponseWriter, r *http.Request)) providers.Provider {
	t.Helper()
	return s.New(startServer(t, s, stream, reply), APIKey)
}

// startServer starts serve's server and returns its URL.
func startServer(t *testing.T, s *Suite, stream bool, reply func(w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading request body: %v", err)
		}
		checkRequest(t, s, r, body, stream)
		reply(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func checkRequest(t *testing.T, s *Suite, r *http.Request, body []byte, stream bool) {
	if r.Method != http.MethodPost {
		t.Errorf("request method = %s, want POST", r.Method)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("request Content-Type = %q, want application/json", r.Header.Get("Content-Type"))
	}
	if !json.Valid(body) {
		t.Errorf("request body is not JSON: %.200s", body)
	}
	if got, want := r.Header.Get(s.AuthHeader), s.AuthPrefix+APIKey; got != want {
		t.Errorf("request header %s = %q, want %q", s.AuthHeader, got, want)
	}
	if strings.Contains(r.URL.String(), APIKey) {
		t.Errorf("request URL %s carries the API key", r.URL)
	}
	if s.Check != nil {
		s.Check(t, r, body, stream)
	}
}

func writeHeader(w http.ResponseWriter, rp *Reply, stream bool) {
	for k, v := range rp.Header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		if stream && (rp.Status == 0 || rp.Status == http.StatusOK) {
			w.Header().Set("Content-Type", "text/event-stream")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
	}
	status := rp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

// writeEvents sends events flushing after each.
func writeEvents(w http.ResponseWriter, events [][]byte) {
	f, _ := w.(http.Flusher)
	for _, e := range events {
		w.Write(e)
		if f != nil {
			f.Flush()
		}
	}
}

func replyWith(rp Reply, stream bool) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		writeHeader(w, &rp, stream)
		if stream {
			writeEvents(w, SplitEvents(rp.Body))
		} else {
			w.Write(rp.Body)
		}
	}
}

func request(model string, r *normalize.Request) *normalize.Request {
	if r != nil {
		return r
	}
	return DefaultRequest(model)
}

func runCase(t *testing.T, s *Suite, c *Case) {
	p := serve(t, s, c.Stream, replyWith(c.Reply, c.Stream))
	req := request(s.Model, c.Request)
	var resp *normalize.Response
	if c.Stream {
		st, err := p.Stream(t.Context(), req)
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		chunks, err := Collect(t, st)
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		checkChunks(t, chunks, c.Want.Usage != nil)
		resp = Assemble(t, chunks)
	} else {
		var err error
		if resp, err = p.Complete(t.Context(), req); err != nil {
			t.Fatalf("Complete: %v", err)
		}
	}
	CheckResponse(t, resp, &c.Want)
}

// Collect reads st to its end, closes it and returns the chunks, with the
// error that ended it (nil for io.EOF). It checks that Recv keeps returning
// io.EOF after io.EOF and that Close may be called twice.
func Collect(t testing.TB, st normalize.Stream) ([]normalize.Chunk, error) {
	t.Helper()
	defer st.Close()
	var chunks []normalize.Chunk
	for {
		c, err := st.Recv()
		if err == io.EOF {
			if c2, err2 := st.Recv(); err2 != io.EOF {
				t.Errorf("Recv after io.EOF = %v, %v; want nil, io.EOF", c2, err2)
			}
			st.Close()
			return chunks, nil
		}
		if err != nil {
			return chunks, err
		}
		if c == nil {
			t.Fatal("Recv returned a nil chunk and no error")
		}
		chunks = append(chunks, *c)
	}
}

// Assemble assembles chunks into the response they stream, or fails the
// test.
func Assemble(t testing.TB, chunks []normalize.Chunk) *normalize.Response {
	t.Helper()
	r, err := assemble(chunks)
	if err != nil {
		t.Fatalf("assembling the stream: %v", err)
	}
	return r
}

func assemble(chunks []normalize.Chunk) (*normalize.Response, error) {
	var a normalize.Assembler
	for i := range chunks {
		a.Add(&chunks[i])
	}
	return a.Response()
}

// CollectResponse reads st to its end with Collect and assembles the
// response, failing the test if the stream or the assembly fails.
func CollectResponse(t testing.TB, st normalize.Stream) *normalize.Response {
	t.Helper()
	chunks, err := Collect(t, st)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return Assemble(t, chunks)
}

// checkChunks checks the OpenAI shape of a stream: the first delta of each
// choice has role assistant and, if usage is expected, the last chunk is a
// usage-only one.
func checkChunks(t testing.TB, chunks []normalize.Chunk, wantUsage bool) {
	t.Helper()
	seen := map[int]bool{}
	for i, c := range chunks {
		for _, cc := range c.Choices {
			if !seen[cc.Index] {
				seen[cc.Index] = true
				if cc.Delta.Role != normalize.RoleAssistant {
					t.Errorf("chunk %d: first delta of choice %d has role %q, want assistant", i, cc.Index, cc.Delta.Role)
				}
			}
		}
	}
	if !wantUsage {
		return
	}
	if len(chunks) == 0 {
		t.Fatal("stream has no chunks")
	}
	last := chunks[len(chunks)-1]
	if len(last.Choices) != 0 || last.Usage == nil {
		t.Errorf("last chunk has %d choices and usage %v; want a usage-only chunk", len(last.Choices), last.Usage)
	}
}

// CheckResponse compares r with want (see Want for what is compared).
func CheckResponse(t testing.TB, r *normalize.Response, want *Want) {
	t.Helper()
	if len(r.Choices) == 0 {
		t.Fatal("response has no choices")
	}
	ch := &r.Choices[0]
	m := &ch.Message
	if m.Role != normalize.RoleAssistant {
		t.Errorf("role = %q, want assistant", m.Role)
	}
	if got := m.Text(); got != want.Content {
		t.Errorf("content = %q\nwant %q", got, want.Content)
	}
	if len(m.ToolCalls) != len(want.ToolCalls) {
		t.Errorf("got %d tool calls %+v, want %d %+v", len(m.ToolCalls), m.ToolCalls, len(want.ToolCalls), want.ToolCalls)
	} else {
		for i, wc := range want.ToolCalls {
			gc := m.ToolCalls[i]
			if gc.Name != wc.Name || gc.Arguments != wc.Arguments || gc.Type != "function" || (wc.ID != "" && gc.ID != wc.ID) {
				t.Errorf("tool call %d = %+v, want %+v (type function)", i, gc, wc)
			}
			if gc.ID == "" {
				t.Errorf("tool call %d has no id", i)
			}
		}
	}
	if want.FinishReason != "" && ch.FinishReason != want.FinishReason {
		t.Errorf("finish reason = %q, want %q", ch.FinishReason, want.FinishReason)
	}
	if want.ID != "" && r.ID != want.ID {
		t.Errorf("id = %q, want %q", r.ID, want.ID)
	}
	if want.Model != "" && r.Model != want.Model {
		t.Errorf("model = %q, want %q", r.Model, want.Model)
	}
	if wu := want.Usage; wu != nil {
		u := r.Usage
		switch {
		case u == nil:
			t.Errorf("usage = nil, want %+v", *wu)
		case u.PromptTokens != wu.PromptTokens || u.CompletionTokens != wu.CompletionTokens || u.TotalTokens != wu.TotalTokens:
			t.Errorf("usage = %d/%d/%d, want %d/%d/%d (prompt/completion/total)",
				u.PromptTokens, u.CompletionTokens, u.TotalTokens, wu.PromptTokens, wu.CompletionTokens, wu.TotalTokens)
		}
	}
}

func runError(t *testing.T, s *Suite, c *ErrorCase) {
	p := serve(t, s, c.Stream, replyWith(c.Reply, c.Stream))
	req := request(s.Model, c.Request)
	var err error
	if c.Stream {
		var st normalize.Stream
		if st, err = p.Stream(t.Context(), req); err == nil {
			_, err = Collect(t, st)
		}
	} else {
		_, err = p.Complete(t.Context(), req)
	}
	if err == nil {
		t.Fatal("call succeeded, want an error")
	}
	if strings.Contains(err.Error(), APIKey) {
		t.Errorf("error %q contains the API key", err)
	}
	pe, ok := providers.AsError(err)
	if !ok {
		t.Fatalf("error = %v (%T), want a *providers.Error", err, err)
	}
	if pe.Provider == "" {
		t.Error("providers.Error.Provider is empty")
	}
	if pe.Message == "" {
		t.Error("providers.Error.Message is empty")
	}
	if pe.Status != c.Status || pe.Type != c.Type || (c.Code != "" && pe.Code != c.Code) || pe.RetryAfter != c.RetryAfter {
		t.Errorf("error = {Status:%d Type:%q Code:%q RetryAfter:%v}, want {Status:%d Type:%q Code:%q RetryAfter:%v}",
			pe.Status, pe.Type, pe.Code, pe.RetryAfter, c.Status, c.Type, c.Code, c.RetryAfter)
	}
}

// runTruncated serves every strict prefix of the stream, and every event
// cut in half, and requires an error that is not io.EOF.
func runTruncated(t *testing.T, s *Suite, c *Case) {
	events := SplitEvents(c.Reply.Body)
	try := func(name string, body [][]byte, abort bool) {
		t.Helper()
		p := serve(t, s, true, func(w http.ResponseWriter, r *http.Request) {
			writeHeader(w, &c.Reply, true)
			writeEvents(w, body)
			if abort {
				panic(http.ErrAbortHandler) // drop the connection mid-body
			}
		})
		chunks, err := streamErr(t, p, request(s.Model, c.Request))
		if err == nil && s.TerminalOptional && complete(chunks, c.Want.Usage != nil) {
			return
		}
		if err == nil || errors.Is(err, io.EOF) {
			t.Errorf("%s: stream ended with %v, want an error other than io.EOF", name, err)
		}
	}
	for k := 0; k < len(events); k++ {
		try(fmt.Sprintf("first %d of %d events", k, len(events)), events[:k], false)
		half := events[k][:len(bytes.TrimRight(events[k], "\r\n"))/2]
		cut := append(events[:k:k], half)
		try(fmt.Sprintf("event %d cut, clean end", k), cut, false)
		try(fmt.Sprintf("event %d cut, aborted", k), cut, true)
	}
}

// streamErr runs a stream to its end and returns its chunks and what ended
// it: nil for io.EOF, else the error from Stream or Recv.
func streamErr(t *testing.T, p providers.Provider, req *normalize.Request) ([]normalize.Chunk, error) {
	st, err := p.Stream(t.Context(), req)
	if err != nil {
		return nil, err
	}
	return Collect(t, st)
}

// complete reports whether chunks make a whole answer.
func complete(chunks []normalize.Chunk, wantUsage bool) bool {
	r, err := assemble(chunks)
	return err == nil && (!wantUsage || r.Usage != nil)
}

func runCancel(t *testing.T, s *Suite, c *Case) {
	events := SplitEvents(c.Reply.Body)
	probe := newCancelProbe()
	p := serve(t, s, true, func(w http.ResponseWriter, r *http.Request) {
		writeHeader(w, &c.Reply, true)
		writeEvents(w, events[:max(1, len(events)/2)])
		probe.hold(t, r)
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st, err := p.Stream(ctx, request(s.Model, c.Request))
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	defer st.Close()
	probe.cancelWhenHeld(cancel)
	for {
		_, err = st.Recv()
		if err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		t.Fatalf("Recv after cancel = %v, want an error other than io.EOF", err)
	}
	probe.check(t)
}

// cancelProbe is a fake upstream's view of a client that cancels: the
// handler holds the request once it has sent what it sends, the client
// cancels then, and check fails the test unless the cancellation reached
// the server.
type cancelProbe struct{ held, done chan struct{} }

func newCancelProbe() *cancelProbe {
	return &cancelProbe{held: make(chan struct{}), done: make(chan struct{})}
}

// hold runs in the handler: it waits for the request's context to end.
func (c *cancelProbe) hold(t *testing.T, r *http.Request) {
	close(c.held)
	select {
	case <-r.Context().Done():
		close(c.done)
	case <-time.After(guard):
		t.Error("server: request context never done after the client cancelled")
	}
}

// cancelWhenHeld calls cancel once the handler holds the request.
func (c *cancelProbe) cancelWhenHeld(cancel context.CancelFunc) {
	go func() {
		<-c.held
		cancel()
	}()
}

func (c *cancelProbe) check(t *testing.T) {
	select {
	case <-c.done:
	case <-time.After(guard):
		t.Fatal("server never saw its request context done")
	}
}

// SplitEvents splits a recorded SSE body into events, each keeping its
// terminating blank line. Leading blank lines are dropped; a final event
// without a terminator is kept as it is.
func SplitEvents(body []byte) [][]byte {
	var events [][]byte
	for len(body) > 0 {
		trimmed := bytes.TrimLeft(body, "\r\n")
		if len(trimmed) == 0 {
			break
		}
		if len(events) > 0 {
			// Blank lines between events belong to the previous one.
			last := &events[len(events)-1]
			*last = append(*last, body[:len(body)-len(trimmed)]...)
		}
		body = trimmed
		end := len(body)
		for _, sep := range []string{"\r\n\r\n", "\n\n", "\r\r"} {
			if i := bytes.Index(body, []byte(sep)); i >= 0 {
				end = min(end, i+len(sep))
			}
		}
		events = append(events, bytes.Clone(body[:end]))
		body = body[end:]
	}
	return events
}

// Golden compares got with the file at path, or rewrites the file when
// update is set (adapters wire update to an -update test flag). A JSON got
// is indented first so golden files read well and diff by line.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if json.Valid(got) {
		var b bytes.Buffer
		if err := json.Indent(&b, got, "", "  "); err != nil {
			t.Fatal(err)
		}
		b.WriteByte('\n')
		got = b.Bytes()
	}
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
