package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/completions"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/eventstream"
	"github.com/dittocache/ditto/providers/internal/wire"
)

// Legacy text completions (POST {base_url}/completions): requests of
// normalize/completions' dialect. The body is encoded from the canonical
// request (the shared parameters, the dialect fields prompt, echo, suffix,
// best_of and logprobs, pass-through members), and text_completion
// answers and chunks are decoded into canonical ones: each choice's text
// is its message content, its legacy logprobs object is kept as sent.
// Streams ask for stream_options.include_usage, and end like chat streams
// (see the package comment).

var _ providers.Dialects = (*Client)(nil)

// Speaks reports whether the adapter sends requests of dialect d as they
// are: the portable form and legacy completions. Other providers are sent
// completions.Portable's copy instead.
func (c *Client) Speaks(d string) bool {
	return d == "" || d == completions.Dialect
}

// completionsURL is the legacy endpoint beside chat completions.
func (c *Client) completionsURL() string {
	return strings.TrimSuffix(c.url, "/chat/completions") + "/completions"
}

type legacyRequest struct {
	Model            string          `json:"model"`
	Prompt           json.RawMessage `json:"prompt"`
	MaxTokens        *int            `json:"max_tokens,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	TopP             *float64        `json:"top_p,omitempty"`
	N                *int            `json:"n,omitempty"`
	Stop             []string        `json:"stop,omitempty"`
	PresencePenalty  *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64        `json:"frequency_penalty,omitempty"`
	LogitBias        json.RawMessage `json:"logit_bias,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	ResponseFormat   json.RawMessage `json:"response_format,omitempty"`
	User             string          `json:"user,omitempty"`
	Stream           bool            `json:"stream,omitempty"`
	StreamOptions    *streamOptions  `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// legacyFields are the members legacyRequest may write; pass-through
// members must not collide with them.
var legacyFields = map[string]bool{
	"model": true, "prompt": true, "max_tokens": true, "temperature": true, "top_p": true, "n": true,
	"stop": true, "presence_penalty": true, "frequency_penalty": true, "logit_bias": true, "seed": true,
	"response_format": true, "user": true, "stream": true, "stream_options": true,
}

// encodeLegacy encodes req as a completions request body. Parameters the
// legacy API does not have are refused (a 400 naming them) rather than
// dropped; the decoder of the dialect never produces them.
func (c *Client) encodeLegacy(req *normalize.Request, stream bool) ([]byte, error) {
	p := &req.Params
	bad := ""
	switch {
	case len(req.Tools) > 0:
		bad = "tools"
	case req.ToolChoice != "":
		bad = "tool_choice"
	case p.Logprobs:
		bad = "logprobs"
	case p.TopLogprobs != nil:
		bad = "top_logprobs"
	case p.ReasoningEffort != "":
		bad = "reasoning_effort"
	case p.Verbosity != "":
		bad = "verbosity"
	case p.ParallelToolCalls != nil:
		bad = "parallel_tool_calls"
	case len(p.Modalities) > 0:
		bad = "modalities"
	case p.Audio != nil:
		bad = "audio"
	case p.Prediction != nil:
		bad = "prediction"
	case p.ServiceTier != "":
		bad = "service_tier"
	}
	if bad != "" {
		return nil, wire.InvalidParam(c.name, bad, "%s is not a parameter of the completions API", bad)
	}
	w := legacyRequest{
		Model: req.Model, MaxTokens: p.MaxTokens, Temperature: p.Temperature, TopP: p.TopP, N: p.N, Stop: p.Stop,
		PresencePenalty: p.PresencePenalty, FrequencyPenalty: p.FrequencyPenalty, LogitBias: p.LogitBias, Seed: p.Seed,
		ResponseFormat: req.ResponseFormat, User: req.User,
	}
	if stream {
		w.Stream, w.StreamOptions = true, &streamOptions{IncludeUsage: true}
	}
	extra := make([]normalize.Field, 0, len(req.DialectFields)+len(req.Extra)+len(req.Unkeyed))
	for _, f := range req.DialectFields {
		if f.Name == completions.FieldPrompt {
			w.Prompt = json.RawMessage(f.Value)
		} else {
			extra = append(extra, f)
		}
	}
	if w.Prompt == nil {
		return nil, wire.InvalidParam(c.name, completions.FieldPrompt, "a completions request needs a prompt")
	}
	extra = append(append(extra, req.Extra...), req.Unkeyed...)
	return wire.EncodeRequest(c.name, "the completions API", &w, extra, legacyFields)
}

func (c *Client) completeLegacy(ctx context.Context, req *normalize.Request) (*normalize.Response, error) {
	body, err := c.encodeLegacy(req, false)
	if err != nil {
		return nil, err
	}
	resp, err := c.post(ctx, c.completionsURL(), body, false)
	if err != nil {
		return nil, err
	}
	if body, err = c.readAll(resp); err != nil {
		return nil, err
	}
	r, err := decodeLegacyResponse(body)
	if err != nil {
		return nil, c.badResponse("the upstream returned a response that is not a text completion: " + err.Error())
	}
	return r, nil
}

func (c *Client) streamLegacy(ctx context.Context, req *normalize.Request) (normalize.Stream, error) {
	body, err := c.encodeLegacy(req, true)
	if err != nil {
		return nil, err
	}
	resp, err := c.post(ctx, c.completionsURL(), body, true)
	if err != nil {
		return nil, err
	}
	if s, whole, err := c.wholeAnswer(resp, decodeLegacyResponse); whole {
		return s, err
	}
	return newLegacyStream(c.name, c.key, providers.StreamBody(resp)), nil
}

// wireCompletion is a text_completion object: a whole answer or one
// chunk of a stream, which share the shape.
type wireCompletion struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Text         string          `json:"text"`
		Index        int             `json:"index"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens            int             `json:"prompt_tokens"`
		CompletionTokens        int             `json:"completion_tokens"`
		TotalTokens             int             `json:"total_tokens"`
		PromptTokensDetails     json.RawMessage `json:"prompt_tokens_details"`
		CompletionTokensDetails json.RawMessage `json:"completion_tokens_details"`
	} `json:"usage"`
}

func parseCompletion(data []byte) (*wireCompletion, error) {
	var w wireCompletion
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, err
	}
	if w.Object != "" && w.Object != "text_completion" {
		return nil, fmt.Errorf("object is %q, not text_completion", w.Object)
	}
	return &w, nil
}

func (w *wireCompletion) usage() *normalize.Usage {
	if w.Usage == nil {
		return nil
	}
	u := &normalize.Usage{
		PromptTokens:            w.Usage.PromptTokens,
		CompletionTokens:        w.Usage.CompletionTokens,
		TotalTokens:             w.Usage.TotalTokens,
		PromptTokensDetails:     object(w.Usage.PromptTokensDetails),
		CompletionTokensDetails: object(w.Usage.CompletionTokensDetails),
	}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return u
}

// object returns raw when it is a JSON object (not null), compacted.
func object(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return nil
	}
	return b.Bytes()
}

func decodeLegacyResponse(body []byte) (*normalize.Response, error) {
	w, err := parseCompletion(body)
	if err != nil {
		return nil, err
	}
	if len(w.Choices) == 0 {
		return nil, errors.New("text completion has no choices")
	}
	r := &normalize.Response{ID: w.ID, Created: w.Created, Model: w.Model, SystemFingerprint: w.SystemFingerprint, Usage: w.usage()}
	r.Choices = make([]normalize.Choice, len(w.Choices))
	for i, wc := range w.Choices {
		c := normalize.Choice{
			Index:    wc.Index,
			Message:  normalize.Message{Role: normalize.RoleAssistant, Content: []normalize.Part{{Type: normalize.PartText, Text: wc.Text}}},
			Logprobs: object(wc.Logprobs),
		}
		if wc.FinishReason != nil {
			c.FinishReason = *wc.FinishReason
		}
		r.Choices[i] = c
	}
	return r, nil
}

var errLegacyTruncated = errors.New("stream ended before the answer finished")

// legacyStream reads a completions SSE stream into canonical chunks: the
// first chunk of each choice says role assistant, text becomes content.
type legacyStream struct {
	*eventstream.Stream
	name, key string
	choices   eventstream.Choices
	started   map[int]bool // choices that had their first chunk
	usage     bool
}

func newLegacyStream(name, key string, body io.ReadCloser) *legacyStream {
	s := &legacyStream{name: name, key: key, started: map[int]bool{}}
	s.Stream = eventstream.New(name, body, s.handle, func() error {
		// Servers that omit [DONE] still send the usage chunk last.
		if s.choices.Complete() && s.usage {
			return nil
		}
		return fmt.Errorf("%s: %w: %w", name, errLegacyTruncated, io.ErrUnexpectedEOF)
	})
	return s
}

func (s *legacyStream) handle(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "[DONE]" {
		if !s.choices.Complete() {
			return fmt.Errorf("%s: stream sent [DONE] before every choice finished: %w", s.name, io.ErrUnexpectedEOF)
		}
		s.Finish()
		return nil
	}
	// An error event is shaped as in chat streams.
	if e := (&stream{name: s.name, key: s.key}).inlineError(data); e != nil {
		return e
	}
	w, err := parseCompletion(data)
	if err != nil {
		return &providers.Error{Provider: s.name, Status: http.StatusBadGateway, Type: "server_error", Code: "bad_upstream_response",
			Message: "the upstream sent a malformed stream event: " + err.Error()}
	}
	c := &normalize.Chunk{ID: w.ID, Created: w.Created, Model: w.Model, SystemFingerprint: w.SystemFingerprint, Usage: w.usage()}
	c.Choices = make([]normalize.ChunkChoice, len(w.Choices))
	for i, wc := range w.Choices {
		text := wc.Text
		cc := normalize.ChunkChoice{Index: wc.Index, Delta: normalize.Delta{Content: &text}, Logprobs: object(wc.Logprobs)}
		if !s.started[wc.Index] {
			s.started[wc.Index] = true
			cc.Delta.Role = normalize.RoleAssistant
		}
		if wc.FinishReason != nil {
			cc.FinishReason = *wc.FinishReason
		}
		c.Choices[i] = cc
	}
	if c.Usage != nil {
		s.usage = true
	}
	s.choices.Track(c)
	s.Push(c)
	return nil
}
