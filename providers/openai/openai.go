// Package openai is the adapter for OpenAI's chat-completions API and every
// server that speaks it (vLLM, Ollama, Mistral, Groq, Together, DeepSeek,
// OpenRouter, LiteLLM, …), selected by base URL.
//
// Requests are encoded by normalize.AppendOpenAIRequest, so fields Ditto does
// not model reach the upstream unchanged. Upstream error bodies are decoded
// with go-openai's wire types and returned as *providers.Error.
package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// DefaultBaseURL is OpenAI's API root.
const DefaultBaseURL = "https://api.openai.com/v1"

// maxErrorBody bounds how much of an upstream error body is read.
const maxErrorBody = 1 << 20

// Options configure a Client. The zero value talks to api.openai.com with no
// key.
type Options struct {
	Name       string       // provider name used in errors; default "openai"
	BaseURL    string       // API root including /v1; default DefaultBaseURL
	APIKey     string       // sent as "Authorization: Bearer"; omitted when empty
	HTTPClient *http.Client // default providers.NewHTTPClient with zero options
	// Header holds extra headers sent with every request, e.g.
	// OpenAI-Organization. Must not be modified after New.
	Header http.Header
}

// Client is a stateless OpenAI-compatible adapter, safe for concurrent use.
type Client struct {
	name   string
	url    string
	key    string
	http   *http.Client
	header http.Header
}

var _ providers.Provider = (*Client)(nil)

// New returns a Client.
func New(o Options) *Client {
	c := &Client{name: o.Name, url: strings.TrimRight(o.BaseURL, "/") + "/chat/completions", key: o.APIKey, http: o.HTTPClient, header: o.Header}
	if c.name == "" {
		c.name = "openai"
	}
	if o.BaseURL == "" {
		c.url = DefaultBaseURL + "/chat/completions"
	}
	if c.http == nil {
		c.http = providers.NewHTTPClient(providers.HTTPOptions{})
	}
	return c
}

// Complete sends a non-streaming request.
func (c *Client) Complete(ctx context.Context, req *normalize.Request) (*normalize.Response, error) {
	resp, err := c.do(ctx, req, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: read response: %w", c.name, err)
	}
	r, err := normalize.ParseOpenAIResponse(body)
	if err != nil {
		return nil, &providers.Error{Provider: c.name, Status: http.StatusBadGateway, Type: "server_error", Code: "bad_upstream_response",
			Message: "the upstream returned a response that is not a chat completion: " + err.Error()}
	}
	return r, nil
}

// Stream sends a streaming request; the returned stream must be closed.
func (c *Client) Stream(ctx context.Context, req *normalize.Request) (normalize.Stream, error) {
	resp, err := c.do(ctx, req, true)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		// Some servers ignore stream:true; accept a whole completion.
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: read response: %w", c.name, err)
		}
		r, perr := normalize.ParseOpenAIResponse(body)
		if perr != nil {
			return nil, &providers.Error{Provider: c.name, Status: http.StatusBadGateway, Type: "server_error", Code: "bad_upstream_response",
				Message: "the upstream answered a stream request with " + ct}
		}
		return &replayStream{chunks: normalize.Replay(r, true)}, nil
	}
	return &stream{name: c.name, body: resp.Body, r: bufio.NewReaderSize(resp.Body, 16<<10)}, nil
}

func (c *Client) do(ctx context.Context, req *normalize.Request, stream bool) (*http.Response, error) {
	body := normalize.AppendOpenAIRequest(make([]byte, 0, 1024), req, req.Model, stream)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: new request: %w", c.name, err)
	}
	for k, v := range c.header {
		hr.Header[k] = v
	}
	hr.Header.Set("Content-Type", "application/json")
	if stream {
		hr.Header.Set("Accept", "text/event-stream")
	} else {
		hr.Header.Set("Accept", "application/json")
	}
	if c.key != "" {
		hr.Header.Set("Authorization", "Bearer "+c.key)
	}
	providers.InjectTrace(ctx, hr.Header)
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, redactURLError(err))
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, c.upstreamError(resp)
	}
	return resp, nil
}

// redactURLError drops the request URL from transport errors: some
// OpenAI-compatible servers put keys in query strings.
func redactURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

func (c *Client) upstreamError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &providers.Error{
		Provider:   c.name,
		Status:     resp.StatusCode,
		Type:       providers.TypeForStatus(resp.StatusCode),
		RetryAfter: providers.ParseRetryAfter(resp.Header, time.Now()),
	}
	var er goopenai.ErrorResponse
	if json.Unmarshal(body, &er) == nil && er.Error != nil && er.Error.Message != "" {
		e.Message = er.Error.Message
		if er.Error.Type != "" {
			e.Type = er.Error.Type
		}
		if er.Error.Param != nil {
			e.Param = *er.Error.Param
		}
		switch code := er.Error.Code.(type) {
		case string:
			e.Code = code
		case float64:
			e.Code = fmt.Sprint(int(code))
		}
	} else {
		e.Message = fmt.Sprintf("upstream returned HTTP %d", resp.StatusCode)
		if s := strings.TrimSpace(string(body)); s != "" && len(s) < 512 && !strings.ContainsAny(s, "<{") {
			e.Message += ": " + s
		}
	}
	return e
}

// stream reads OpenAI SSE. It reports io.EOF only after "data: [DONE]" (or a
// clean end of body) once every choice has finished.
type stream struct {
	name     string
	body     io.ReadCloser
	r        *bufio.Reader
	line     []byte
	open     map[int]bool // choice index → finished
	finished bool
}

func (s *stream) Recv() (*normalize.Chunk, error) {
	for {
		data, err := s.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if s.complete() {
					return nil, io.EOF
				}
				return nil, fmt.Errorf("%s: stream ended before the answer finished: %w", s.name, io.ErrUnexpectedEOF)
			}
			return nil, fmt.Errorf("%s: read stream: %w", s.name, err)
		}
		if bytes.Equal(data, []byte("[DONE]")) {
			if s.complete() {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("%s: stream ended before the answer finished: %w", s.name, io.ErrUnexpectedEOF)
		}
		if bytes.Contains(data, []byte(`"error"`)) {
			if e := s.inlineError(data); e != nil {
				return nil, e
			}
		}
		ch, err := normalize.ParseOpenAIChunk(data)
		if err != nil {
			return nil, &providers.Error{Provider: s.name, Status: http.StatusBadGateway, Type: "server_error", Code: "bad_upstream_response",
				Message: "the upstream sent a malformed stream event: " + err.Error()}
		}
		s.track(ch)
		return ch, nil
	}
}

func (s *stream) track(ch *normalize.Chunk) {
	if s.open == nil {
		s.open = make(map[int]bool, 1)
	}
	for _, c := range ch.Choices {
		if c.FinishReason != "" {
			s.open[c.Index] = true
		} else if _, ok := s.open[c.Index]; !ok {
			s.open[c.Index] = false
		}
	}
}

func (s *stream) complete() bool {
	if len(s.open) == 0 {
		return false
	}
	for _, done := range s.open {
		if !done {
			return false
		}
	}
	return true
}

// inlineError decodes an error event sent inside a 200 stream.
func (s *stream) inlineError(data []byte) error {
	var er goopenai.ErrorResponse
	if json.Unmarshal(data, &er) != nil || er.Error == nil || er.Error.Message == "" {
		return nil
	}
	e := &providers.Error{Provider: s.name, Status: http.StatusBadGateway, Type: er.Error.Type, Message: er.Error.Message}
	if e.Type == "" {
		e.Type = "server_error"
	}
	if code, ok := er.Error.Code.(string); ok {
		e.Code = code
	}
	return e
}

// next returns the data of the next SSE event, joining multi-line data.
func (s *stream) next() ([]byte, error) {
	var data []byte
	for {
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && data != nil {
				return data, nil
			}
			return nil, err
		}
		if len(line) == 0 {
			if data != nil {
				return data, nil
			}
			continue
		}
		if line[0] == ':' {
			continue // comment / keep-alive
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		if string(field) == "data" {
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, value...)
		}
	}
}

func (s *stream) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		frag, isPrefix, err := s.r.ReadLine()
		if err != nil {
			return nil, err
		}
		s.line = append(s.line, frag...)
		if !isPrefix {
			return s.line, nil
		}
		if len(s.line) > 16<<20 {
			return nil, errors.New("stream event larger than 16 MiB")
		}
	}
}

func (s *stream) Close() error {
	if s.body == nil {
		return nil
	}
	err := s.body.Close()
	s.body = nil
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
