package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
)

func EndSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// TracedStore puts each operation of Store in a client span of Tracer
// ("store get", "store set", …, with ditto.store.operation and, on Redis,
// db.system.name). Wrap a store in it only when spans are recorded.
type TracedStore struct {
	cache.Store
	Tracer trace.Tracer
	Redis  bool
}

func (t TracedStore) span(ctx context.Context, op string) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{attribute.String("ditto.store.operation", op)}
	if t.Redis {
		attrs = append(attrs, attribute.String("db.system.name", "redis"))
	}
	return t.Tracer.Start(ctx, "store "+op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

func (t TracedStore) Get(ctx context.Context, k cachekey.Key) (store.Entry, bool, error) {
	ctx, span := t.span(ctx, "get")
	e, ok, err := t.Store.Get(ctx, k)
	EndSpan(span, err)
	return e, ok, err
}

func (t TracedStore) GetMany(ctx context.Context, ks []cachekey.Key) ([]store.Result, error) {
	ctx, span := t.span(ctx, "get_many")
	rs, err := t.Store.GetMany(ctx, ks)
	EndSpan(span, err)
	return rs, err
}

func (t TracedStore) Set(ctx context.Context, k cachekey.Key, e store.Entry, ttl time.Duration) error {
	ctx, span := t.span(ctx, "set")
	err := t.Store.Set(ctx, k, e, ttl)
	EndSpan(span, err)
	return err
}

// Tag indexes the entry in the store's tag index.
func (t TracedStore) Tag(ctx context.Context, scope string, tags []string, k cachekey.Key, ttl time.Duration) error {
	ctx, span := t.span(ctx, "tag")
	err := t.Store.Tag(ctx, scope, tags, k, ttl)
	EndSpan(span, err)
	return err
}

// PurgeTag purges by tag through the store's tag index.
func (t TracedStore) PurgeTag(ctx context.Context, scope, tag string) (int, error) {
	ctx, span := t.span(ctx, "purge_tag")
	n, err := t.Store.PurgeTag(ctx, scope, tag)
	EndSpan(span, err)
	return n, err
}

func (t TracedStore) Lease(ctx context.Context, k cachekey.Key, ttl time.Duration) (func(), bool, error) {
	ctx, span := t.span(ctx, "lease")
	release, ok, err := t.Store.Lease(ctx, k, ttl)
	EndSpan(span, err)
	return release, ok, err
}

func (t TracedStore) LeaseGet(ctx context.Context, k cachekey.Key, ttl time.Duration) (store.Held, store.Entry, bool, error) {
	ctx, span := t.span(ctx, "lease_get")
	h, e, ok, err := t.Store.LeaseGet(ctx, k, ttl)
	EndSpan(span, err)
	return h, e, ok, err
}

func (t TracedStore) GetOrLease(ctx context.Context, k cachekey.Key, ttl time.Duration) (store.Entry, bool, store.Held, error) {
	ctx, span := t.span(ctx, "get_or_lease")
	e, ok, h, err := t.Store.GetOrLease(ctx, k, ttl)
	EndSpan(span, err)
	return e, ok, h, err
}

func (t TracedStore) SetRelease(ctx context.Context, k cachekey.Key, e store.Entry, ttl time.Duration, h store.Held) error {
	ctx, span := t.span(ctx, "set_release")
	err := t.Store.SetRelease(ctx, k, e, ttl, h)
	EndSpan(span, err)
	return err
}
