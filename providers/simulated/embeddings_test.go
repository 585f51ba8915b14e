package simulated

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/providertest"
)

func embedBody(t *testing.T, c *Client, body string) (*normalize.EmbeddingRequest, *normalize.EmbeddingResponse) {
	t.Helper()
	req, err := embeddings.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Embed(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckEmbedding(t, req, resp, &providertest.EmbedWant{})
	return req, resp
}

func TestEmbedDeterministicPerItem(t *testing.T) {
	c := New(Options{})
	_, batch := embedBody(t, c, `{"model":"sim-embed","input":["a","b","a"]}`)
	_, alone := embedBody(t, c, `{"model":"sim-embed","input":"b"}`)
	if !equal(batch.Vectors[1], alone.Vectors[0]) {
		t.Error("an item's vector depends on its batch")
	}
	if !equal(batch.Vectors[0], batch.Vectors[2]) || equal(batch.Vectors[0], batch.Vectors[1]) {
		t.Error("equal inputs got different vectors, or different inputs equal ones")
	}
	_, other := embedBody(t, New(Options{Seed: 1}), `{"model":"sim-embed","input":"b"}`)
	_, model := embedBody(t, c, `{"model":"sim-embed-2","input":"b"}`)
	if equal(other.Vectors[0], alone.Vectors[0]) || equal(model.Vectors[0], alone.Vectors[0]) {
		t.Error("the seed or the model does not change the vector")
	}
	for i, v := range batch.Vectors {
		if len(v) != DefaultEmbeddingDimensions {
			t.Errorf("vector %d has %d values, want %d", i, len(v), DefaultEmbeddingDimensions)
		}
		var norm float64
		for _, f := range v {
			norm += float64(f) * float64(f)
		}
		if math.Abs(norm-1) > 1e-4 {
			t.Errorf("vector %d has squared length %v, want 1", i, norm)
		}
	}
	if batch.Usage.Estimated || batch.Usage.PromptTokens != 3 || !equalInts(batch.Tokens, []int{1, 1, 1}) {
		t.Errorf("usage %+v, tokens %v; want 3 tokens, one each", batch.Usage, batch.Tokens)
	}
}

func TestEmbedDimensions(t *testing.T) {
	c := New(Options{})
	_, small := embedBody(t, c, `{"model":"m","input":[[1,2,3]],"dimensions":8}`)
	if len(small.Vectors[0]) != 8 || small.Tokens[0] != 3 {
		t.Errorf("dimensions 8 gave %d values and %d tokens", len(small.Vectors[0]), small.Tokens[0])
	}
	dims := normalize.MaxEmbeddingDimensions + 1
	_, err := c.Embed(t.Context(), &normalize.EmbeddingRequest{Model: "m", Inputs: []normalize.EmbeddingInput{{Text: "x"}}, Dimensions: &dims})
	if pe, ok := providers.AsError(err); !ok || pe.Status != 400 || pe.Param != "dimensions" {
		t.Errorf("Embed(dimensions %d) = %v, want a 400 naming dimensions", dims, err)
	}
}

func TestEmbedLatencyCancel(t *testing.T) {
	c := New(Options{Latency: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Embed(ctx, providertest.DefaultEmbeddingRequest("m")); !errors.Is(err, context.Canceled) {
		t.Errorf("Embed with a cancelled context = %v, want context.Canceled", err)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
