package anthropic

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/upstream"
	"github.com/dittocache/ditto/providers/internal/wire"
)

type wireResponse struct {
	ID         string      `json:"id"`
	Type       string      `json:"type"`
	Model      string      `json:"model"`
	Content    []wireBlock `json:"content"`
	StopReason string      `json:"stop_reason"`
	Usage      wireUsage   `json:"usage"`
}

type wireBlock struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	Thinking string          `json:"thinking"`
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
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
	for _, b := range w.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "thinking":
			thinking.WriteString(b.Thinking)
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

func (u *wireUsage) canonical() *normalize.Usage {
	prompt := u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
	return &normalize.Usage{
		PromptTokens:        prompt,
		CompletionTokens:    u.OutputTokens,
		TotalTokens:         prompt + u.OutputTokens,
		PromptTokensDetails: json.RawMessage(`{"cached_tokens":` + strconv.Itoa(u.CacheReadInputTokens) + `}`),
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
