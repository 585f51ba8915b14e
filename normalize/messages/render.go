package messages

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// Message Extra members the adapters fill that rendering reads.
const (
	// ReasoningField carries a model's reasoning text (OpenAI-compatible
	// servers name it so; Ditto's Anthropic and Gemini adapters too).
	ReasoningField = "reasoning_content"
	// ThinkingBlocksField carries Anthropic's thinking and
	// redacted_thinking blocks as Anthropic sent them, signatures
	// included, so a client can send them back.
	ThinkingBlocksField = "thinking_blocks"
	// StopSequenceField names the stop sequence that ended the answer,
	// when the provider says which.
	StopSequenceField = "stop_sequence"
	// CacheWriteTokens is the member of Usage.PromptTokensDetails counting
	// prompt tokens written to the provider's prompt cache (Anthropic's
	// cache_creation_input_tokens), as OpenRouter reports it.
	CacheWriteTokens = "cache_write_tokens"
)

// AppendResponse appends resp as an Anthropic message object, the answer
// of a non-streaming Messages request: its first choice (the decoder never
// asks for more), with the model that answered (resp.Model; model, the
// client's, when the answer names none). See Stream for the
// same answer as events; both give the same blocks.
//
//   - id is resp.ID when it starts with "msg_", else "msg_" + resp.ID;
//   - content: thinking blocks (ThinkingBlocksField as sent, else one
//     unsigned block of ReasoningField), a text block for the text (and
//     one for a refusal) when not empty, and a tool_use block per tool
//     call whose input is the arguments re-encoded compactly; arguments
//     that are not a JSON object become {} (a model cut off mid-call, as
//     finish reason length says);
//   - stop_reason: stop → end_turn (stop_sequence when StopSequenceField
//     names the sequence), length → max_tokens, tool_calls (or any answer
//     with tool calls that stopped) → tool_use, content_filter or a
//     refusal → refusal;
//   - usage: input_tokens exclude cache reads and writes, which OpenAI's
//     prompt_tokens include (prompt_tokens_details.cached_tokens and
//     CacheWriteTokens).
func AppendResponse(dst []byte, resp *normalize.Response, model string) []byte {
	if resp.Model != "" {
		model = resp.Model // the model that answered, as Anthropic names it
	}
	dst = append(dst, `{"id":`...)
	dst = appendMessageID(dst, resp.ID)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = wirejson.AppendString(dst, model)
	dst = append(dst, `,"content":[`...)
	var c *normalize.Choice
	if len(resp.Choices) > 0 {
		c = &resp.Choices[0]
		var sep wirejson.Comma
		m := &c.Message
		if tb, ok := field(m.Extra, ThinkingBlocksField); ok {
			forThinking(tb, func(b thinkingBlock) {
				dst = sep.Next(dst)
				dst = b.appendTo(dst)
			})
		} else if r := reasoning(m.Extra); r != "" {
			dst = sep.Next(dst)
			dst = thinkingBlock{typ: "thinking", text: r}.appendTo(dst)
		}
		if text := m.Text(); text != "" {
			dst = sep.Next(dst)
			dst = append(dst, `{"type":"text","text":`...)
			dst = wirejson.AppendString(dst, text)
			dst = append(dst, '}')
		}
		if m.Refusal != "" {
			dst = sep.Next(dst)
			dst = append(dst, `{"type":"text","text":`...)
			dst = wirejson.AppendString(dst, m.Refusal)
			dst = append(dst, '}')
		}
		for i := range m.ToolCalls {
			tc := &m.ToolCalls[i]
			dst = sep.Next(dst)
			dst = append(dst, `{"type":"tool_use","id":`...)
			dst = wirejson.AppendString(dst, tc.ID)
			dst = append(dst, `,"name":`...)
			dst = wirejson.AppendString(dst, tc.Name)
			dst = append(dst, `,"input":`...)
			dst = appendInput(dst, tc.Arguments)
			dst = append(dst, '}')
		}
	}
	dst = append(dst, "],"...)
	dst = appendStop(dst, c)
	dst = append(dst, `,"usage":`...)
	dst = appendUsage(dst, resp.Usage)
	return append(dst, '}')
}

// appendMessageID writes "msg_…": Anthropic's ids stay as they are, others
// are prefixed so every id reads as a message id and stays traceable.
func appendMessageID(dst []byte, id string) []byte {
	if strings.HasPrefix(id, "msg_") {
		return wirejson.AppendString(dst, id)
	}
	dst = append(dst, `"msg_`...)
	dst = wirejson.AppendStringContent(dst, id)
	return append(dst, '"')
}

// appendInput writes tool-call arguments as a JSON object: re-encoded
// compactly when they are one, {} otherwise (empty or cut-off arguments).
func appendInput(dst []byte, args string) []byte {
	if _, ok := wirejson.CheckEscapes(unsafeBytes(args)); !ok {
		return append(dst, "{}"...)
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.Parse(args)
	if err != nil || v.Type() != fastjson.TypeObject {
		return append(dst, "{}"...)
	}
	start := len(dst)
	out, err := wirejson.AppendValue(dst, v)
	if err != nil {
		return append(dst[:start], "{}"...)
	}
	return out
}

// stopReason maps a choice's finish reason to Anthropic's stop_reason and
// stop_sequence ("" when none).
func stopReason(c *normalize.Choice) (reason, sequence string) {
	if c == nil {
		return "end_turn", ""
	}
	calls := len(c.Message.ToolCalls) > 0
	switch c.FinishReason {
	case "length":
		return "max_tokens", ""
	case "tool_calls", "function_call":
		return "tool_use", ""
	case "content_filter":
		return "refusal", ""
	case "stop", "":
		switch {
		case calls:
			return "tool_use", "" // some servers say stop beside tool calls
		case c.Message.Refusal != "":
			return "refusal", ""
		}
		if s, ok := fieldString(c.Message.Extra, StopSequenceField); ok {
			return "stop_sequence", s
		}
	}
	return "end_turn", ""
}

// appendStop writes the "stop_reason" and "stop_sequence" members.
func appendStop(dst []byte, c *normalize.Choice) []byte {
	reason, seq := stopReason(c)
	dst = append(dst, `"stop_reason":"`...)
	dst = append(dst, reason...)
	dst = append(dst, `","stop_sequence":`...)
	if reason == "stop_sequence" {
		return wirejson.AppendString(dst, seq)
	}
	return append(dst, "null"...)
}

// tokens splits canonical usage into Anthropic's counts.
func tokens(u *normalize.Usage) (input, cacheWrite, cacheRead, output int) {
	if u == nil {
		return 0, 0, 0, 0
	}
	if len(u.PromptTokensDetails) > 0 {
		p := parserPool.Get()
		if v, err := p.ParseBytes(u.PromptTokensDetails); err == nil {
			cacheRead = v.GetInt("cached_tokens")
			cacheWrite = v.GetInt(CacheWriteTokens)
		}
		parserPool.Put(p)
	}
	input = max(u.PromptTokens-cacheRead-cacheWrite, 0)
	return input, cacheWrite, cacheRead, u.CompletionTokens
}

func appendUsage(dst []byte, u *normalize.Usage) []byte {
	in, write, read, out := tokens(u)
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(in), 10)
	dst = append(dst, `,"cache_creation_input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(write), 10)
	dst = append(dst, `,"cache_read_input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(read), 10)
	dst = append(dst, `,"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(out), 10)
	return append(dst, '}')
}

// field returns the value of the member name of fs (sorted or not).
func field(fs []normalize.Field, name string) ([]byte, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f.Value, len(f.Value) > 0
		}
	}
	return nil, false
}

// fieldString returns the member name of fs when it is a non-empty string.
func fieldString(fs []normalize.Field, name string) (string, bool) {
	v, ok := field(fs, name)
	if !ok {
		return "", false
	}
	s := jsonString(v)
	return s, s != ""
}

// jsonString decodes a JSON string value; "" for anything else.
func jsonString(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	pv, err := p.ParseBytes(v)
	if err != nil || pv.Type() != fastjson.TypeString {
		return ""
	}
	return string(pv.GetStringBytes())
}

// reasoning returns the reasoning text of a message or delta.
func reasoning(fs []normalize.Field) string {
	if s, ok := fieldString(fs, ReasoningField); ok {
		return s
	}
	s, _ := fieldString(fs, "reasoning") // OpenRouter's name for it
	return s
}

// thinkingBlock is one element of ThinkingBlocksField.
type thinkingBlock struct {
	typ       string // "thinking" or "redacted_thinking"
	text      string // thinking
	signature string // thinking
	data      string // redacted_thinking
}

func (b thinkingBlock) appendTo(dst []byte) []byte {
	if b.typ == "redacted_thinking" {
		dst = append(dst, `{"type":"redacted_thinking","data":`...)
		dst = wirejson.AppendString(dst, b.data)
		return append(dst, '}')
	}
	dst = append(dst, `{"type":"thinking","thinking":`...)
	dst = wirejson.AppendString(dst, b.text)
	dst = append(dst, `,"signature":`...)
	dst = wirejson.AppendString(dst, b.signature)
	return append(dst, '}')
}

// forThinkingFrom calls f for each thinking or redacted_thinking block of
// a ThinkingBlocksField value from the from-th element on, and returns the
// number of elements.
func forThinkingFrom(v []byte, from int, f func(thinkingBlock)) (n int) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	pv, err := p.ParseBytes(v)
	if err != nil || pv.Type() != fastjson.TypeArray {
		return from
	}
	a, _ := pv.Array()
	for i := from; i < len(a); i++ {
		e := a[i]
		b := thinkingBlock{typ: string(e.GetStringBytes("type"))}
		switch b.typ {
		case "thinking":
			b.text, b.signature = string(e.GetStringBytes("thinking")), string(e.GetStringBytes("signature"))
		case "redacted_thinking":
			b.data = string(e.GetStringBytes("data"))
		default:
			continue
		}
		f(b)
	}
	return max(len(a), from)
}

func forThinking(v []byte, f func(thinkingBlock)) { forThinkingFrom(v, 0, f) }

// AppendError appends an Anthropic error body,
// {"type":"error","error":{"type":…,"message":…}}, for an error the
// gateway describes by HTTP status and OpenAI error type: the status
// decides Anthropic's type (400 invalid_request_error, 401
// authentication_error, 402 billing_error, 403 permission_error, 404
// not_found_error, 413 request_too_large, 429 rate_limit_error, 500 and
// 502 api_error, 503 and 529 overloaded_error, 504 timeout_error), the
// OpenAI type only when the status is not one of those.
func AppendError(dst []byte, status int, openAIType, message string) []byte {
	dst = append(dst, `{"type":"error","error":{"type":"`...)
	dst = append(dst, errorType(status, openAIType)...)
	dst = append(dst, `","message":`...)
	dst = wirejson.AppendString(dst, message)
	return append(dst, `}}`...)
}

func errorType(status int, openAIType string) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusInternalServerError, http.StatusBadGateway:
		return "api_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	}
	switch openAIType {
	case "invalid_request_error", "authentication_error", "permission_error", "not_found_error", "rate_limit_error":
		return openAIType
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}
