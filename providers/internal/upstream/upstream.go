// Package upstream holds the small pieces of HTTP plumbing the provider
// adapters share: bounded body reading and error-message hygiene.
package upstream

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Body size limits. A complete answer can carry inline media; an error
// body is only ever read for its message.
const (
	MaxResponseBody = 64 << 20
	MaxErrorBody    = 1 << 20
)

// ReadAll reads at most limit bytes of r, failing when there is more.
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
