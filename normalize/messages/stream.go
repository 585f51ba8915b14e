package messages

import (
	"strconv"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// Stream renders one answer's canonical chunks as Anthropic's event
// stream, in the order Anthropic sends it:
//
//	message_start (the message with empty content and zero usage)
//	content_block_start, ping (once, after the first), content_block_delta…, content_block_stop
//	…one block after another: thinking, text, tool_use…
//	message_delta (stop_reason, stop_sequence, usage), message_stop
//
// Chunks come from any provider (a role chunk, content, reasoning and
// tool-call deltas, a finish chunk, a usage chunk) or from
// normalize.Replay of a stored answer. Content becomes text_delta events,
// ReasoningField deltas thinking_delta, tool-call arguments input_json_delta
// (passed through in the pieces the provider sent), and
// ThinkingBlocksField the signatures (signature_delta) and
// redacted_thinking blocks. Finish reasons and usage are rendered by End,
// from the assembled answer, message_delta carrying the whole of it
// (input and cache tokens too). message_start carries the prompt's tokens
// when the first chunk knows them (Chunk.PromptUsage: an Anthropic
// upstream's message_start, or a replayed answer), as Anthropic sends
// them; OpenAI-compatible upstreams report usage only at the end, so on
// their misses it carries zero.
//
// Each method appends complete SSE frames ("event: NAME\ndata: JSON\n\n")
// to dst and returns it; nothing is appended after End or Fail. A Stream
// renders one answer and is not safe for concurrent use.
type Stream struct {
	model    string
	started  bool
	done     bool
	pinged   bool
	blocks   int  // content blocks started
	open     int  // index of the open block, -1 when none
	openKind kind // what the open block is
	tools    []toolBlock
	thinking int // elements of ThinkingBlocksField rendered
}

type kind uint8

const (
	kindNone kind = iota
	kindText
	kindThinking
	kindTool
)

// toolBlock is the content block of one tool call.
type toolBlock struct{ call, block int }

// NewStream returns a Stream for an answer to a request for model, the
// model name as the client sent it: message_start carries it when the
// first chunk does not name the model that answered.
func NewStream(model string) *Stream {
	return &Stream{model: model, open: -1}
}

// Chunk appends the events for c, possibly none.
func (s *Stream) Chunk(dst []byte, c *normalize.Chunk) []byte {
	if s.done || c == nil {
		return dst
	}
	if !s.started {
		dst = s.start(dst, c.ID, c.Model, c.PromptUsage)
	}
	for i := range c.Choices {
		cc := &c.Choices[i]
		if cc.Index != 0 {
			continue // a Messages request never asks for more than one choice
		}
		dst = s.delta(dst, &cc.Delta)
	}
	return dst
}

func (s *Stream) delta(dst []byte, d *normalize.Delta) []byte {
	if len(d.Extra) > 0 {
		if tb, ok := field(d.Extra, ThinkingBlocksField); ok {
			// A replayed answer has its whole reasoning here; a live
			// Anthropic stream sends each block's signature here once its
			// text has streamed.
			s.thinking = forThinkingFrom(tb, s.thinking, func(b thinkingBlock) {
				dst = s.thinkingBlock(dst, b)
			})
		} else if r := reasoning(d.Extra); r != "" {
			dst = s.ensure(dst, kindThinking, nil)
			dst = s.deltaEvent(dst, s.open, `{"type":"thinking_delta","thinking":`, r)
		}
	}
	if d.Content != nil && *d.Content != "" {
		dst = s.ensure(dst, kindText, nil)
		dst = s.deltaEvent(dst, s.open, `{"type":"text_delta","text":`, *d.Content)
	}
	if d.Refusal != nil && *d.Refusal != "" {
		dst = s.ensure(dst, kindText, nil)
		dst = s.deltaEvent(dst, s.open, `{"type":"text_delta","text":`, *d.Refusal)
	}
	for i := range d.ToolCalls {
		tc := &d.ToolCalls[i]
		block := -1
		for _, t := range s.tools {
			if t.call == tc.Index {
				block = t.block
				break
			}
		}
		if block < 0 {
			dst = s.ensure(dst, kindTool, tc)
			block = s.open
			s.tools = append(s.tools, toolBlock{call: tc.Index, block: block})
		}
		if tc.Arguments != "" {
			// A piece of a call whose block was closed (a provider
			// interleaving calls) still names that block's index, which
			// the SDKs accumulate by.
			dst = s.deltaEvent(dst, block, `{"type":"input_json_delta","partial_json":`, tc.Arguments)
		}
	}
	return dst
}

// thinkingBlock renders one ThinkingBlocksField element: the signature of
// the thinking block whose text has just streamed, or a whole block.
func (s *Stream) thinkingBlock(dst []byte, b thinkingBlock) []byte {
	if b.typ == "thinking" && s.openKind == kindThinking {
		if b.signature != "" {
			dst = s.deltaEvent(dst, s.open, `{"type":"signature_delta","signature":`, b.signature)
		}
		return s.closeBlock(dst)
	}
	dst = s.closeBlock(dst)
	if b.typ == "redacted_thinking" {
		dst = s.startBlock(dst, kindNone, func(dst []byte) []byte { return b.appendTo(dst) })
		return s.closeBlock(dst)
	}
	dst = s.ensure(dst, kindThinking, nil)
	if b.text != "" {
		dst = s.deltaEvent(dst, s.open, `{"type":"thinking_delta","thinking":`, b.text)
	}
	if b.signature != "" {
		dst = s.deltaEvent(dst, s.open, `{"type":"signature_delta","signature":`, b.signature)
	}
	return s.closeBlock(dst)
}

// ensure makes the open block one of kind k (a new tool_use block for tc
// when k is kindTool), closing the open one if it is not.
func (s *Stream) ensure(dst []byte, k kind, tc *normalize.ToolCallDelta) []byte {
	if s.open >= 0 && s.openKind == k && k != kindTool {
		return dst
	}
	dst = s.closeBlock(dst)
	return s.startBlock(dst, k, func(dst []byte) []byte {
		switch k {
		case kindText:
			return append(dst, `{"type":"text","text":""}`...)
		case kindThinking:
			return append(dst, `{"type":"thinking","thinking":"","signature":""}`...)
		}
		dst = append(dst, `{"type":"tool_use","id":`...)
		dst = wirejson.AppendString(dst, tc.ID)
		dst = append(dst, `,"name":`...)
		dst = wirejson.AppendString(dst, tc.Name)
		return append(dst, `,"input":{}}`...)
	})
}

func (s *Stream) startBlock(dst []byte, k kind, block func([]byte) []byte) []byte {
	s.open, s.openKind = s.blocks, k
	s.blocks++
	dst = append(dst, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(s.open), 10)
	dst = append(dst, `,"content_block":`...)
	dst = block(dst)
	dst = append(dst, "}\n\n"...)
	if !s.pinged {
		s.pinged = true
		dst = append(dst, "event: ping\ndata: {\"type\":\"ping\"}\n\n"...)
	}
	return dst
}

func (s *Stream) closeBlock(dst []byte) []byte {
	if s.open < 0 {
		return dst
	}
	dst = append(dst, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(s.open), 10)
	dst = append(dst, "}\n\n"...)
	s.open, s.openKind = -1, kindNone
	return dst
}

// deltaEvent writes a content_block_delta for block whose delta is head
// (an object opened up to its string member) followed by text.
func (s *Stream) deltaEvent(dst []byte, block int, head, text string) []byte {
	dst = append(dst, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(block), 10)
	dst = append(dst, `,"delta":`...)
	dst = append(dst, head...)
	dst = wirejson.AppendString(dst, text)
	return append(dst, "}}\n\n"...)
}

// start opens the message; model is the model that answered, as the
// provider named it, else (empty) the request's; prompt is the prompt's
// usage when it is known at the start (Chunk.PromptUsage), else nil: its
// input and cache tokens go in message_start, as Anthropic sends them,
// the output tokens (0) in message_delta.
func (s *Stream) start(dst []byte, id, model string, prompt *normalize.Usage) []byte {
	s.started = true
	if model == "" {
		model = s.model
	}
	dst = append(dst, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"...)
	dst = appendMessageID(dst, id)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = wirejson.AppendString(dst, model)
	dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	if prompt != nil {
		p := *prompt
		p.CompletionTokens, p.TotalTokens = 0, p.PromptTokens
		prompt = &p
	}
	dst = appendUsage(dst, prompt)
	return append(dst, "}}\n\n"...)
}

// End appends the closing events of the complete answer resp (the
// stream's chunks assembled, with its finish reason and usage):
// content_block_stop of the open block, message_delta and message_stop.
func (s *Stream) End(dst []byte, resp *normalize.Response) []byte {
	if s.done || resp == nil {
		return dst
	}
	if !s.started {
		dst = s.start(dst, resp.ID, resp.Model, resp.Usage)
	}
	s.done = true
	dst = s.closeBlock(dst)
	var c *normalize.Choice
	if len(resp.Choices) > 0 {
		c = &resp.Choices[0]
	}
	dst = append(dst, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{"...)
	dst = appendStop(dst, c)
	dst = append(dst, `},"usage":`...)
	dst = appendUsage(dst, resp.Usage)
	return append(dst, "}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
}

// Fail appends Anthropic's error event for a stream that cannot finish
// (status and the OpenAI error type as AppendError maps them); the SDKs
// raise it rather than see a silent end.
func (s *Stream) Fail(dst []byte, status int, typ, message string) []byte {
	if s.done {
		return dst
	}
	s.done = true
	dst = append(dst, "event: error\ndata: "...)
	dst = AppendError(dst, status, typ, message)
	return append(dst, "\n\n"...)
}
