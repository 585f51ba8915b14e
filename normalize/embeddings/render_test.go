package embeddings_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
)

// The Renderer writes, from stored vectors, the bytes AppendResponse writes
// from decoded ones — on a text-cache miss, on a hit, and for vectors of
// one length that differ in a single value (never another vector's text).
func TestRendererMatchesAppendResponse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vectors := make([][]float32, 6)
	for i := range vectors {
		v := make([]float32, 1536)
		for j := range v {
			v[j] = float32(rng.NormFloat64() * 0.05)
		}
		vectors[i] = v
	}
	twin := append([]float32(nil), vectors[0]...)
	twin[700] = math.Nextafter32(twin[700], 1)
	vectors = append(vectors, twin, []float32{float32(math.Copysign(0, -1)), 1e-45, math.MaxFloat32})
	stored := make([][]byte, len(vectors))
	for i, v := range vectors {
		stored[i] = normalize.EncodeVector(nil, v)
	}
	usage := normalize.EmbeddingUsage{PromptTokens: 12, TotalTokens: 12}
	r := embeddings.NewRenderer(1 << 20)
	for _, format := range []string{normalize.EncodingFloat, normalize.EncodingBase64} {
		want := embeddings.AppendResponse(nil, vectors, "text-embedding-3-small", usage, format)
		for pass := range 3 { // miss, then hits
			got := r.AppendResponse([]byte("prefix"), stored, "text-embedding-3-small", usage, format)
			if !bytes.Equal(got[len("prefix"):], want) || string(got[:len("prefix")]) != "prefix" {
				t.Fatalf("%s pass %d: Renderer output differs from AppendResponse", format, pass)
			}
			// One vector at a time, in another order: each text is its own.
			for i := len(stored) - 1; i >= 0; i-- {
				one := r.AppendResponse(nil, stored[i:i+1], "m", usage, format)
				if w := embeddings.AppendResponse(nil, vectors[i:i+1], "m", usage, format); !bytes.Equal(one, w) {
					t.Fatalf("%s pass %d vector %d: wrong rendering", format, pass, i)
				}
			}
		}
	}
	if got, want := embeddings.NewRenderer(0).AppendResponse(nil, stored, "m", usage, normalize.EncodingFloat),
		embeddings.AppendResponse(nil, vectors, "m", usage, normalize.EncodingFloat); !bytes.Equal(got, want) {
		t.Error("a Renderer without a text cache renders differently")
	}
}
