// Package upstream is a simulated OpenAI-compatible chat completions server
// for benchmarks: real wire format, configurable latency and streaming, and
// counters that tell how many calls actually reached it.
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Dist names a latency distribution.
type Dist string

// Latency distributions.
const (
	Fixed   Dist = "fixed"   // always Base
	Uniform Dist = "uniform" // uniform in [Base-Jitter, Base+Jitter]
	Normal  Dist = "normal"  // normal with mean Base and standard deviation Jitter
)

// Latency is the delay before the response headers, i.e. the time to the
// first token. The zero value means no delay.
type Latency struct {
	Base   time.Duration
	Jitter time.Duration
	Dist   Dist // "" is Fixed when Jitter is 0, Normal otherwise
}

// Sample draws one delay, never negative. Safe for concurrent use.
func (l Latency) Sample() time.Duration {
	if l.Jitter <= 0 {
		return max(l.Base, 0)
	}
	var d time.Duration
	switch l.Dist {
	case Fixed:
		d = l.Base
	case Uniform:
		d = l.Base - l.Jitter + time.Duration(rand.Int64N(int64(2*l.Jitter)+1))
	default:
		d = l.Base + time.Duration(rand.NormFloat64()*float64(l.Jitter))
	}
	return max(d, 0)
}

// String prints the latency as a flag would spell it.
func (l Latency) String() string {
	if l.Jitter <= 0 {
		return l.Base.String()
	}
	dist := l.Dist
	if dist == "" {
		dist = Normal
	}
	return fmt.Sprintf("%v±%v (%s)", l.Base, l.Jitter, dist)
}

// Config shapes the simulated answers. The zero value answers at once with
// DefaultTokens tokens.
type Config struct {
	Latency Latency
	// Tokens is the completion length in tokens; a stream sends one content
	// chunk per token. 0 means DefaultTokens.
	Tokens int
	// ChunkDelay is the pause between stream chunks.
	ChunkDelay time.Duration
}

// DefaultTokens is the completion length when Config.Tokens is 0.
const DefaultTokens = 16

// Stats counts what reached the server since start or the last Reset.
type Stats struct {
	Requests         int64 `json:"requests"` // chat completion calls answered (stream or not)
	Streams          int64 `json:"streams"`
	BadRequests      int64 `json:"bad_requests"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// Sub returns s - o, for the calls made between two snapshots.
func (s Stats) Sub(o Stats) Stats {
	return Stats{
		Requests:         s.Requests - o.Requests,
		Streams:          s.Streams - o.Streams,
		BadRequests:      s.BadRequests - o.BadRequests,
		PromptTokens:     s.PromptTokens - o.PromptTokens,
		CompletionTokens: s.CompletionTokens - o.CompletionTokens,
	}
}

// Server is the simulated upstream. It serves POST /v1/chat/completions,
// GET /v1/models, GET /healthz, and its counters at GET /_bench/stats
// (POST /_bench/reset zeroes them). Safe for concurrent use.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	nextID atomic.Uint64

	requests, streams, bad, promptTok, complTok atomic.Int64
}

// New returns a Server answering as cfg says.
func New(cfg Config) *Server {
	if cfg.Tokens <= 0 {
		cfg.Tokens = DefaultTokens
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /v1/chat/completions", s.chat)
	s.mux.HandleFunc("GET /v1/models", s.models)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	s.mux.HandleFunc("GET /_bench/stats", s.serveStats)
	s.mux.HandleFunc("POST /_bench/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:         s.requests.Load(),
		Streams:          s.streams.Load(),
		BadRequests:      s.bad.Load(),
		PromptTokens:     s.promptTok.Load(),
		CompletionTokens: s.complTok.Load(),
	}
}

// Reset zeroes the counters.
func (s *Server) Reset() {
	s.requests.Store(0)
	s.streams.Store(0)
	s.bad.Store(0)
	s.promptTok.Store(0)
	s.complTok.Store(0)
}

func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.Stats())
}

// request is the part of a chat completion request the simulation reads.
type request struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, 8<<20)); err != nil {
		s.fail(w, http.StatusBadRequest, "could not read the request body: "+err.Error())
		return
	}
	var req request
	if err := json.Unmarshal(buf.Bytes(), &req); err != nil {
		s.fail(w, http.StatusBadRequest, "We could not parse the JSON body of your request.")
		return
	}
	if req.Model == "" {
		s.fail(w, http.StatusBadRequest, "you must provide a model parameter")
		return
	}
	if len(req.Messages) == 0 {
		s.fail(w, http.StatusBadRequest, "Missing required parameter: 'messages'.")
		return
	}
	promptChars := 0
	for _, m := range req.Messages {
		promptChars += len(m.Role) + len(m.Content)
	}
	a := answer{
		id:      "chatcmpl-sim" + strconv.FormatUint(s.nextID.Add(1), 10),
		created: time.Now().Unix(),
		model:   req.Model,
		words:   words(xxhash.Sum64(buf.Bytes()), s.cfg.Tokens),
		usage:   Usage{PromptTokens: max(promptChars/4, 1), CompletionTokens: s.cfg.Tokens},
	}
	a.usage.TotalTokens = a.usage.PromptTokens + a.usage.CompletionTokens

	if err := sleep(r.Context(), s.cfg.Latency.Sample()); err != nil {
		return // the client is gone
	}
	s.requests.Add(1)
	s.promptTok.Add(int64(a.usage.PromptTokens))
	s.complTok.Add(int64(a.usage.CompletionTokens))
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		w.Write(a.appendCompletion(nil))
		return
	}
	s.streams.Add(1)
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	s.stream(w, r, &a, includeUsage)
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, a *answer, includeUsage bool) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var b []byte
	send := func() bool {
		_, err := w.Write(b)
		if err == nil {
			err = rc.Flush()
		}
		b = b[:0]
		return err == nil
	}
	b = a.appendChunk(b, chunkRole, "", includeUsage)
	if !send() {
		return
	}
	for i, word := range a.words {
		if i > 0 && s.cfg.ChunkDelay > 0 {
			if sleep(r.Context(), s.cfg.ChunkDelay) != nil {
				return
			}
		}
		if i > 0 {
			word = " " + word
		}
		b = a.appendChunk(b, chunkContent, word, includeUsage)
		if !send() {
			return
		}
	}
	b = a.appendChunk(b, chunkStop, "", includeUsage)
	if includeUsage {
		b = a.appendChunk(b, chunkUsage, "", includeUsage)
	}
	b = append(b, "data: [DONE]\n\n"...)
	send()
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"},{"id":"gpt-4o","object":"model","created":1715367049,"owned_by":"system"}]}`)
}

// fail writes an error in OpenAI's shape.
func (s *Server) fail(w http.ResponseWriter, status int, msg string) {
	s.bad.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	m, _ := json.Marshal(msg)
	fmt.Fprintf(w, `{"error":{"message":%s,"type":"invalid_request_error","param":null,"code":null}}`, m)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Usage is OpenAI's usage object.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// answer is one simulated completion. Its words are plain ASCII, so the
// JSON below is built by appending without escaping them; the model name
// comes from the client and is escaped.
type answer struct {
	id      string
	created int64
	model   string
	words   []string
	usage   Usage
}

const fingerprint = "fp_ditto_sim"

func (a *answer) appendHead(b []byte, object string) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, a.id...)
	b = append(b, `","object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, a.created, 10)
	b = append(b, `,"model":`...)
	m, _ := json.Marshal(a.model)
	b = append(b, m...)
	b = append(b, `,"system_fingerprint":"`+fingerprint+`",`...)
	return b
}

func (a *answer) appendUsage(b []byte) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(a.usage.PromptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(a.usage.CompletionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(a.usage.TotalTokens), 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}`...)
	return b
}

func (a *answer) appendCompletion(b []byte) []byte {
	b = a.appendHead(b, "chat.completion")
	b = append(b, `"choices":[{"index":0,"message":{"role":"assistant","content":"`...)
	for i, w := range a.words {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, w...)
	}
	b = append(b, `","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":`...)
	b = a.appendUsage(b)
	return append(b, "}\n"...)
}

type chunkKind int

const (
	chunkRole chunkKind = iota
	chunkContent
	chunkStop
	chunkUsage
)

// appendChunk appends one SSE event. With include_usage, OpenAI sends
// "usage":null on every chunk and the totals in a last chunk with no choices.
func (a *answer) appendChunk(b []byte, kind chunkKind, text string, includeUsage bool) []byte {
	b = append(b, "data: "...)
	b = a.appendHead(b, "chat.completion.chunk")
	switch kind {
	case chunkRole:
		b = append(b, `"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]`...)
	case chunkContent:
		b = append(b, `"choices":[{"index":0,"delta":{"content":"`...)
		b = append(b, text...)
		b = append(b, `"},"logprobs":null,"finish_reason":null}]`...)
	case chunkStop:
		b = append(b, `"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]`...)
	case chunkUsage:
		b = append(b, `"choices":[],"usage":`...)
		b = a.appendUsage(b)
		return append(b, "}\n\n"...)
	}
	if includeUsage {
		b = append(b, `,"usage":null`...)
	}
	return append(b, "}\n\n"...)
}

var vocabulary = []string{
	"the", "answer", "is", "simulated", "by", "a", "benchmark", "upstream", "that", "returns",
	"plain", "words", "with", "no", "meaning", "so", "every", "token", "costs", "nothing",
	"cache", "hit", "miss", "latency", "request", "stream", "chunk", "model", "prompt", "reply",
	"of", "and",
}

// words picks n deterministic words from seed, so one request body always
// gets the same answer.
func words(seed uint64, n int) []string {
	out := make([]string, n)
	for i := range out {
		seed = seed*6364136223846793005 + 1442695040888963407
		out[i] = vocabulary[(seed>>33)%uint64(len(vocabulary))]
	}
	return out
}
