package anthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/internal/eventstream"
	"github.com/dittocache/ditto/providers/internal/wire"
)

// errTruncated ends a stream whose body ended before message_stop.
var errTruncated = fmt.Errorf("anthropic: stream ended before message_stop: %w", io.ErrUnexpectedEOF)

type wireEvent struct {
	Type         string        `json:"type"`
	Message      *wireResponse `json:"message"` // message_start
	Index        int           `json:"index"`
	ContentBlock *wireBlock    `json:"content_block"` // content_block_start
	Delta        wireDelta     `json:"delta"`         // content_block_delta, message_delta
	Usage        *deltaUsage   `json:"usage"`         // message_delta
}

type wireDelta struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	PartialJSON  string  `json:"partial_json"`
	Thinking     string  `json:"thinking"`
	Signature    string  `json:"signature"`
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// deltaUsage is message_delta's usage: cumulative counts, only some present.
type deltaUsage struct {
	InputTokens              *int `json:"input_tokens"`
	OutputTokens             *int `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
}

type blockState struct {
	typ      string
	tool     int  // tool call index of a tool_use block
	args     bool // some arguments were emitted
	thinking int  // index in stream.thinking of a thinking or redacted_thinking block
}

// stream turns Anthropic's SSE events into OpenAI-shaped chunks: a role
// chunk at message_start, content and tool-call deltas as blocks arrive, a
// finish chunk at message_delta, and a usage-only chunk at message_stop,
// after which Recv returns io.EOF.
type stream struct {
	*eventstream.Stream
	key string

	created   int64
	id, model string
	started   bool
	blocks    map[int]*blockState
	tools     int
	usage     wireUsage
	finish    string
	thinking  []wireBlock // thinking and redacted_thinking blocks so far
}

func newStream(body io.ReadCloser, created int64, key string) *stream {
	s := &stream{key: key, created: created, blocks: map[int]*blockState{}}
	s.Stream = eventstream.New(name, body, s.handle, func() error { return errTruncated })
	return s
}

func (s *stream) handle(data []byte) error {
	var ev wireEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return fmt.Errorf("anthropic: decoding stream event: %w", err)
	}
	switch ev.Type {
	case "ping":
		return nil
	case "error":
		return streamError(data, s.key)
	case "message_start":
		if s.started || ev.Message == nil {
			return errors.New("anthropic: unexpected message_start")
		}
		s.started = true
		s.id, s.model, s.usage = ev.Message.ID, ev.Message.Model, ev.Message.Usage
		empty := ""
		c := s.chunk()
		c.Choices = []normalize.ChunkChoice{{Delta: normalize.Delta{Role: normalize.RoleAssistant, Content: &empty}}}
		c.PromptUsage = s.usage.canonical() // message_start reports the prompt's tokens
		s.Push(c)
		return nil
	}
	if !s.started {
		return fmt.Errorf("anthropic: %s event before message_start", ev.Type)
	}
	switch ev.Type {
	case "content_block_start":
		if ev.ContentBlock == nil {
			return errors.New("anthropic: content_block_start without a block")
		}
		return s.blockStart(ev.Index, ev.ContentBlock)
	case "content_block_delta":
		b := s.blocks[ev.Index]
		if b == nil {
			return fmt.Errorf("anthropic: delta for unknown content block %d", ev.Index)
		}
		s.blockDelta(b, &ev.Delta)
	case "content_block_stop":
		b := s.blocks[ev.Index]
		if b != nil && b.typ == "tool_use" && !b.args {
			// No input streamed: an empty object, as in a complete response.
			s.emit(normalize.Delta{ToolCalls: []normalize.ToolCallDelta{{Index: b.tool, Arguments: "{}"}}})
			b.args = true
		}
		if b != nil && (b.typ == "thinking" || b.typ == "redacted_thinking") {
			// Every thinking block so far, as decodeResponse keeps them:
			// an assembled stream keeps the last such value.
			blocks := make([]thinkingBlock, len(s.thinking))
			for i := range s.thinking {
				blocks[i] = newThinking(&s.thinking[i])
			}
			if extra := thinkingExtra(blocks); extra != nil {
				s.emit(normalize.Delta{Extra: extra})
			}
		}
	case "message_delta":
		if u := ev.Usage; u != nil {
			set(&s.usage.InputTokens, u.InputTokens)
			set(&s.usage.OutputTokens, u.OutputTokens)
			set(&s.usage.CacheCreationInputTokens, u.CacheCreationInputTokens)
			set(&s.usage.CacheReadInputTokens, u.CacheReadInputTokens)
		}
		if ev.Delta.StopReason != "" {
			s.finish = finishReason(ev.Delta.StopReason)
			c := s.chunk()
			c.Choices = []normalize.ChunkChoice{{FinishReason: s.finish, Delta: normalize.Delta{Extra: stopSequenceExtra(ev.Delta.StopReason, ev.Delta.StopSequence)}}}
			s.Push(c)
		}
	case "message_stop":
		if s.finish == "" {
			return errors.New("anthropic: message_stop without a stop_reason")
		}
		c := s.chunk()
		c.Choices = []normalize.ChunkChoice{}
		c.Usage = s.usage.canonical()
		s.Push(c)
		s.Finish()
	}
	// Other event types are ignored, as Anthropic asks of clients.
	return nil
}

func set(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func (s *stream) blockStart(index int, cb *wireBlock) error {
	if s.blocks[index] != nil {
		return fmt.Errorf("anthropic: content block %d started twice", index)
	}
	b := &blockState{typ: cb.Type}
	s.blocks[index] = b
	switch cb.Type {
	case "text":
		if cb.Text != "" {
			s.emit(normalize.Delta{Content: &cb.Text})
		}
	case "thinking", "redacted_thinking":
		b.thinking = len(s.thinking)
		s.thinking = append(s.thinking, *cb)
		if cb.Thinking != "" {
			s.emit(reasoning(cb.Thinking))
		}
	case "tool_use":
		b.tool = s.tools
		s.tools++
		d := normalize.ToolCallDelta{Index: b.tool, ID: cb.ID, Type: "function", Name: cb.Name}
		if args := wire.CompactArgs(cb.Input); args != "{}" {
			d.Arguments, b.args = args, true
		}
		s.emit(normalize.Delta{ToolCalls: []normalize.ToolCallDelta{d}})
	}
	return nil
}

func (s *stream) blockDelta(b *blockState, d *wireDelta) {
	switch d.Type {
	case "text_delta":
		if d.Text != "" {
			s.emit(normalize.Delta{Content: &d.Text})
		}
	case "input_json_delta":
		if b.typ == "tool_use" && d.PartialJSON != "" {
			b.args = true
			s.emit(normalize.Delta{ToolCalls: []normalize.ToolCallDelta{{Index: b.tool, Arguments: d.PartialJSON}}})
		}
	case "thinking_delta":
		if b.typ == "thinking" {
			s.thinking[b.thinking].Thinking += d.Thinking
		}
		if d.Thinking != "" {
			s.emit(reasoning(d.Thinking))
		}
	case "signature_delta":
		if b.typ == "thinking" {
			s.thinking[b.thinking].Signature += d.Signature
		}
	}
}

func reasoning(text string) normalize.Delta {
	return normalize.Delta{Extra: wire.Reasoning(text)}
}

func (s *stream) chunk() *normalize.Chunk {
	return &normalize.Chunk{ID: s.id, Created: s.created, Model: s.model}
}

func (s *stream) emit(d normalize.Delta) {
	c := s.chunk()
	c.Choices = []normalize.ChunkChoice{{Delta: d}}
	s.Push(c)
}
