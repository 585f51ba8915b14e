package providers

import (
	"context"
	"io"
	"net/http"
)

type readHookKey struct{}

// WithReadHook returns a context under which streaming adapters call hook
// before every read of the provider's response body, that is, just before
// they may wait for the network. A caller relaying a stream uses it to
// flush what it has buffered exactly when no more upstream data is at hand,
// as a forwarding proxy flushes after each read: one write per burst of
// events instead of one per event, and nothing held back while waiting.
// hook runs on the goroutine reading the stream.
func WithReadHook(ctx context.Context, hook func()) context.Context {
	return context.WithValue(ctx, readHookKey{}, hook)
}

// StreamBody is resp.Body, calling the read hook of the request's context
// (WithReadHook) before each read when there is one. Adapters read stream
// bodies through it.
func StreamBody(resp *http.Response) io.ReadCloser {
	if resp.Request == nil {
		return resp.Body
	}
	hook, _ := resp.Request.Context().Value(readHookKey{}).(func())
	if hook == nil {
		return resp.Body
	}
	return &hookedBody{ReadCloser: resp.Body, hook: hook}
}

type hookedBody struct {
	io.ReadCloser
	hook func()
}

func (b *hookedBody) Read(p []byte) (int, error) {
	b.hook()
	return b.ReadCloser.Read(p)
}
