// Package azure adapts Azure OpenAI chat completions
// (POST {endpoint}/openai/deployments/{deployment}/chat/completions) to
// Ditto's canonical requests and responses. The body is OpenAI's wire
// format, encoded by normalize.AppendOpenAIRequest and decoded by
// normalize.ParseOpenAIResponse and normalize.ParseOpenAIChunk, so fields
// Ditto does not model pass through unchanged.
//
// Azure's additions to the stream are dropped: the leading chunk that
// carries only prompt_filter_results, and chunks whose choices carry only
// content_filter_results. A stream ends with io.EOF only at "data: [DONE]"
// after every choice has finished.
package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/eventstream"
	"github.com/dittocache/ditto/providers/internal/upstream"
)

// DefaultAPIVersion is the GA api-version sent when Options.APIVersion is
// empty.
const DefaultAPIVersion = "2024-10-21"

const name = "azure"

// Options configure a Client.
type Options struct {
	// Endpoint is the resource URL, e.g. https://NAME.openai.azure.com;
	// required. A trailing slash is ignored.
	Endpoint string
	APIKey   string // sent as api-key; never logged or put in errors
	// APIVersion is the api-version query parameter; "" means
	// DefaultAPIVersion.
	APIVersion string
	// Deployments maps a model name (Request.Model) to the deployment
	// serving it. A model missing from the map (or a nil map) is used as
	// the deployment name. Not modified by the Client.
	Deployments map[string]string
	HTTPClient  *http.Client // nil: providers.NewHTTPClient with default options
}

// Client is the Azure OpenAI adapter. It is safe for concurrent use and
// keeps no state between calls.
type Client struct {
	endpoint    string
	key         string
	query       string
	deployments map[string]string
	api         upstream.Poster
}

var _ providers.Provider = (*Client)(nil)

// New returns a Client for o.
func New(o Options) *Client {
	v := o.APIVersion
	if v == "" {
		v = DefaultAPIVersion
	}
	c := &Client{
		endpoint:    strings.TrimRight(o.Endpoint, "/"),
		key:         o.APIKey,
		query:       "api-version=" + url.QueryEscape(v),
		deployments: o.Deployments,
	}
	c.api = upstream.NewPoster(name, o.HTTPClient, http.Header{"Api-Key": {o.APIKey}}, func(status int, h http.Header, body []byte) error {
		return decodeError(status, h, body, o.APIKey)
	})
	c.api.KeyHeader = "Api-Key" // pass-through: a client key in the context replaces it
	return c
}

// Complete sends a non-streaming request.
func (c *Client) Complete(ctx context.Context, req *normalize.Request) (*normalize.Response, error) {
	body, err := c.api.Fetch(ctx, c.url(req.Model), normalize.OpenAIRequestJSON(req, req.Model, false))
	if err != nil {
		return nil, err
	}
	r, err := normalize.ParseOpenAIResponse(body)
	if err != nil {
		return nil, &providers.Error{Provider: name, Status: http.StatusBadGateway, Type: "server_error",
			Message: "Azure returned a response that is not a chat completion: " + err.Error()}
	}
	return r, nil
}

// Stream sends a streaming request; the caller must Close the stream.
func (c *Client) Stream(ctx context.Context, req *normalize.Request) (normalize.Stream, error) {
	resp, err := c.api.Post(ctx, c.url(req.Model), normalize.OpenAIRequestJSON(req, req.Model, true))
	if err != nil {
		return nil, err
	}
	return newStream(providers.StreamBody(resp), c.key), nil
}

// Deployment returns the deployment serving model.
func (c *Client) Deployment(model string) string {
	if d, ok := c.deployments[model]; ok {
		return d
	}
	return model
}

// url is the chat-completions endpoint of the deployment serving model.
func (c *Client) url(model string) string {
	return c.endpoint + "/openai/deployments/" + url.PathEscape(c.Deployment(model)) + "/chat/completions?" + c.query
}

func decodeError(status int, h http.Header, body []byte, key string) *providers.Error {
	return upstream.OpenAIError(name, status, h, body, key)
}

var errTruncated = fmt.Errorf("azure: stream ended before [DONE]: %w", io.ErrUnexpectedEOF)

// stream reads Azure's OpenAI-format SSE.
type stream struct {
	*eventstream.Stream
	key     string
	choices eventstream.Choices
}

func newStream(body io.ReadCloser, key string) *stream {
	s := &stream{key: key}
	s.Stream = eventstream.New(name, body, s.handle, func() error { return errTruncated })
	return s
}

func (s *stream) handle(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "[DONE]" {
		if !s.choices.Complete() {
			return errors.New("azure: stream sent [DONE] before every choice finished")
		}
		s.Finish()
		return nil
	}
	if err := upstream.OpenAIStreamError(name, data, s.key); err != nil {
		return err
	}
	c, err := normalize.ParseOpenAIChunk(data)
	if err != nil {
		return fmt.Errorf("azure: decoding stream event: %w", err)
	}
	if !noop(c) {
		s.choices.Track(c)
		s.Push(c)
	}
	return nil
}

// noop reports a chunk with nothing for the client: Azure's
// prompt_filter_results chunk (no choices, no usage) and content-filter
// annotations (choices with empty deltas and no finish reason).
func noop(c *normalize.Chunk) bool {
	if c.Usage != nil {
		return false
	}
	for _, cc := range c.Choices {
		d := &cc.Delta
		if cc.FinishReason != "" || cc.Logprobs != nil || d.Role != "" || d.Content != nil || d.Refusal != nil || len(d.ToolCalls) > 0 || len(d.Extra) > 0 {
			return false
		}
	}
	return true
}
