// Package upstream holds the small pieces of HTTP plumbing the provider
// adapters share: sending requests, bounded body reading and error-message
// hygiene.
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dittocache/ditto/providers"
)

// Poster sends one adapter's requests: a JSON body POSTed with fixed
// headers and the caller's trace context, where any status but 200 OK is
// the adapter's error.
type Poster struct {
	Name   string       // adapter name; prefixes transport errors as "NAME: …"
	Client *http.Client // required
	// Header is sent with every request besides Content-Type
	// application/json, e.g. the API key; keys in canonical form. Not
	// modified.
	Header http.Header
	// KeyHeader names the header of Header that carries the API key (e.g.
	// "X-Api-Key"), canonical form. When the request's context carries a
	// client key (providers.WithClientKey), Post sends that instead and
	// redacts it from errors. Empty: the context's key is ignored.
	KeyHeader string
	// Error maps a response whose status is not 200 (its status, headers
	// and at most MaxErrorBody bytes of body) to the error Post returns.
	Error func(status int, h http.Header, body []byte) error
}

// NewPoster returns a Poster for the adapter name sending header (copied,
// keys canonicalised) with client, or with providers.NewHTTPClient's
// default client when client is nil; decodeError is its Error.
func NewPoster(name string, client *http.Client, header http.Header, decodeError func(status int, h http.Header, body []byte) error) Poster {
	if client == nil {
		client = providers.NewHTTPClient(providers.HTTPOptions{})
	}
	h := make(http.Header, len(header))
	for k, v := range header {
		k = http.CanonicalHeaderKey(k)
		h[k] = append(h[k], v...)
	}
	return Poster{Name: name, Client: client, Header: h, Error: decodeError}
}

// Post sends body to url and returns the response when its status is 200
// OK; the caller must close its body. Otherwise it closes the body and
// returns p.Error's error, or the transport error prefixed with p.Name.
func (p *Poster) Post(ctx context.Context, url string, body []byte) (*http.Response, error) {
	return p.PostWith(ctx, url, body, nil)
}

// PostWith is Post with extra, this request's own headers (canonical
// keys), sent besides p.Header.
func (p *Poster) PostWith(ctx context.Context, url string, body []byte, extra http.Header) (*http.Response, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	for k, v := range p.Header {
		hr.Header[k] = append([]string(nil), v...)
	}
	for k, v := range extra {
		hr.Header[k] = append([]string(nil), v...)
	}
	if k, ok := providers.ClientKey(ctx); ok && p.KeyHeader != "" {
		hr.Header[p.KeyHeader] = []string{k}
	}
	hr.Header.Set("Content-Type", "application/json")
	providers.InjectTrace(ctx, hr.Header)
	resp, err := p.Client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, providers.RedactClientKey(ctx, p.Error(resp.StatusCode, resp.Header, ErrorBody(resp)))
	}
	return resp, nil
}

// Fetch is Post for a complete answer: it returns the whole response body
// (at most MaxResponseBody bytes), having closed it.
func (p *Poster) Fetch(ctx context.Context, url string, body []byte) ([]byte, error) {
	return p.FetchWith(ctx, url, body, nil)
}

// FetchWith is Fetch with extra headers, as PostWith.
func (p *Poster) FetchWith(ctx context.Context, url string, body []byte, extra http.Header) ([]byte, error) {
	resp, err := p.PostWith(ctx, url, body, extra)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := ReadAll(resp.Body, MaxResponseBody)
	if err != nil {
		return nil, fmt.Errorf("%s: reading response: %w", p.Name, err)
	}
	return b, nil
}

// Body size limits. A complete answer can carry inline media; an error
// body is only ever read for its message.
const (
	MaxResponseBody = 64 << 20
	MaxErrorBody    = 1 << 20
)

// ReadAll reads at most limit bytes of r, failing when there is more.
// ReadBody reads a whole response body, up to limit bytes: a declared
// Content-Length is read into a buffer of exactly that size (net/http stops
// the body there), anything else through ReadAll. It does not close the
// body.
func ReadBody(resp *http.Response, limit int64) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 {
		return ReadAll(resp.Body, limit)
	}
	if n > limit {
		return nil, fmt.Errorf("upstream body larger than %d bytes", limit)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("upstream body larger than %d bytes", limit)
	}
	return b, nil
}

// ErrorBody reads what an error response says, bounded and best effort.
func ErrorBody(resp *http.Response) []byte {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
	return b
}

// ErrorMessage is the message of an upstream error response with status
// and body: msg, the provider's own, or when that is empty a snippet of
// body, or else the status text; with secret redacted.
func ErrorMessage(msg string, body []byte, status int, secret string) string {
	if msg == "" {
		msg = Snippet(body)
		if msg == "" {
			msg = http.StatusText(status)
		}
	}
	return Redact(msg, secret)
}

// Snippet is a short printable excerpt of a body that could not be parsed,
// for error messages.
func Snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Redact removes secret from s. Upstream messages never should contain the
// API key, but an adapter must not be the place that leaks it if one does.
func Redact(s, secret string) string {
	if secret == "" || !strings.Contains(s, secret) {
		return s
	}
	return strings.ReplaceAll(s, secret, "[REDACTED]")
}

// openAIError is OpenAI's error object, as OpenAI, Azure OpenAI and
// OpenAI-compatible servers send it; code may be a string, a number or
// null.
type openAIError struct {
	Error *struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Param   *string         `json:"param"`
		Code    json.RawMessage `json:"code"`
	} `json:"error"`
}

// OpenAIError maps an error response in OpenAI's shape (status, headers,
// body) to a *providers.Error of the adapter name: the upstream's message,
// type, param and code where it sent them, the conventional type for the
// status otherwise, a snippet of a body it could not read, Retry-After,
// and secret redacted from everything.
func OpenAIError(name string, status int, h http.Header, body []byte, secret string) *providers.Error {
	e := &providers.Error{
		Provider:   name,
		Status:     status,
		Type:       providers.TypeForStatus(status),
		RetryAfter: providers.ParseRetryAfter(h, time.Now()),
	}
	var w openAIError
	if json.Unmarshal(body, &w) == nil && w.Error != nil {
		e.Message = w.Error.Message
		if w.Error.Type != "" {
			e.Type = w.Error.Type
		}
		if w.Error.Param != nil {
			e.Param = Redact(*w.Error.Param, secret)
		}
		var s string
		if json.Unmarshal(w.Error.Code, &s) == nil {
			e.Code = s
		} else if len(w.Error.Code) > 0 && string(w.Error.Code) != "null" {
			e.Code = string(w.Error.Code) // a number
		}
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("upstream returned HTTP %d", status)
		// A short plain-text body says what went wrong; HTML pages and
		// JSON this decoder cannot read do not belong in a client-facing
		// message.
		if s := strings.TrimSpace(string(body)); s != "" && len(s) < 512 && !strings.ContainsAny(s, "<{") {
			e.Message += ": " + s
		}
	}
	e.Message = Redact(e.Message, secret)
	return e
}

// OpenAIStreamError decodes an error event sent inside a 200 OpenAI-style
// stream (`data: {"error":{...}}`) as a 502 *providers.Error of the adapter
// name, or returns nil when data is not one. Every chunk passes here, so
// the common case is one bytes.Contains.
func OpenAIStreamError(name string, data []byte, secret string) error {
	if !bytes.Contains(data, []byte(`"error"`)) {
		return nil
	}
	var probe struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &probe) != nil || len(probe.Error) == 0 || string(probe.Error) == "null" {
		return nil
	}
	e := OpenAIError(name, http.StatusBadGateway, nil, data, secret)
	e.RetryAfter = 0
	if e.Type == providers.TypeForStatus(http.StatusBadGateway) || e.Type == "" {
		e.Type = "server_error"
	}
	if strings.HasPrefix(e.Message, "upstream returned HTTP") {
		e.Message = "the upstream sent an error event: " + Redact(Snippet(probe.Error), secret)
	}
	return e
}
