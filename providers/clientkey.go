package providers

import (
	"context"
	"strings"
)

type clientKeyCtx struct{}

// clientKey wraps the credential so that printing a context (context's
// String method prints string values) never reveals it.
type clientKey struct{ v string }

func (clientKey) String() string { return "REDACTED" }

// WithClientKey returns a context under which adapters authenticate to
// their upstream with key, the client's own provider credential
// (pass-through), instead of their configured key. Each adapter sends it
// where it sends its own key (Authorization: Bearer, x-api-key, api-key or
// x-goog-api-key) and redacts it from error messages. An empty key returns
// ctx unchanged.
//
// The gateway sets it only around calls to the provider the key is for:
// a fallback to another provider must not receive it. The key never
// belongs in a canonical request, a cache key, a stored entry or a log.
func WithClientKey(ctx context.Context, key string) context.Context {
	if key == "" {
		return ctx
	}
	return context.WithValue(ctx, clientKeyCtx{}, clientKey{key})
}

// WithoutClientKey returns a context under which adapters use their
// configured key again, for a call to another provider than the one the
// client's key is for (a fallback).
func WithoutClientKey(ctx context.Context) context.Context {
	if _, ok := ClientKey(ctx); !ok {
		return ctx
	}
	return context.WithValue(ctx, clientKeyCtx{}, clientKey{})
}

// ClientKey returns the key set by WithClientKey, if any.
func ClientKey(ctx context.Context) (string, bool) {
	k, _ := ctx.Value(clientKeyCtx{}).(clientKey)
	return k.v, k.v != ""
}

// RedactClientKey removes the context's client key from the message of an
// upstream *Error in err's chain, so a provider echoing the caller's key
// back never puts it in what Ditto returns or logs. It returns err.
func RedactClientKey(ctx context.Context, err error) error {
	k, ok := ClientKey(ctx)
	if !ok {
		return err
	}
	if pe, isPE := AsError(err); isPE && strings.Contains(pe.Message, k) {
		pe.Message = strings.ReplaceAll(pe.Message, k, "[REDACTED]")
	}
	return err
}
