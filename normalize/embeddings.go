package normalize

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"github.com/valyala/fastjson"
)

// Embeddings are cached per input item: a request for N inputs is N cache
// entries, so a batch whose items were seen before (in any other batch, in
// any order) is answered from the cache item by item and only its misses go
// upstream. The wire codec for POST /v1/embeddings is package
// normalize/embeddings; this file holds the provider-neutral types, the
// per-item canonical bytes that cache keys hash, and the vector encoding of
// cache entries.

// Limits on embeddings requests, checked by the wire decoder.
const (
	// MaxEmbeddingInputs is OpenAI's limit on the items of one request.
	MaxEmbeddingInputs = 2048
	// MaxEmbeddingDimensions bounds dimensions far above any model's
	// (text-embedding-3-large has 3072) so that no request can make an
	// adapter or the simulated provider allocate without bound.
	MaxEmbeddingDimensions = 65536
)

// Encoding formats of embedding vectors in OpenAI's wire format.
const (
	EncodingFloat  = "float"  // a JSON array of numbers; OpenAI's default
	EncodingBase64 = "base64" // base64 of the vector's little-endian float32 bytes
)

// EmbeddingRequest is an embeddings request in canonical form.
//
// Fields above the "not keyed" line decide the vectors and take part in
// every item's cache key (AppendEmbeddingCanonical); fields below it do not.
// Slices and raw JSON values are owned by the request and must not be
// modified by adapters.
type EmbeddingRequest struct {
	Model  string           // as sent by the client; adapters receive the upstream model
	Inputs []EmbeddingInput // at least one, in the client's order
	// Dimensions is the requested vector size; nil means the model's
	// default. It is keyed as sent: dimensions equal to a model's native
	// size are not folded into "absent", since that is model-dependent.
	Dimensions *int
	// Extra holds request members Ditto does not model, sorted by name,
	// with canonical JSON values (e.g. input_type or truncate for
	// OpenAI-compatible servers, taskType for Gemini). They are keyed and
	// passed through to the upstream.
	Extra []Field

	// --- not keyed ---

	// EncodingFormat is what the client wants back: EncodingFloat (also
	// for an absent or null encoding_format) or EncodingBase64. Cache
	// entries store float32 vectors, which render exactly either way.
	EncodingFormat string
	User           string // end-user id for provider abuse monitoring
}

// EmbeddingInput is one item to embed: a text, or a token array (Tokens
// non-nil, at least one token). Items of one request decoded from the wire
// are all texts or all token arrays.
type EmbeddingInput struct {
	Text   string
	Tokens []int
}

// IsTokens reports whether the item is a token array.
func (in *EmbeddingInput) IsTokens() bool { return in.Tokens != nil }

// Select returns a request for the inputs at idx, in that order, sharing
// everything else with r (slices included: neither request may then be
// modified). The gateway uses it to send only a batch's misses upstream.
func (r *EmbeddingRequest) Select(idx []int) *EmbeddingRequest {
	s := *r
	s.Inputs = make([]EmbeddingInput, len(idx))
	for j, i := range idx {
		s.Inputs[j] = r.Inputs[i]
	}
	return &s
}

// EmbeddingResponse is a provider's answer to an EmbeddingRequest.
type EmbeddingResponse struct {
	Model string // the model the upstream reports; may be empty
	// Vectors holds one vector per input, in input order. Every value is
	// finite. The vectors may share one backing array: callers must not
	// append to them.
	Vectors [][]float32
	// Tokens holds each input's share of Usage.PromptTokens, in input
	// order; the shares sum to Usage.PromptTokens exactly (see
	// normalize/embeddings.ItemTokens). It is what a cache entry records,
	// so a later hit on the item accounts for it.
	Tokens []int
	Usage  EmbeddingUsage
}

// EmbeddingUsage counts the tokens of an embeddings call. OpenAI reports
// prompt_tokens equal to total_tokens.
type EmbeddingUsage struct {
	PromptTokens int
	TotalTokens  int
	// Estimated is true when the upstream reported no usage (Gemini) and
	// the counts are Ditto's own (cl100k_base, see normalize/embeddings).
	Estimated bool
}

// AppendEmbeddingCanonical appends the canonical bytes of item i of r: what
// its cache key hashes. They hold exactly what changes the item's vector
// besides the route (provider and upstream model, which the key names
// separately): the item itself, dimensions, and the keyed extra members.
// Nothing else: not the other items or the item's position (so a text has
// one entry in every batch), not encoding_format, not user.
//
//	{"embed":{"text":"…"}}
//	{"embed":{"tokens":[1,2,3]},"dimensions":256,"extra":{"input_type":"query"}}
//
// A text is never rewritten (no trimming, case folding or Unicode
// normalization), and a text and the token array it encodes to are keyed
// apart: Ditto does not tokenize to key. The bytes start with {"embed", so
// they can never equal a chat request's canonical form ({"messages"…).
// Deterministic across runs, platforms and versions; a change to this
// encoding must bump cachekey.Version. i must be in range.
func AppendEmbeddingCanonical(dst []byte, r *EmbeddingRequest, i int) []byte {
	in := &r.Inputs[i]
	if in.IsTokens() {
		dst = append(dst, `{"embed":{"tokens":[`...)
		for j, t := range in.Tokens {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, int64(t), 10)
		}
		dst = append(dst, "]}"...)
	} else {
		dst = append(dst, `{"embed":{"text":`...)
		dst = appendString(dst, in.Text)
		dst = append(dst, '}')
	}
	if r.Dimensions != nil {
		dst = append(dst, `,"dimensions":`...)
		dst = strconv.AppendInt(dst, int64(*r.Dimensions), 10)
	}
	if len(r.Extra) > 0 {
		dst = append(dst, `,"extra":`...)
		dst = appendFields(dst, r.Extra)
	}
	return append(dst, '}')
}

// ErrVector reports bytes that are not an encoded vector.
var ErrVector = errors.New("normalize: not an encoded embedding vector")

// EncodeVector appends v to dst as little-endian IEEE 754 float32 values,
// 4 bytes each: the bytes of OpenAI's base64 encoding_format, so a cache
// entry renders as base64 without conversion and as floats exactly.
func EncodeVector(dst []byte, v []float32) []byte {
	for _, f := range v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(f))
	}
	return dst
}

// DecodeVector decodes the bytes EncodeVector writes. It returns an error
// wrapping ErrVector for an empty input, a length that is not a multiple
// of 4, or a value that is not finite (JSON cannot carry NaN or ±Inf): a
// cache entry that fails here is corrupt and must be treated as a miss.
// The result does not alias b.
func DecodeVector(b []byte) ([]float32, error) {
	if len(b) == 0 || len(b)%4 != 0 {
		return nil, errVectorLength(len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		f := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, &vectorError{"value " + strconv.Itoa(i) + " is not finite"}
		}
		v[i] = f
	}
	return v, nil
}

// CheckVector reports what DecodeVector would about b, without decoding
// it: nil for a vector DecodeVector accepts.
func CheckVector(b []byte) error {
	if len(b) == 0 || len(b)%4 != 0 {
		return errVectorLength(len(b))
	}
	for i := 0; i < len(b); i += 4 {
		// A float32 is NaN or infinite exactly when its exponent bits are all set.
		if binary.LittleEndian.Uint32(b[i:])&0x7f80_0000 == 0x7f80_0000 {
			return &vectorError{"value " + strconv.Itoa(i/4) + " is not finite"}
		}
	}
	return nil
}

func errVectorLength(n int) error {
	return &vectorError{strconv.Itoa(n) + " bytes is not a whole, non-empty number of float32 values"}
}

type vectorError struct{ msg string }

func (e *vectorError) Error() string { return ErrVector.Error() + ": " + e.msg }
func (e *vectorError) Unwrap() error { return ErrVector }

// The helpers below let the wire codecs of other endpoints (package
// normalize/embeddings) decode with the same strictness as DecodeOpenAI.

// AppendCanonicalJSON appends the canonical JSON of v, as Request.Extra
// holds unknown members (schema mode: see docs/normalization.md). It
// rejects duplicate member names at any depth and numbers outside RFC
// 8259's grammar with an *Error whose Param is empty (the caller knows
// where v came from).
func AppendCanonicalJSON(dst []byte, v *fastjson.Value) ([]byte, error) {
	var w canonWriter
	return w.value(dst, v, modeSchema)
}

// JSONInteger returns the value of the JSON number v when it is an
// integer in int64's range, in any spelling (2, 2.0, 2e0, 20e-1); ok is
// false for other numbers, for numbers outside RFC 8259's grammar (01, +1,
// .5) and for values that are not numbers.
func JSONInteger(v *fastjson.Value) (n int64, ok bool) {
	if v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	var buf, dbuf [32]byte
	lit := v.MarshalTo(buf[:0])
	if n, ok := plainInt(lit); ok {
		return n, true // the common spelling, without the exact-decimal machinery
	}
	d, ok := parseDecimal(lit, dbuf[:0])
	if !ok {
		return 0, false
	}
	return d.integer()
}

// plainInt parses lit when it is -?(0|[1-9][0-9]*) with at most 18
// digits, which cannot overflow int64.
func plainInt(lit []byte) (int64, bool) {
	s, neg := lit, false
	if len(s) > 0 && s[0] == '-' {
		s, neg = s[1:], true
	}
	if len(s) == 0 || len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// AppendJSONString appends s as a JSON string in the canonical spelling
// (see docs/normalization.md): the one way every encoder in Ditto writes
// strings.
func AppendJSONString(dst []byte, s string) []byte { return appendString(dst, s) }
