package anthropic

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/upstream"
	"github.com/dittocache/ditto/providers/internal/wire"
)

type wireResponse struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Model        string      `json:"model"`
	Content      []wireBlock `json:"content"`
	StopReason   string      `json:"stop_reason"`
	StopSequence *string     `json:"stop_sequence"`
	Usage        wireUsage   `json:"usage"`
}

type wireBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"` // thinking
	Data      string          `json:"data"`      // redacted_thinking
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// Message members, beside wire.ReasoningField, that keep what Anthropic
// said and OpenAI's answer shape cannot: the Messages renderer
// (normalize/messages) gives them back to Anthropic clients.
const (
	// thinkingBlocksField holds the thinking (with their signatures) and
	// redacted_thinking blocks, which a client must send back unchanged
	// in a tool-use loop with extended thinking.
	thinkingBlocksField = "thinking_blocks"
	// stopSequenceField names the stop sequence that ended the answer.
	stopSequenceField = "stop_sequence"
)

// thinkingBlock is one element of thinkingBlocksField.
type thinkingBlock struct {
	Type      string  `json:"type"`
	Thinking  *string `json:"thinking,omitempty"`
	Signature *string `json:"signature,omitempty"`
	Data      *string `json:"data,omitempty"`
}

func newThinking(b *wireBlock) thinkingBlock {
	if b.Type == "redacted_thinking" {
		return thinkingBlock{Type: b.Type, Data: &b.Data}
	}
	return thinkingBlock{Type: "thinking", Thinking: &b.Thinking, Signature: &b.Signature}
}

// thinkingExtra returns the thinkingBlocksField member for blocks, or
// none when no block carries anything beyond its text (no signature, not
// redacted): the reasoning text alone is then all there is.
func thinkingExtra(blocks []thinkingBlock) []normalize.Field {
	keep := false
	for _, b := range blocks {
		if b.Data != nil || (b.Signature != nil && *b.Signature != "") {
			keep = true
		}
	}
	if !keep {
		return nil
	}
	v, _ := wire.Marshal(blocks)
	return []normalize.Field{{Name: thinkingBlocksField, Value: v}}
}

func stopSequenceExtra(stop string, seq *string) []normalize.Field {
	if stop != "stop_sequence" || seq == nil {
		return nil
	}
	v, _ := wire.Marshal(*seq)
	return []normalize.Field{{Name: stopSequenceField, Value: v}}
}

// sortFields orders message members by name, as canonical messages have
// them.
func sortFields(fs []normalize.Field) []normalize.Field {
	slices.SortFunc(fs, func(a, b normalize.Field) int { return strings.Compare(a.Name, b.Name) })
	return fs
}

type wireUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

func decodeResponse(body []byte, created int64) (*normalize.Response, error) {
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, errors.New("decoding message: " + err.Error())
	}
	if w.Type != "message" {
		return nil, errors.New("response is not a message (type " + strconv.Quote(w.Type) + ")")
	}
	m := normalize.Message{Role: normalize.RoleAssistant}
	var text, thinking strings.Builder
	var blocks []thinkingBlock
	for i := range w.Content {
		b := &w.Content[i]
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "thinking":
			thinking.WriteString(b.Thinking)
			blocks = append(blocks, newThinking(b))
		case "redacted_thinking":
			blocks = append(blocks, newThinking(b))
		case "tool_use":
			m.ToolCalls = append(m.ToolCalls, normalize.ToolCall{ID: b.ID, Type: "function", Name: b.Name, Arguments: wire.CompactArgs(b.Input)})
		}
	}
	// As an assembled stream has it: content is absent only beside tool calls.
	if text.Len() > 0 || len(m.ToolCalls) == 0 {
		m.Content = []normalize.Part{{Type: normalize.PartText, Text: text.String()}}
	}
	if thinking.Len() > 0 {
		m.Extra = wire.Reasoning(thinking.String())
	}
	m.Extra = append(m.Extra, thinkingExtra(blocks)...)
	m.Extra = append(m.Extra, stopSequenceExtra(w.StopReason, w.StopSequence)...)
	if len(m.Extra) > 1 {
		m.Extra = sortFields(m.Extra)
	}
	return &normalize.Response{
		ID:      w.ID,
		Created: created,
		Model:   w.Model,
		Choices: []normalize.Choice{{Message: m, FinishReason: finishReason(w.StopReason)}},
		Usage:   w.Usage.canonical(),
	}, nil
}

func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn
		return "stop"
	}
}

// canonical counts cache reads and writes as prompt tokens, as OpenAI
// does, with the reads as cached_tokens and the writes as
// cache_write_tokens (OpenRouter's name) when there are any.
func (u *wireUsage) canonical() *normalize.Usage {
	prompt := u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
	details := `{"cached_tokens":` + strconv.Itoa(u.CacheReadInputTokens) + `}`
	if u.CacheCreationInputTokens > 0 {
		details = `{"cached_tokens":` + strconv.Itoa(u.CacheReadInputTokens) + `,"cache_write_tokens":` + strconv.Itoa(u.CacheCreationInputTokens) + `}`
	}
	return &normalize.Usage{
		PromptTokens:        prompt,
		CompletionTokens:    u.OutputTokens,
		TotalTokens:         prompt + u.OutputTokens,
		PromptTokensDetails: json.RawMessage(details),
	}
}

// errorKinds maps Anthropic error types to the status and OpenAI error type
// the gateway reports. overloaded_error (HTTP 529) becomes 503, which
// OpenAI clients know how to retry.
var errorKinds = map[string]struct {
	status int
	typ    string
}{
	"invalid_request_error": {400, "invalid_request_error"},
	"authentication_error":  {401, "authentication_error"},
	"billing_error":         {402, "invalid_request_error"},
	"permission_error":      {403, "permission_error"},
	"not_found_error":       {404, "not_found_error"},
	"request_too_large":     {413, "invalid_request_error"},
	"rate_limit_error":      {429, "rate_limit_error"},
	"api_error":             {500, "server_error"},
	"timeout_error":         {504, "server_error"},
	"overloaded_error":      {503, "server_error"},
}

type wireError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// decodeError maps an error response (status != 200) to *providers.Error.
func decodeError(status int, h http.Header, body []byte, key string) *providers.Error {
	var w wireError
	_ = json.Unmarshal(body, &w)
	if status == 529 {
		status = http.StatusServiceUnavailable
	}
	e := &providers.Error{
		Provider:   name,
		Status:     status,
		Type:       providers.TypeForStatus(status),
		Code:       w.Error.Type,
		Message:    w.Error.Message,
		RetryAfter: providers.ParseRetryAfter(h, time.Now()),
	}
	if k, ok := errorKinds[w.Error.Type]; ok && k.status == status {
		e.Type = k.typ
	}
	e.Message = upstream.ErrorMessage(e.Message, body, status, key)
	return e
}

// streamError maps an error event inside a 200 stream.
func streamError(data []byte, key string) *providers.Error {
	var w wireError
	_ = json.Unmarshal(data, &w)
	e := &providers.Error{Provider: name, Status: http.StatusBadGateway, Type: "server_error", Code: w.Error.Type, Message: w.Error.Message}
	if k, ok := errorKinds[w.Error.Type]; ok {
		e.Status, e.Type = k.status, k.typ
	}
	if e.Message == "" {
		e.Message = "stream error: " + upstream.Snippet(data)
	}
	e.Message = upstream.Redact(e.Message, key)
	return e
}
