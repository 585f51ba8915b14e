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
//   - tools become {name, description, input_schema, strict}; tool_choice
//     auto, none, required and a named function become auto, none, any and
//     tool; parallel_tool_calls=false becomes disable_parallel_tool_use;
//   - stop → stop_sequences, max_tokens → max_tokens (required by Anthropic;
//     Options.DefaultMaxTokens when the client sent none), user →
//     metadata.user_id, response_format json_schema →
//     output_config.format, service_tier standard_only as is;
//   - fields Ditto does not model (Request.Extra) are passed through as
//     top-level members, so clients can use Anthropic-only parameters such
//     as top_k, thinking or output_config (when there is no
//     response_format).
//
// Anthropic members ride in the canonical form where it keeps unknown
// members, and are sent back where Anthropic has them; this is how
// Messages clients (normalize/messages) keep everything they send:
//   - members of a tool message (is_error, cache_control) become members of
//     its tool_result block; members of a tool call beside id, type and
//     function (cache_control, caller) members of its tool_use block;
//     members of a function tool beside type and function (cache_control,
//     defer_loading, ...) members of the Anthropic tool; members of an
//     image_url or file part beside its own (cache_control; a document's
//     title, context, citations) members of the image or document block;
//     text parts with more members are sent as they are;
//   - content parts of a type that is not an OpenAI one (thinking,
//     redacted_thinking, search_result, server tool blocks, image or
//     document blocks Ditto does not translate) are Anthropic blocks,
//     sent as they are;
//   - tools of a date-versioned type (web_search_20250305, bash_20250124,
//     ...) are Anthropic server tools, sent as they are.
//
// Parameters Anthropic cannot honour (n > 1, logprobs, top_logprobs,
// logit_bias, seed, presence and frequency penalties, audio, modalities,
// prediction, reasoning_effort, verbosity, service tiers other than
// standard_only, response_format json_object, other non-function tools,
// audio and file-id parts) are rejected with a 400 *providers.Error naming
// the parameter rather than silently dropped. Dropped without error
// because they do not change the answer: message names, image detail, and
// the pure-metadata fields in Request.Unkeyed.
//
// Anthropic → canonical: text blocks are joined into the content, tool_use
// blocks become tool calls with their input as compact JSON arguments,
// thinking blocks become the "reasoning_content" message field and, when
// signed or redacted, the "thinking_blocks" field (the blocks as Anthropic
// sent them, for clients that must send them back), a stop sequence that
// ended the answer the "stop_sequence" field, and stop_reason
// end_turn/stop_sequence/pause_turn → stop, max_tokens → length, tool_use
// → tool_calls, refusal → content_filter. Cache read and creation tokens
// count as prompt tokens; reads are reported as
// prompt_tokens_details.cached_tokens, creations (when any) as
// prompt_tokens_details.cache_write_tokens. A stream emits the
// thinking_blocks field, cumulatively, at the end of each thinking block,
// and the stop_sequence field with its finish reason.
package anthropic

import (
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
	url       string // the Messages endpoint
	key       string
	api       upstream.Poster
	maxTokens int
}

var _ providers.Provider = (*Client)(nil)

// New returns a Client for o.
func New(o Options) *Client {
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	c := &Client{url: base + "/v1/messages", key: o.APIKey, maxTokens: o.DefaultMaxTokens}
	if c.maxTokens <= 0 {
		c.maxTokens = DefaultMaxTokens
	}
	c.api = upstream.NewPoster(name, o.HTTPClient, http.Header{"X-Api-Key": {o.APIKey}, "Anthropic-Version": {APIVersion}}, func(status int, h http.Header, body []byte) error {
		return decodeError(status, h, body, o.APIKey)
	})
	c.api.KeyHeader = "X-Api-Key" // pass-through: a client key in the context replaces it
	return c
}

// Complete sends req and returns the whole answer.
func (c *Client) Complete(ctx context.Context, req *normalize.Request) (*normalize.Response, error) {
	body, err := encodeRequest(req, false, c.maxTokens)
	if err != nil {
		return nil, err
	}
	if body, err = c.api.FetchWith(ctx, c.url, body, betaHeader(req.Betas)); err != nil {
		return nil, err
	}
	r, err := decodeResponse(body, time.Now().Unix())
	if err != nil {
		return nil, fmt.Errorf("anthropic: %w", err)
	}
	return r, nil
}

// Stream sends req with stream=true and returns the answer's chunks.
func (c *Client) Stream(ctx context.Context, req *normalize.Request) (normalize.Stream, error) {
	body, err := encodeRequest(req, true, c.maxTokens)
	if err != nil {
		return nil, err
	}
	resp, err := c.api.PostWith(ctx, c.url, body, betaHeader(req.Betas))
	if err != nil {
		return nil, err
	}
	return newStream(providers.StreamBody(resp), time.Now().Unix(), c.key), nil
}

// betaHeader is the anthropic-beta header of the beta features betas
// (Request.Betas form), or nil.
func betaHeader(betas []string) http.Header {
	if len(betas) == 0 {
		return nil
	}
	return http.Header{"Anthropic-Beta": {strings.Join(betas, ",")}}
}
