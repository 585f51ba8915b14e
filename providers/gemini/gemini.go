// Package gemini adapts Google's Gemini API (generativelanguage.googleapis.com,
// v1beta generateContent and streamGenerateContent with alt=sse) to Ditto's
// canonical requests and responses.
//
// Translation, canonical → Gemini:
//   - system and developer messages become systemInstruction; user turns
//     role "user", assistant turns role "model"; consecutive turns of one
//     role are merged;
//   - image parts: data: URLs become inlineData, other URLs fileData with a
//     mimeType guessed from the extension; input_audio becomes inlineData;
//     PDF files sent as data become inlineData;
//   - assistant tool calls become functionCall parts; tool messages become
//     functionResponse parts of a user turn, named after the earlier
//     assistant tool call with the same id (Gemini matches results by
//     name). A tool result that is a JSON object is sent as the response
//     object; any other text as {"result": text};
//   - function tools become functionDeclarations with their JSON Schema
//     reduced to the OpenAPI subset Gemini accepts (see sanitizeSchema);
//     tool_choice auto/none/required/named function → functionCallingConfig
//     mode AUTO/NONE/ANY/ANY with allowedFunctionNames;
//   - generationConfig gets temperature, topP, maxOutputTokens,
//     stopSequences, candidateCount (n), seed, presencePenalty,
//     frequencyPenalty, and responseMimeType/responseSchema from
//     response_format json_object or json_schema;
//   - fields Ditto does not model (Request.Extra) are passed through as
//     top-level members (e.g. safetySettings, cachedContent).
//
// Rejected with a 400 *providers.Error naming the parameter: logprobs,
// top_logprobs, logit_bias, reasoning_effort, verbosity, modalities, audio,
// prediction, service_tier, non-function tools, file-id parts, and tool
// results whose call id matches no earlier tool call. Ignored because they
// do not change the answer or Gemini has no equivalent: user, message
// names, image detail, strict, parallel_tool_calls (Gemini may always call
// several functions), Request.Unkeyed.
//
// Gemini → canonical: candidates become choices; text parts are joined
// (thought parts go to the "reasoning_content" message field); functionCall
// parts become tool calls. Gemini gives calls no ids, so ids are synthesised
// from the call's position and content ("call_<i>_<hash>"): the same answer
// always carries the same ids, streamed or not, so cached answers and the
// follow-up requests that quote them stay stable. finishReason STOP → stop
// (tool_calls when the candidate called functions), MAX_TOKENS → length,
// SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII and the image
// variants → content_filter. A prompt blocked by promptFeedback.blockReason
// is a 400 *providers.Error with code content_filter.
package gemini

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/upstream"
)

// DefaultBaseURL is the Gemini API root.
const DefaultBaseURL = "https://generativelanguage.googleapis.com"

const name = "gemini"

// Options configure a Client. The zero value works except for APIKey.
type Options struct {
	BaseURL    string       // default DefaultBaseURL; a trailing slash is ignored
	APIKey     string       // sent as x-goog-api-key, never in the URL; never logged or put in errors
	HTTPClient *http.Client // nil: providers.NewHTTPClient with default options
}

// Client is the Gemini adapter. It is safe for concurrent use and keeps no
// state between calls.
type Client struct {
	base string
	key  string
	api  upstream.Poster
}

var _ providers.Provider = (*Client)(nil)

// New returns a Client for o.
func New(o Options) *Client {
	c := &Client{base: strings.TrimRight(o.BaseURL, "/"), key: o.APIKey}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	c.api = upstream.NewPoster(name, o.HTTPClient, http.Header{"X-Goog-Api-Key": {o.APIKey}}, func(status int, h http.Header, body []byte) error {
		return decodeError(status, h, body, o.APIKey)
	})
	c.api.KeyHeader = "X-Goog-Api-Key" // pass-through: a client key in the context replaces it
	return c
}

// Complete calls generateContent.
func (c *Client) Complete(ctx context.Context, req *normalize.Request) (*normalize.Response, error) {
	body, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	if body, err = c.api.Fetch(ctx, c.url(req.Model, false), body); err != nil {
		return nil, err
	}
	return decodeResponse(body, req.Model, time.Now().Unix(), c.key)
}

// Stream calls streamGenerateContent with alt=sse.
func (c *Client) Stream(ctx context.Context, req *normalize.Request) (normalize.Stream, error) {
	body, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.api.Post(ctx, c.url(req.Model, true), body)
	if err != nil {
		return nil, err
	}
	return newStream(providers.StreamBody(resp), req.Model, time.Now().Unix(), c.key), nil
}

// url is the endpoint generating model's answer, streamed or not.
func (c *Client) url(model string, stream bool) string {
	u := c.base + "/v1beta/models/" + url.PathEscape(strings.TrimPrefix(model, "models/"))
	if stream {
		return u + ":streamGenerateContent?alt=sse"
	}
	return u + ":generateContent"
}
