package embeddings_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
)

func randomVectors(n, dims int) [][]float32 {
	rng := rand.New(rand.NewPCG(7, 9))
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, dims)
		for j := range out[i] {
			out[i][j] = float32(rng.NormFloat64() * 0.025) // the spread of text-embedding-3 values
		}
	}
	return out
}

// BenchmarkAppendResponse renders 1536-dimension vectors (text-embedding-3-small)
// for one input and for a batch of 16, in both formats, into a reused buffer.
func BenchmarkAppendResponse(b *testing.B) {
	for _, n := range []int{1, 16} {
		vectors := randomVectors(n, 1536)
		for _, format := range []string{normalize.EncodingFloat, normalize.EncodingBase64} {
			b.Run(format+"/"+itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				var buf []byte
				for b.Loop() {
					buf = embeddings.AppendResponse(buf[:0], vectors, "text-embedding-3-small", normalize.EmbeddingUsage{PromptTokens: 100, TotalTokens: 100}, format)
				}
				b.SetBytes(int64(len(buf)))
			})
		}
	}
}

func itoa(n int) string {
	if n == 1 {
		return "1x1536"
	}
	return "16x1536"
}

// BenchmarkParseResponse reads an upstream answer of 16 vectors.
func BenchmarkParseResponse(b *testing.B) {
	vectors := randomVectors(16, 1536)
	in := inputs(16)
	for _, format := range []string{normalize.EncodingFloat, normalize.EncodingBase64} {
		body := embeddings.AppendResponse(nil, vectors, "m", normalize.EmbeddingUsage{PromptTokens: 48, TotalTokens: 48}, format)
		b.Run(format+"/16x1536", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := embeddings.ParseResponse(body, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode decodes a batch of 16 texts of about 500 bytes.
func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"model":"text-embedding-3-small","input":[`)
	for i := range 16 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"` + strings.Repeat("chunk of a document ", 25) + itoa(i) + `"`)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var key []byte
	for b.Loop() {
		r, err := embeddings.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		for i := range r.Inputs {
			key = normalize.AppendEmbeddingCanonical(key[:0], r, i)
		}
	}
}

// BenchmarkCountTokens counts one 560-byte paragraph with cl100k_base.
func BenchmarkCountTokens(b *testing.B) {
	in := normalize.EmbeddingInput{Text: strings.Repeat("Caching embeddings per item lets a gateway answer repeated chunks of a document from memory. ", 6)}
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Text)))
	for b.Loop() {
		embeddings.CountTokens(&in)
	}
}
