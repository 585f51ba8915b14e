package embeddings

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
)

// AppendResponse appends OpenAI's embeddings response for vectors, in
// order, to dst:
//
//	{"object":"list","data":[{"object":"embedding","index":0,"embedding":[…]},…],
//	 "model":"…","usage":{"prompt_tokens":N,"total_tokens":N}}
//
// With format normalize.EncodingBase64 each embedding is the standard
// (padded) base64 of the vector's little-endian float32 bytes, exactly as
// OpenAI sends it and as the openai SDKs decode it (the npm SDK asks for
// base64 whenever its caller names no format, and hands back
// Float32Array-decoded numbers); any other format writes a JSON array of
// each value's shortest decimal that parses back to the same float32
// (strconv's 'g' format at 32 bits, e.g. 0.0023064255 and -4.8e-05, the
// spelling of OpenAI's documented example). Vectors must hold finite
// values: a NaN or infinity, which no decoder in Ditto produces, is
// written as 0 so the output is always valid JSON.
func AppendResponse(dst []byte, vectors [][]float32, model string, usage normalize.EmbeddingUsage, format string) []byte {
	stored := make([][]byte, len(vectors))
	for i, v := range vectors {
		stored[i], _ = vectorBytes(v, nil)
	}
	return (&Renderer{}).AppendResponse(dst, stored, model, usage, format)
}

// littleEndian is true on every platform Ditto ships for; there a vector's
// memory already is its wire encoding.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// vectorBytes returns v's little-endian float32 bytes: a read-only view of
// v's memory where the platform is little-endian, else an encoding in
// scratch (returned for reuse). A NaN or infinity is encoded as 0, as
// appendFloats writes it.
func vectorBytes(v []float32, scratch []byte) (src, buf []byte) {
	finite := true
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			finite = false
			break
		}
	}
	if littleEndian && finite && len(v) > 0 {
		return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)), scratch
	}
	scratch = scratch[:0]
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			f = 0
		}
		scratch = binary.LittleEndian.AppendUint32(scratch, math.Float32bits(f))
	}
	return scratch, scratch
}

// ParseResponse decodes an OpenAI embeddings response body (either
// encoding_format; each item may be a float array or a base64 string, so
// servers that ignore the requested format are read all the same) for a
// request whose inputs were inputs. Items are placed by their "index"
// (their position when a server omits it); there must be exactly one per
// input, each a non-empty vector of finite float32 values. Decimal values
// are rounded to the nearest float32, which for OpenAI's answers (float32
// printed in decimal) gives back the exact values base64 would have.
//
// Tokens and Usage are filled by ItemTokens from the reported
// usage.prompt_tokens. Errors describe what is wrong with the body; an
// adapter reports them as a bad upstream response (502).
func ParseResponse(body []byte, inputs []normalize.EmbeddingInput) (*normalize.EmbeddingResponse, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("embeddings response is not JSON: %w", err)
	}
	data := v.GetArray("data")
	if data == nil {
		return nil, errors.New(`embeddings response has no "data" array`)
	}
	n := len(inputs)
	if len(data) != n {
		return nil, fmt.Errorf("embeddings response has %d embeddings for %d inputs", len(data), n)
	}
	order := make([]int, n)
	total := 0
	for i, e := range data {
		at := i
		if iv := e.Get("index"); iv != nil {
			k, ok := normalize.JSONInteger(iv)
			if !ok || k < 0 || k >= int64(n) {
				return nil, fmt.Errorf("embeddings response item %d has index %s, want 0 to %d", i, iv, n-1)
			}
			at = int(k)
		}
		order[i] = at
		ev := e.Get("embedding")
		switch {
		case ev == nil:
			return nil, fmt.Errorf("embeddings response item %d has no embedding", i)
		case ev.Type() == fastjson.TypeArray:
			a, _ := ev.Array()
			total += len(a)
		case ev.Type() == fastjson.TypeString:
			total += base64.StdEncoding.DecodedLen(len(ev.GetStringBytes())) / 4
		default:
			return nil, fmt.Errorf("embeddings response item %d: embedding must be an array or a base64 string", i)
		}
	}
	slab := make([]float32, 0, total)
	vectors := make([][]float32, n)
	var raw []byte
	for i, e := range data {
		at := order[i]
		if vectors[at] != nil {
			return nil, fmt.Errorf("embeddings response has index %d twice", at)
		}
		off := len(slab)
		if slab, raw, err = appendVector(slab, e.Get("embedding"), raw); err != nil {
			return nil, fmt.Errorf("embeddings response item %d: %w", i, err)
		}
		if len(slab) == off {
			return nil, fmt.Errorf("embeddings response item %d: empty embedding", i)
		}
		vectors[at] = slab[off:len(slab):len(slab)]
	}
	resp := &normalize.EmbeddingResponse{Vectors: vectors, Model: string(v.GetStringBytes("model"))}
	reported := -1
	if pt := v.Get("usage", "prompt_tokens"); pt != nil {
		if k, ok := normalize.JSONInteger(pt); ok && k >= 0 && k <= math.MaxInt32 {
			reported = int(k)
		}
	}
	resp.Tokens, resp.Usage = ItemTokens(inputs, reported)
	return resp, nil
}

// appendVector appends the values of one embedding (a float array or a
// base64 string) to slab; raw is scratch space, returned for reuse.
func appendVector(slab []float32, ev *fastjson.Value, raw []byte) ([]float32, []byte, error) {
	if ev.Type() == fastjson.TypeString {
		s := ev.GetStringBytes()
		raw = slices.Grow(raw[:0], base64.StdEncoding.DecodedLen(len(s)))
		b, err := base64.StdEncoding.AppendDecode(raw, s)
		if err != nil {
			return nil, raw, fmt.Errorf("embedding is not base64: %w", err)
		}
		if len(b)%4 != 0 {
			return nil, b, fmt.Errorf("base64 embedding of %d bytes is not a whole number of float32 values", len(b))
		}
		for j := 0; j < len(b); j += 4 {
			f := math.Float32frombits(binary.LittleEndian.Uint32(b[j:]))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return nil, b, fmt.Errorf("value %d is not finite", j/4)
			}
			slab = append(slab, f)
		}
		return slab, b, nil
	}
	a, _ := ev.Array()
	for j, x := range a {
		if x.Type() != fastjson.TypeNumber {
			return nil, raw, fmt.Errorf("value %d is not a number", j)
		}
		raw = x.MarshalTo(raw[:0])
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(raw), len(raw)), 32)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, raw, fmt.Errorf("value %d (%.40s) is not a finite float32", j, raw)
		}
		slab = append(slab, float32(f))
	}
	return slab, raw, nil
}
