package simulated

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
	"github.com/dittocache/ditto/providers"
)

// DefaultEmbeddingDimensions is the vector size when a request sets no
// dimensions: text-embedding-3-small's.
const DefaultEmbeddingDimensions = 1536

var _ providers.Embedder = (*Client)(nil)

// Embed waits Latency plus jitter, or until ctx is done, and returns one
// unit-length vector per input (DefaultEmbeddingDimensions values, or
// req.Dimensions), each a pure function of Options.Seed, the model and the
// input's canonical bytes (normalize.AppendEmbeddingCanonical): equal
// inputs get equal vectors in any batch, so item-by-item caching can be
// demonstrated and benchmarked. Usage is reported as an upstream would:
// each text's cl100k_base count, each token array's length. Dimensions
// above normalize.MaxEmbeddingDimensions are refused with a 400.
func (c *Client) Embed(ctx context.Context, req *normalize.EmbeddingRequest) (*normalize.EmbeddingResponse, error) {
	dims := DefaultEmbeddingDimensions
	if req.Dimensions != nil {
		dims = *req.Dimensions
	}
	if dims < 1 || dims > normalize.MaxEmbeddingDimensions {
		return nil, &providers.Error{Provider: "simulated", Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "dimensions",
			Message: "dimensions must be between 1 and 65536"}
	}
	resp := &normalize.EmbeddingResponse{Model: req.Model, Vectors: make([][]float32, len(req.Inputs))}
	slab := make([]float32, dims*len(req.Inputs))
	var buf []byte
	var first uint64
	for i := range req.Inputs {
		h := fnv.New64a()
		var seed [8]byte
		binary.LittleEndian.PutUint64(seed[:], uint64(c.o.Seed))
		h.Write(seed[:])
		h.Write([]byte(req.Model))
		h.Write([]byte{0})
		buf = normalize.AppendEmbeddingCanonical(buf[:0], req, i)
		h.Write(buf)
		sum := h.Sum64()
		if i == 0 {
			first = sum
		}
		resp.Vectors[i] = unitVector(slab[i*dims:(i+1)*dims:(i+1)*dims], sum)
	}
	latency := c.o.Latency
	if c.o.Jitter > 0 {
		latency += time.Duration(first % uint64(c.o.Jitter))
	}
	if err := sleep(ctx, latency); err != nil {
		return nil, err
	}
	resp.Tokens = make([]int, len(req.Inputs))
	total := 0
	for i := range req.Inputs {
		resp.Tokens[i] = embeddings.CountTokens(&req.Inputs[i])
		total += resp.Tokens[i]
	}
	resp.Usage = normalize.EmbeddingUsage{PromptTokens: total, TotalTokens: total}
	return resp, nil
}

// unitVector fills v with values drawn from seed and scales it to length 1,
// as OpenAI's embeddings are.
func unitVector(v []float32, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var norm float64
	for j := range v {
		f := rng.NormFloat64()
		v[j] = float32(f)
		norm += f * f
	}
	scale := 1 / math.Sqrt(norm)
	if math.IsInf(scale, 0) || math.IsNaN(scale) {
		v[0], scale = 1, 1
	}
	for j := range v {
		v[j] = float32(float64(v[j]) * scale)
	}
	return v
}
