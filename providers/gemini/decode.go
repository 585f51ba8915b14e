package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/upstream"
	"github.com/dittocache/ditto/providers/internal/wire"
)

// wireResponse is a GenerateContentResponse; in a stream, one event.
type wireResponse struct {
	Candidates     []wireCandidate `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *wireUsage      `json:"usageMetadata"`
	ModelVersion  string          `json:"modelVersion"`
	ResponseID    string          `json:"responseId"`
	Error         json.RawMessage `json:"error"` // only in a stream
}

type wireCandidate struct {
	Index   int `json:"index"`
	Content *struct {
		Parts []wirePart `json:"parts"`
	} `json:"content"`
	FinishReason string `json:"finishReason"`
}

type wirePart struct {
	Text         *string `json:"text"`
	Thought      bool    `json:"thought"`
	FunctionCall *struct {
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	} `json:"functionCall"`
}

type wireUsage struct {
	PromptTokenCount        int `json:"promptTokenCount"`
	CandidatesTokenCount    int `json:"candidatesTokenCount"`
	TotalTokenCount         int `json:"totalTokenCount"`
	CachedContentTokenCount int `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount int `json:"toolUsePromptTokenCount"`
}

func decodeResponse(body []byte, model string, created int64, key string) (*normalize.Response, error) {
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("gemini: decoding response: %w", err)
	}
	if err := blocked(&w); err != nil {
		return nil, err
	}
	if len(w.Candidates) == 0 {
		return nil, &providers.Error{Provider: name, Status: http.StatusBadGateway, Type: "server_error", Message: "Gemini returned no candidates"}
	}
	r := &normalize.Response{ID: w.ResponseID, Created: created, Model: w.ModelVersion}
	if r.Model == "" {
		r.Model = model
	}
	for _, c := range w.Candidates {
		var p candidateParts
		p.addFrom(&c, 0)
		m := normalize.Message{Role: normalize.RoleAssistant, ToolCalls: p.calls}
		if p.text.Len() > 0 || len(p.calls) == 0 {
			m.Content = []normalize.Part{{Type: normalize.PartText, Text: p.text.String()}}
		}
		if p.thought.Len() > 0 {
			m.Extra = wire.Reasoning(p.thought.String())
		}
		r.Choices = append(r.Choices, normalize.Choice{Index: c.Index, Message: m, FinishReason: finishReason(c.FinishReason, len(p.calls) > 0)})
	}
	if w.UsageMetadata != nil {
		r.Usage = w.UsageMetadata.canonical()
	}
	return r, nil
}

// candidateParts splits a candidate's parts into text, thoughts and calls.
type candidateParts struct {
	text, thought strings.Builder
	calls         []normalize.ToolCall
}

// addFrom appends c's parts; calls are numbered from first.
func (p *candidateParts) addFrom(c *wireCandidate, first int) {
	if c.Content == nil {
		return
	}
	for _, part := range c.Content.Parts {
		switch {
		case part.FunctionCall != nil:
			args := compactArgs(part.FunctionCall.Args)
			i := first + len(p.calls)
			p.calls = append(p.calls, normalize.ToolCall{ID: callID(i, part.FunctionCall.Name, args), Type: "function", Name: part.FunctionCall.Name, Arguments: args})
		case part.Text != nil && part.Thought:
			p.thought.WriteString(*part.Text)
		case part.Text != nil:
			p.text.WriteString(*part.Text)
		}
	}
}

// callID synthesises a tool call id from the call's position among the
// candidate's calls and its content: deterministic, so the same answer
// always carries the same ids, and distinct across turns that call
// different functions or arguments.
func callID(i int, name, args string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(args))
	return fmt.Sprintf("call_%d_%08x", i, h.Sum32())
}

// compactArgs is wire.CompactArgs that also reads a null args member as
// no arguments.
func compactArgs(in json.RawMessage) string {
	if string(in) == "null" {
		return "{}"
	}
	return wire.CompactArgs(in)
}

func finishReason(r string, calls bool) string {
	switch r {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return "content_filter"
	}
	if calls {
		return "tool_calls"
	}
	return "stop" // STOP, OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, …
}

func (u *wireUsage) canonical() *normalize.Usage {
	prompt := u.PromptTokenCount + u.ToolUsePromptTokenCount
	completion := u.CandidatesTokenCount + u.ThoughtsTokenCount
	total := u.TotalTokenCount
	if total == 0 {
		total = prompt + completion
	}
	us := &normalize.Usage{
		PromptTokens:        prompt,
		CompletionTokens:    completion,
		TotalTokens:         total,
		PromptTokensDetails: json.RawMessage(`{"cached_tokens":` + strconv.Itoa(u.CachedContentTokenCount) + `}`),
	}
	if u.ThoughtsTokenCount > 0 {
		us.CompletionTokensDetails = json.RawMessage(`{"reasoning_tokens":` + strconv.Itoa(u.ThoughtsTokenCount) + `}`)
	}
	return us
}

// blocked reports a prompt Gemini refused to answer.
func blocked(w *wireResponse) error {
	if w.PromptFeedback == nil || w.PromptFeedback.BlockReason == "" || len(w.Candidates) > 0 {
		return nil
	}
	return &providers.Error{
		Provider: name,
		Status:   http.StatusBadRequest,
		Type:     "invalid_request_error",
		Code:     "content_filter",
		Message:  "Gemini blocked the prompt: " + w.PromptFeedback.BlockReason,
	}
}

type wireError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []struct {
		Type       string `json:"@type"`
		Reason     string `json:"reason"`
		RetryDelay string `json:"retryDelay"`
	} `json:"details"`
}

// statusForCode maps Google RPC status names to HTTP statuses, for errors
// that arrive inside a 200 stream.
var statusForCode = map[string]int{
	"INVALID_ARGUMENT":    400,
	"FAILED_PRECONDITION": 400,
	"OUT_OF_RANGE":        400,
	"UNAUTHENTICATED":     401,
	"PERMISSION_DENIED":   403,
	"NOT_FOUND":           404,
	"RESOURCE_EXHAUSTED":  429,
	"CANCELLED":           499,
	"INTERNAL":            500,
	"UNKNOWN":             500,
	"UNAVAILABLE":         503,
	"DEADLINE_EXCEEDED":   504,
}

// decodeError maps an error response to *providers.Error. The body is
// {"error":{"code","message","status","details"}}, sometimes wrapped in an
// array or an SSE data: line.
func decodeError(status int, h http.Header, body []byte, key string) *providers.Error {
	e := &providers.Error{Provider: name, Status: status, RetryAfter: providers.ParseRetryAfter(h, time.Now())}
	b := bytes.TrimSpace(body)
	b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("data:")))
	if len(b) > 0 && b[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(b, &arr) == nil && len(arr) > 0 {
			b = arr[0]
		}
	}
	var env struct {
		Error *wireError `json:"error"`
	}
	if json.Unmarshal(b, &env) == nil && env.Error != nil {
		fillError(e, env.Error)
	}
	e.Type = providers.TypeForStatus(e.Status)
	e.Message = upstream.ErrorMessage(e.Message, body, status, key)
	return e
}

// streamError maps an error object sent inside a 200 stream.
func streamError(raw json.RawMessage, key string) *providers.Error {
	var we wireError
	_ = json.Unmarshal(raw, &we)
	e := &providers.Error{Provider: name, Status: http.StatusBadGateway}
	if s, ok := statusForCode[we.Status]; ok {
		e.Status = s
	} else if we.Code >= 400 && we.Code < 600 {
		e.Status = we.Code
	}
	fillError(e, &we)
	if e.Message == "" {
		e.Message = "stream error: " + upstream.Snippet(raw)
	}
	e.Type = providers.TypeForStatus(e.Status)
	e.Message = upstream.Redact(e.Message, key)
	return e
}

func fillError(e *providers.Error, we *wireError) {
	e.Message = we.Message
	e.Code = strings.ToLower(we.Status)
	for _, d := range we.Details {
		switch {
		case d.Reason == "API_KEY_INVALID":
			// Gemini answers a bad key with 400 INVALID_ARGUMENT.
			e.Status, e.Code = http.StatusUnauthorized, "invalid_api_key"
		case d.RetryDelay != "" && e.RetryAfter == 0:
			if dur, err := time.ParseDuration(d.RetryDelay); err == nil && dur > 0 {
				e.RetryAfter = dur
			}
		}
	}
}
