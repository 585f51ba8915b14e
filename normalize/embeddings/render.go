package embeddings

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"
	"github.com/maypok86/otter/v2"

	"github.com/dittocache/ditto/normalize"
)

// Renderer writes embeddings responses from stored vectors: each in
// normalize.EncodeVector's form (little-endian float32 bytes), as the cache
// holds them, checked by normalize.CheckVector. It keeps the JSON text
// (float array or base64 string) of the vectors it wrote lately, addressed
// by their bytes and the format, so a hot vector asked for again is a copy
// rather than 1,536 float formattings or a base64 encoding. Safe for
// concurrent use.
type Renderer struct {
	texts *otter.Cache[textKey, []byte] // nil: no text cache
}

// textKey addresses a vector's float text by its bytes: two independent
// 64-bit hashes and the length, so a wrong text is never served.
type textKey struct {
	a, b uint64
	n    int
	b64  bool // the base64 string, not the float array
}

// textSeed seeds the second hash of a textKey.
const textSeed = 0x9e37_79b9_7f4a_7c15

// NewRenderer returns a Renderer whose text cache holds up to maxBytes of
// vector text; maxBytes <= 0 turns the cache off.
func NewRenderer(maxBytes int64) *Renderer {
	if maxBytes <= 0 {
		return &Renderer{}
	}
	return &Renderer{texts: otter.Must(&otter.Options[textKey, []byte]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(_ textKey, v []byte) uint32 { return uint32(len(v) + 64) },
	})}
}

// AppendResponse is the package's AppendResponse for stored vectors: the
// same bytes for the same vectors, model, usage and format.
func (r *Renderer) AppendResponse(dst []byte, stored [][]byte, model string, usage normalize.EmbeddingUsage, format string) []byte {
	b64 := format == normalize.EncodingBase64
	n := 96 + len(model)
	for _, v := range stored {
		if b64 {
			n += 48 + base64.StdEncoding.EncodedLen(len(v))
		} else {
			n += 48 + 3*len(v) // most values print in 9 to 14 bytes: 4 stored bytes each
		}
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, `{"object":"list","data":[`...)
	for i, v := range stored {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"object":"embedding","index":`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, `,"embedding":`...)
		dst = r.appendVector(dst, v, b64)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"model":`...)
	dst = normalize.AppendJSONString(dst, model)
	dst = append(dst, `,"usage":{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(usage.PromptTokens), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(usage.TotalTokens), 10)
	return append(dst, "}}"...)
}

// appendVector appends stored as JSON: a float array, or a base64
// string; from the text cache when it has it.
func (r *Renderer) appendVector(dst, stored []byte, b64 bool) []byte {
	if r.texts == nil {
		return appendStored(dst, stored, b64)
	}
	var d xxhash.Digest
	d.ResetWithSeed(textSeed)
	d.Write(stored)
	k := textKey{a: xxhash.Sum64(stored), b: d.Sum64(), n: len(stored), b64: b64}
	if t, ok := r.texts.GetIfPresent(k); ok {
		return append(dst, t...)
	}
	start := len(dst)
	dst = appendStored(dst, stored, b64)
	r.texts.Set(k, slices.Clone(dst[start:]))
	return dst
}

// appendStored is appendVector without the cache.
func appendStored(dst, stored []byte, b64 bool) []byte {
	if !b64 {
		return appendStoredFloats(dst, stored)
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, stored)
	return append(dst, '"')
}

// appendStoredFloats appends a stored vector's JSON float array.
func appendStoredFloats(dst, stored []byte) []byte {
	dst = append(dst, '[')
	for j := 0; j+4 <= len(stored); j += 4 {
		if j > 0 {
			dst = append(dst, ',')
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(stored[j:]))
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			f = 0
		}
		dst = strconv.AppendFloat(dst, float64(f), 'g', -1, 32)
	}
	return append(dst, ']')
}
