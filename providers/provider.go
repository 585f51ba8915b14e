// Package providers declares what every model-provider adapter does and the
// error type adapters return for upstream failures. Each adapter lives in its
// own sub-package and translates canonical requests and responses
// (package normalize) to and from one provider's wire format.
//
// Adapters are stateless between calls: everything they need comes from the
// request and their construction options, so any gateway replica can use any
// adapter for any request.
package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dittocache/ditto/normalize"
)

// Provider is one upstream adapter. req.Model is the upstream model name
// (routing has already been applied). Implementations must be safe for
// concurrent use and must not modify req.
//
// Complete returns a complete answer or an error. Stream returns a stream
// whose Recv yields io.EOF only after a complete answer (every choice has a
// finish reason and, where the provider reports it, usage); the caller must
// Close it. Errors from both are *Error for upstream HTTP errors, or wrap the
// transport error (including ctx's).
type Provider interface {
	Complete(ctx context.Context, req *normalize.Request) (*normalize.Response, error)
	Stream(ctx context.Context, req *normalize.Request) (normalize.Stream, error)
}

// Embedder is the optional capability of adapters that serve embeddings;
// the gateway finds it by type assertion on a Provider. req.Model is the
// upstream model. Embed embeds every input of req and returns the vectors
// in input order, with each input's token share (see
// normalize.EmbeddingResponse.Tokens), in one upstream call unless the
// provider caps its batch size (Gemini: 100 per call), in which case in as
// few as it allows. Implementations must be safe for concurrent use and
// must not modify req. Errors are as Complete's: *Error for upstream HTTP
// errors and for inputs the provider cannot embed (400 naming the
// parameter), or the transport error wrapped (including ctx's).
type Embedder interface {
	Embed(ctx context.Context, req *normalize.EmbeddingRequest) (*normalize.EmbeddingResponse, error)
}

// Error is an upstream failure in OpenAI's error vocabulary. Adapters map
// their provider's errors onto it; the gateway passes Status and the message
// on to the client and never caches them.
type Error struct {
	Provider   string        // adapter name, e.g. "anthropic"
	Status     int           // HTTP status to return to the client
	Type       string        // OpenAI error type, e.g. "invalid_request_error"
	Code       string        // OpenAI error code, may be empty
	Param      string        // offending parameter, may be empty
	Message    string        // human-readable, never contains credentials
	RetryAfter time.Duration // from the upstream's Retry-After, 0 if absent
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: upstream status %d: %s", e.Provider, e.Status, e.Message)
}

// Retryable reports whether the same request may succeed if sent again:
// rate limits, overload and server errors.
func (e *Error) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout ||
		e.Status == 529 || e.Status >= 500
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var pe *Error
	ok := errors.As(err, &pe)
	return pe, ok
}

// TypeForStatus gives the OpenAI error type conventionally used for status.
func TypeForStatus(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request_error"
	}
}

// ParseRetryAfter reads a Retry-After header (seconds or HTTP date) and the
// OpenAI-style retry-after-ms header; it returns 0 when neither is usable.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if ms := h.Get("Retry-After-Ms"); ms != "" {
		if f, err := strconv.ParseFloat(ms, 64); err == nil && f > 0 {
			return time.Duration(f * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Dialects is implemented by adapters that take requests keyed within a
// client API's dialect (normalize.Request.Dialect, such as "completions")
// as they are, DialectFields included. Requests of any other dialect reach
// an adapter only in their portable form.
type Dialects interface {
	Speaks(dialect string) bool
}
