// Package openai is the adapter for OpenAI's chat-completions API and every
// server that speaks it (vLLM, Ollama, Mistral, Groq, Together, DeepSeek,
// OpenRouter, LiteLLM, …), selected by base URL.
//
// Requests are encoded by normalize.AppendOpenAIRequest, so fields Ditto does
// not model reach the upstream unchanged. Upstream error bodies, and error
// events inside a 200 stream, are decoded with go-openai's wire types and
// returned as *providers.Error.
//
// Streams always ask for stream_options.include_usage. A stream ends with
// io.EOF at "data: [DONE]" once every choice has finished, or, for servers
// that omit [DONE], at a clean end of body once every choice has finished
// and the usage chunk has arrived. Any other end is an error wrapping
// io.ErrUnexpectedEOF.
package openai

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/dittocache/ditto/internal/redact"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/completions"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/eventstream"
	"github.com/dittocache/ditto/providers/internal/sse"
	"github.com/dittocache/ditto/providers/internal/upstream"
)

// DefaultBaseURL is OpenAI's API root.
const DefaultBaseURL = "https://api.openai.com/v1"

// Options configure a Client. The zero value talks to api.openai.com with no
// key.
type Options struct {
	Name       string       // provider name used in errors; default "openai"
	BaseURL    string       // API root including /v1; default DefaultBaseURL
	APIKey     string       // sent as "Authorization: Bearer"; omitted when empty
	HTTPClient *http.Client // default providers.NewHTTPClient with zero options
	// Header holds extra headers sent with every request, e.g.
	// OpenAI-Organization. New copies it.
	Header http.Header
	// EmbeddingFormat is the encoding_format Embed asks of the upstream
	// (see embeddings.go): "base64" or "float"; "" means base64 for
	// OpenAI's own API (BaseURL empty or DefaultBaseURL) and float for
	// any other server.
	EmbeddingFormat string
}

// Client is a stateless OpenAI-compatible adapter, safe for concurrent use.
type Client struct {
	name   string
	url    string
	key    string
	auth   []string // "Bearer <key>", shared by every request's header
	http   *http.Client
	header http.Header

	embedURL    string // {base}/embeddings
	embedFormat string // encoding_format asked of the upstream
}

// Header values shared by every request (a header map only replaces or
// appends, never writes into a value slice).
var (
	jsonContent  = []string{"application/json"}
	acceptJSON   = []string{"application/json"}
	acceptStream = []string{"text/event-stream"}
)

var _ providers.Provider = (*Client)(nil)

// New returns a Client.
func New(o Options) *Client {
	c := &Client{name: o.Name, url: strings.TrimRight(o.BaseURL, "/") + "/chat/completions", key: o.APIKey, http: o.HTTPClient}
	if c.name == "" {
		c.name = "openai"
	}
	if o.BaseURL == "" {
		c.url = DefaultBaseURL + "/chat/completions"
	}
	if c.http == nil {
		c.http = providers.NewHTTPClient(providers.HTTPOptions{})
	}
	c.initEmbeddings(o)
	if c.key != "" {
		c.auth = []string{"Bearer " + c.key}
	}
	if len(o.Header) > 0 {
		c.header = make(http.Header, len(o.Header))
		for k, v := range o.Header {
			k = http.CanonicalHeaderKey(k)
			c.header[k] = append(c.header[k], v...)
		}
		for k, v := range c.header {
			// Requests share these slices: a full one makes any append copy.
			c.header[k] = slices.Clip(v)
		}
	}
	return c
}

// Complete sends a non-streaming request.
func (c *Client) Complete(ctx context.Context, req *normalize.Request) (*normalize.Response, error) {
	if req.Dialect == completions.Dialect {
		return c.completeLegacy(ctx, req)
	}
	resp, err := c.do(ctx, req, false)
	if err != nil {
		return nil, err
	}
	body, err := c.readAll(resp)
	if err != nil {
		return nil, err
	}
	r, err := normalize.ParseOpenAIResponse(body)
	if err != nil {
		return nil, c.badResponse("the upstream returned a response that is not a chat completion: " + err.Error())
	}
	return r, nil
}

// Stream sends a streaming request; the returned stream must be closed.
func (c *Client) Stream(ctx context.Context, req *normalize.Request) (normalize.Stream, error) {
	if req.Dialect == completions.Dialect {
		return c.streamLegacy(ctx, req)
	}
	resp, err := c.do(ctx, req, true)
	if err != nil {
		return nil, err
	}
	if s, whole, err := c.wholeAnswer(resp, normalize.ParseOpenAIResponse); whole {
		return s, err
	}
	return newStream(c.name, c.key, providers.StreamBody(resp)), nil
}

// wholeAnswer accepts a whole answer to a stream request (some servers
// ignore stream:true) and replays it as a stream; whole is false, and resp
// untouched, when resp is an event stream.
func (c *Client) wholeAnswer(resp *http.Response, parse func([]byte) (*normalize.Response, error)) (_ normalize.Stream, whole bool, _ error) {
	ct := resp.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/event-stream") {
		return nil, false, nil
	}
	body, err := c.readAll(resp)
	if err != nil {
		return nil, true, err
	}
	r, err := parse(body)
	if err != nil {
		return nil, true, c.badResponse("the upstream answered a stream request with " + ct)
	}
	return &replayStream{chunks: normalize.Replay(r, true)}, true, nil
}

// readAll reads a whole response body, bounded, and closes it.
func (c *Client) readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := upstream.ReadBody(resp, upstream.MaxResponseBody)
	if err != nil {
		return nil, fmt.Errorf("%s: read response: %w", c.name, err)
	}
	return body, nil
}

func (c *Client) badResponse(msg string) *providers.Error {
	return &providers.Error{Provider: c.name, Status: http.StatusBadGateway, Type: "server_error", Code: "bad_upstream_response",
		Message: upstream.Redact(msg, c.key)}
}

func (c *Client) do(ctx context.Context, req *normalize.Request, stream bool) (*http.Response, error) {
	return c.post(ctx, c.url, normalize.OpenAIRequestJSON(req, req.Model, stream), stream)
}

// post sends body to endpoint with the adapter's headers and returns a 2xx
// response, or the upstream's error.
func (c *Client) post(ctx context.Context, endpoint string, body []byte, stream bool) (*http.Response, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: new request: %w", c.name, redact.URLError(err))
	}
	for k, v := range c.header {
		hr.Header[k] = v
	}
	hr.Header["Content-Type"] = jsonContent
	if stream {
		hr.Header["Accept"] = acceptStream
	} else {
		hr.Header["Accept"] = acceptJSON
	}
	if k, ok := providers.ClientKey(ctx); ok {
		hr.Header["Authorization"] = []string{"Bearer " + k} // pass-through
	} else if c.auth != nil {
		hr.Header["Authorization"] = c.auth
	}
	providers.InjectTrace(ctx, hr.Header)
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, redact.URLError(err))
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, providers.RedactClientKey(ctx, c.upstreamError(resp))
	}
	return resp, nil
}

func (c *Client) upstreamError(resp *http.Response) error {
	return upstream.OpenAIError(c.name, resp.StatusCode, resp.Header, upstream.ErrorBody(resp), c.key)
}

// stream reads OpenAI SSE; see the package comment for when it ends with
// io.EOF.
type stream struct {
	name    string
	key     string
	body    io.ReadCloser
	events  *sse.Reader
	choices eventstream.Choices
	usage   bool             // a chunk carried usage
	prev    *normalize.Chunk // the last chunk, whose id and model the next shares
	err     error            // sticky: io.EOF after a complete answer, else the failure
}

func newStream(name, key string, body io.ReadCloser) *stream {
	return &stream{name: name, key: key, body: body, events: sse.NewReader(body)}
}

func (s *stream) Recv() (*normalize.Chunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	ch, err := s.next()
	if err != nil {
		s.err = err
		return nil, err
	}
	return ch, nil
}

func (s *stream) next() (*normalize.Chunk, error) {
	// The event's data is only read here: ParseOpenAIChunk copies what it
	// keeps, and errors quote at most a snippet.
	ev, err := s.events.NextView()
	if err == io.EOF {
		// Servers that omit [DONE] still send the usage chunk last.
		if s.choices.Complete() && s.usage {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%s: stream ended before the answer finished: %w", s.name, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read stream: %w", s.name, err)
	}
	data := bytes.TrimSpace(ev.Data)
	if string(data) == "[DONE]" {
		if s.choices.Complete() {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%s: stream sent [DONE] before every choice finished: %w", s.name, io.ErrUnexpectedEOF)
	}
	if e := s.inlineError(data); e != nil {
		return nil, e
	}
	ch, err := normalize.ParseOpenAIChunkAfter(data, s.prev)
	if err != nil {
		return nil, &providers.Error{Provider: s.name, Status: http.StatusBadGateway, Type: "server_error", Code: "bad_upstream_response",
			Message: "the upstream sent a malformed stream event: " + err.Error()}
	}
	if ch.Usage != nil {
		s.usage = true
	}
	s.choices.Track(ch)
	s.prev = ch
	return ch, nil
}

// inlineError decodes an error event sent inside a 200 stream, or returns
// nil when data is not one.
func (s *stream) inlineError(data []byte) error {
	return upstream.OpenAIStreamError(s.name, data, s.key)
}

// Close closes the body and recycles the event reader's buffer; like Recv,
// it must not run concurrently with Recv.
func (s *stream) Close() error {
	if s.body == nil {
		return nil
	}
	err := s.body.Close()
	s.body = nil
	s.events.Release()
	return err
}

// replayStream serves a whole completion as a stream.
type replayStream struct {
	chunks []normalize.Chunk
	i      int
}

func (s *replayStream) Recv() (*normalize.Chunk, error) {
	if s.i >= len(s.chunks) {
		return nil, io.EOF
	}
	s.i++
	return &s.chunks[s.i-1], nil
}

func (s *replayStream) Close() error { return nil }
