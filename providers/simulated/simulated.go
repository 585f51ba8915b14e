// Package simulated is a deterministic in-process provider for demos,
// tests and benchmarks: no network, no keys, answers in a configurable
// time.
//
// The answer is a pure function of the request's canonical form
// (normalize.Canonical) and Options.Seed, so equal requests get equal
// answers and requests that share a cache key share an answer. Usage
// approximates tokens as bytes/4. A request with tool_choice "required" or
// a named function gets a call to that function (the first tool for
// "required") with arguments {}; any other request gets text.
package simulated

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// DefaultChunkCount is the number of chunks a streamed answer is split
// into when Options.ChunkCount is 0.
const DefaultChunkCount = 8

// Options shape the simulated latency and streaming. The zero value answers
// at once in DefaultChunkCount chunks.
type Options struct {
	// Latency is the wait before the answer (Complete) or before Stream
	// returns (time to first token).
	Latency time.Duration
	// Jitter adds up to this much to Latency: a deterministic function of
	// the request and Seed, so a benchmark run is reproducible.
	Jitter time.Duration
	// ChunkCount is how many content chunks a streamed answer's text is
	// split into (fewer when the answer has fewer words); 0 means
	// DefaultChunkCount.
	ChunkCount int
	// ChunkDelay is the wait before each content chunk after the first.
	ChunkDelay time.Duration
	// Seed varies every answer; equal seeds give equal answers.
	Seed int64
}

// Client is the simulated provider. It is safe for concurrent use and keeps
// no state between calls.
type Client struct {
	o Options
}

var _ providers.Provider = (*Client)(nil)

// New returns a Client for o.
func New(o Options) *Client {
	if o.ChunkCount <= 0 {
		o.ChunkCount = DefaultChunkCount
	}
	return &Client{o: o}
}

// Complete waits Latency plus jitter, or until ctx is done, and returns the
// answer.
func (c *Client) Complete(ctx context.Context, req *normalize.Request) (*normalize.Response, error) {
	a := c.answer(req)
	if err := sleep(ctx, a.latency); err != nil {
		return nil, err
	}
	return a.response(time.Now().Unix()), nil
}

// Stream waits Latency plus jitter, or until ctx is done, and returns the
// answer's chunks: per choice a role chunk with the first piece of text
// (or the tool calls), the rest of the text in up to ChunkCount pieces
// ChunkDelay apart, a finish chunk, then a usage-only chunk. Recv returns
// ctx's error once ctx is done.
func (c *Client) Stream(ctx context.Context, req *normalize.Request) (normalize.Stream, error) {
	a := c.answer(req)
	if err := sleep(ctx, a.latency); err != nil {
		return nil, err
	}
	return &stream{ctx: ctx, delay: c.o.ChunkDelay, chunks: a.chunks(time.Now().Unix(), c.o.ChunkCount)}, nil
}

// answer is everything the request determines.
type answer struct {
	id      string
	model   string
	choices []normalize.Choice
	usage   normalize.Usage
	latency time.Duration
}

func (c *Client) answer(req *normalize.Request) *answer {
	h := fnv.New64a()
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(c.o.Seed))
	h.Write(seed[:])
	h.Write(normalize.Canonical(req))
	sum := h.Sum64()
	a := &answer{id: fmt.Sprintf("chatcmpl-sim-%016x", sum), model: req.Model, latency: c.o.Latency}
	if c.o.Jitter > 0 {
		a.latency += time.Duration(sum % uint64(c.o.Jitter))
	}
	n := 1
	if req.Params.N != nil && *req.Params.N > 1 {
		n = *req.Params.N
	}
	limit := -1
	if req.Params.MaxTokens != nil {
		limit = *req.Params.MaxTokens * 4
	}
	tool := forcedTool(req)
	for i := range n {
		ch := normalize.Choice{Index: i, Message: normalize.Message{Role: normalize.RoleAssistant}, FinishReason: "stop"}
		if tool != "" {
			ch.Message.ToolCalls = []normalize.ToolCall{{ID: fmt.Sprintf("call_sim_%016x_%d", sum, i), Type: "function", Name: tool, Arguments: "{}"}}
			ch.FinishReason = "tool_calls"
			a.usage.CompletionTokens += 4
		} else {
			text := compose(rand.New(rand.NewPCG(sum, uint64(i))))
			if limit >= 0 && len(text) > limit {
				text, ch.FinishReason = text[:limit], "length"
			}
			ch.Message.Content = []normalize.Part{{Type: normalize.PartText, Text: text}}
			a.usage.CompletionTokens += tokens(len(text))
		}
		a.choices = append(a.choices, ch)
	}
	var prompt int
	for i := range req.Messages {
		m := &req.Messages[i]
		prompt += 4 + len(m.Text())
		for _, tc := range m.ToolCalls {
			prompt += len(tc.Name) + len(tc.Arguments)
		}
	}
	for i := range req.Tools {
		prompt += len(req.Tools[i].Name) + len(req.Tools[i].Description) + len(req.Tools[i].Parameters)
	}
	a.usage.PromptTokens = tokens(prompt)
	a.usage.TotalTokens = a.usage.PromptTokens + a.usage.CompletionTokens
	return a
}

// tokens approximates a token count as bytes/4, at least 1.
func tokens(bytes int) int {
	return max(1, bytes/4)
}

// forcedTool is the function the request forces a call to, or "".
func forcedTool(req *normalize.Request) string {
	switch tc := req.ToolChoice; {
	case tc == "required":
		for _, t := range req.Tools {
			if t.Type == "function" && t.Name != "" {
				return t.Name
			}
		}
	case strings.HasPrefix(tc, "{"):
		var obj struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if json.Unmarshal([]byte(tc), &obj) == nil {
			return obj.Function.Name
		}
	}
	return ""
}

var words = strings.Fields(`the a cache answer request model token stream latency replica
	gateway prompt reply tenant key store hit miss upstream provider quick steady small
	large cold warm fresh stale shared single every often rarely always never serves keeps
	returns saves counts joins splits waits sends reads writes finds matches holds`)

// compose writes 12 to 60 words of deterministic prose.
func compose(r *rand.Rand) string {
	n := 12 + r.IntN(49)
	var b strings.Builder
	for i := range n {
		w := words[r.IntN(len(words))]
		switch {
		case i == 0:
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		case r.IntN(9) == 0:
			b.WriteString(". " + strings.ToUpper(w[:1]) + w[1:])
		default:
			b.WriteString(" " + w)
		}
	}
	b.WriteByte('.')
	return b.String()
}

func (a *answer) response(created int64) *normalize.Response {
	u := a.usage
	return &normalize.Response{ID: a.id, Created: created, Model: a.model, Choices: a.choices, Usage: &u}
}

// chunks renders the answer as a stream; each element is preceded by
// ChunkDelay except the first of each choice's text.
func (a *answer) chunks(created int64, pieces int) []timedChunk {
	head := func() normalize.Chunk { return normalize.Chunk{ID: a.id, Created: created, Model: a.model} }
	var out []timedChunk
	for _, ch := range a.choices {
		if len(ch.Message.ToolCalls) > 0 {
			d := normalize.Delta{Role: normalize.RoleAssistant}
			for j, tc := range ch.Message.ToolCalls {
				d.ToolCalls = append(d.ToolCalls, normalize.ToolCallDelta{Index: j, ID: tc.ID, Type: tc.Type, Name: tc.Name, Arguments: tc.Arguments})
			}
			c := head()
			c.Choices = []normalize.ChunkChoice{{Index: ch.Index, Delta: d}}
			out = append(out, timedChunk{c, false})
		} else {
			for j, p := range split(ch.Message.Text(), pieces) {
				d := normalize.Delta{Content: &p}
				if j == 0 {
					d.Role = normalize.RoleAssistant
				}
				c := head()
				c.Choices = []normalize.ChunkChoice{{Index: ch.Index, Delta: d}}
				out = append(out, timedChunk{c, j > 0})
			}
		}
		c := head()
		c.Choices = []normalize.ChunkChoice{{Index: ch.Index, FinishReason: ch.FinishReason}}
		out = append(out, timedChunk{c, false})
	}
	c := head()
	c.Choices = []normalize.ChunkChoice{}
	u := a.usage
	c.Usage = &u
	return append(out, timedChunk{c, false})
}

// split cuts s at word boundaries into at most n pieces of similar length
// whose concatenation is s. An empty s is one empty piece.
func split(s string, n int) []string {
	fields := strings.SplitAfter(s, " ")
	if len(fields) < n {
		n = len(fields)
	}
	out := make([]string, 0, n)
	for i := range n {
		from, to := i*len(fields)/n, (i+1)*len(fields)/n
		out = append(out, strings.Join(fields[from:to], ""))
	}
	return out
}

type timedChunk struct {
	c       normalize.Chunk
	delayed bool
}

type stream struct {
	ctx    context.Context
	delay  time.Duration
	chunks []timedChunk
	next   int
	err    error
}

func (s *stream) Recv() (*normalize.Chunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.next >= len(s.chunks) {
		return nil, io.EOF
	}
	tc := &s.chunks[s.next]
	d := time.Duration(0)
	if tc.delayed {
		d = s.delay
	}
	if err := sleep(s.ctx, d); err != nil {
		s.err = err
		return nil, err
	}
	s.next++
	return &tc.c, nil
}

func (s *stream) Close() error {
	if s.err == nil && s.next < len(s.chunks) {
		s.err = fmt.Errorf("simulated: stream closed: %w", context.Canceled)
	}
	return nil
}

// sleep waits d or until ctx is done, whichever is first, and returns ctx's
// error if it is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
