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
// holds them, checked by normalize.CheckVector. It keeps the JSON float
// text of the vectors it wrote lately, addressed by their bytes, so a hot
// vector asked for as floats again is a copy rather than 1,536 float
// formattings; base64 is encoded straight from the stored bytes. Safe for
// concurrent use.
type Renderer struct {
	texts *otter.Cache[textKey, []byte] // nil: no text cache
}

// textKey addresses a vector's float text by its bytes: two independent
// 64-bit hashes and the length, so a wrong text is never served.
type textKey struct {
	a, b uint64
	n    int
}

// textSeed seeds the second hash of a textKey.
const textSeed = 0x9e37_79b9_7f4a_7c15

// NewRenderer returns a Renderer whose text cache holds up to maxBytes of
// float text; maxBytes <= 0 turns the cache off.
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
		if b64 {
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, v)
			dst = append(dst, '"')
		} else {
			dst = r.appendFloats(dst, v)
		}
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

// appendFloats appends stored's JSON float array, from the text cache when
// it has it.
func (r *Renderer) appendFloats(dst, stored []byte) []byte {
	if r.texts == nil {
		return appendStoredFloats(dst, stored)
	}
	var d xxhash.Digest
	d.ResetWithSeed(textSeed)
	d.Write(stored)
	k := textKey{a: xxhash.Sum64(stored), b: d.Sum64(), n: len(stored)}
	if t, ok := r.texts.GetIfPresent(k); ok {
		return append(dst, t...)
	}
	start := len(dst)
	dst = appendStoredFloats(dst, stored)
	r.texts.Set(k, slices.Clone(dst[start:]))
	return dst
}

// appendStoredFloats is appendFloats for a stored vector.
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
