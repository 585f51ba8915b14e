// Package anthropic adapts Anthropic's Messages API (POST /v1/messages) to
// Ditto's canonical requests and responses, streams included.
//
// Translation, canonical → Anthropic:
//   - system and developer messages, wherever they appear, become the
//     top-level system prompt (a string, or text blocks when there are
//     several);
//   - user and assistant turns keep their order, consecutive turns of one
//     role are merged (Anthropic requires alternation), and tool messages
//     become tool_result blocks of a user turn (consecutive results share
//     one turn);
//   - image parts: data: URLs become base64 sources, other URLs url
//     sources; PDF file parts sent as data: URLs become document blocks;
//   - tools become {name, description, input_schema}; tool_choice auto,
//     none, required and a named function become auto, none, any and tool;
//     parallel_tool_calls=false becomes disable_parallel_tool_use;
//   - stop → stop_sequences, max_tokens → max_tokens (required by Anthropic;
//     Options.DefaultMaxTokens when the client sent none), user →
//     metadata.user_id, response_format json_schema →
//     output_config.format;
//   - fields Ditto does not model (Request.Extra) are passed through as
//     top-level members, so clients can use Anthropic-only parameters such
//     as top_k or thinking.
//
// Parameters Anthropic cannot honour (n > 1, logprobs, top_logprobs,
// logit_bias, seed, presence and frequency penalties, audio, modalities,
// prediction, reasoning_effort, verbosity, service_tier, response_format
// json_object, non-function tools, audio and file-id parts) are rejected
// with a 400 *providers.Error naming the parameter rather than silently
// dropped. Dropped without error because they do not change the answer:
// message names, image detail, strict on tools, and the pure-metadata
// fields in Request.Unkeyed.
//
// Anthropic → canonical: text blocks are joined into the content, tool_use
// blocks become tool calls with their input as compact JSON arguments,
// thinking blocks become the "reasoning_content" message field, and
// stop_reason end_turn/stop_sequence/pause_turn → stop, max_tokens →
// length, tool_use → tool_calls, refusal → content_filter. Cache read and
// creation tokens count as prompt tokens, and cache reads are reported as
// prompt_tokens_details.cached_tokens.
package anthropic

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/upstream"
)

// Defaults for Options.
const (
	DefaultBaseURL   = "https://api.anthropic.com"
	DefaultMaxTokens = 4096
	// APIVersion is the anthropic-version header the adapter speaks.
	APIVersion = "2023-06-01"
)

const name = "anthropic"

// Options configure a Client. The zero value works except for APIKey.
type Options struct {
	BaseURL    string       // default DefaultBaseURL; a trailing slash is ignored
	APIKey     string       // sent as x-api-key; never logged or put in errors
	HTTPClient *http.Client // nil: providers.NewHTTPClient with default options
	// DefaultMaxTokens is the max_tokens sent when the request has none;
	// Anthropic requires the field. 0 means DefaultMaxTokens (4096).
	DefaultMaxTokens int
}

// Client is the Anthropic adapter. It is safe for concurrent use and keeps
// no state between calls.
type Client struct {
	base      string
	key       string
	hc        *http.Client
	maxTokens int
}

var _ providers.Provider = (*Client)(nil)

// New returns a Client for o.
func New(o Options) *Client {
	c := &Client{base: strings.TrimRight(o.BaseURL, "/"), key: o.APIKey, hc: o.HTTPClient, maxTokens: o.DefaultMaxTokens}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.hc == nil {
		c.hc = providers.NewHTTPClient(providers.HTTPOptions{})
	}
	if c.maxTokens <= 0 {
		c.maxTokens = DefaultMaxTokens
	}
	return c
}

// Complete sends req and returns the whole answer.
func (c *Client) Complete(ctx context.Context, req *normalize.Request) (*normalize.Response, error) {
	resp, err := c.post(ctx, req, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := upstream.ReadAll(resp.Body, upstream.MaxResponseBody)
	if err != nil {
		return nil, fmt.Errorf("anthropic: reading response: %w", err)
	}
	r, err := decodeResponse(body, time.Now().Unix())
	if err != nil {
		return nil, fmt.Errorf("anthropic: %w", err)
	}
	return r, nil
}

// Stream sends req with stream=true and returns the answer's chunks.
func (c *Client) Stream(ctx context.Context, req *normalize.Request) (normalize.Stream, error) {
	resp, err := c.post(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return newStream(resp.Body, time.Now().Unix(), c.key), nil
}

// post sends the request and returns a 200 response, or the upstream error.
func (c *Client) post(ctx context.Context, req *normalize.Request, stream bool) (*http.Response, error) {
	body, err := encodeRequest(req, stream, c.maxTokens)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/messages", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("anthropic: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("X-Api-Key", c.key)
	hr.Header.Set("Anthropic-Version", APIVersion)
	providers.InjectTrace(ctx, hr.Header)
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("anthropic: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeError(resp.StatusCode, resp.Header, upstream.ErrorBody(resp), c.key)
	}
	return resp, nil
}
