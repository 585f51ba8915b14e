package embeddings

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
)

var parserPool fastjson.ParserPool

// Decode decodes an OpenAI embeddings request body (POST /v1/embeddings)
// into its canonical form, validating it as OpenAI does:
//
//   - model is required, a non-empty string;
//   - input is required: a non-empty string, an array of 1 to 2048
//     non-empty strings, an array of tokens, or an array of 1 to 2048
//     non-empty token arrays; a token is an integer from 0 to 2^31-1 in
//     any integral spelling (7, 7.0, 7e0);
//   - dimensions, when sent, is an integer from 1 to
//     normalize.MaxEmbeddingDimensions;
//   - encoding_format, when sent, is "float" or "base64";
//   - user, when sent, is a string;
//   - null means "not sent" for every optional member; any other member is
//     kept in Extra as canonical JSON (keyed, passed upstream).
//
// Like normalize.DecodeOpenAI it rejects invalid UTF-8, invalid escapes,
// unpaired surrogates, numbers outside JSON's grammar and duplicate member
// names. Errors are *normalize.Error values (wrapping normalize.ErrInvalid)
// naming the parameter, e.g. "input[3]". Decode never panics, and the
// request does not alias body.
func Decode(body []byte) (*normalize.EmbeddingRequest, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	obj, err := normalize.ParseObject(p, body)
	if err != nil {
		return nil, err
	}
	d := decoder{req: &normalize.EmbeddingRequest{EncodingFormat: normalize.EncodingFloat}}
	obj.Visit(d.member)
	if d.err != nil {
		return nil, d.err
	}
	r := d.req
	if r.Model == "" {
		return nil, invalid("model", "you must provide a model parameter")
	}
	if d.input == nil {
		return nil, invalid("input", "Missing required parameter: 'input'.")
	}
	if err := d.inputs(d.input); err != nil {
		return nil, err
	}
	if err := d.extra(); err != nil {
		return nil, err
	}
	return r, nil
}

func invalid(param, format string, args ...any) *normalize.Error {
	return &normalize.Error{Param: param, Message: fmt.Sprintf(format, args...)}
}

type decoder struct {
	req     *normalize.EmbeddingRequest
	seen    uint8
	input   *fastjson.Value // decoded after the walk, once the body is known valid
	unknown []member
	err     error
}

// member is an unknown top-level member; its value is canonicalized once
// every name is known to be unique.
type member struct {
	name string
	val  *fastjson.Value
}

// Modeled top-level members, one bit each, to reject duplicates.
const (
	fModel = 1 << iota
	fInput
	fDimensions
	fEncodingFormat
	fUser
)

func bit(name []byte) uint8 {
	switch string(name) {
	case "model":
		return fModel
	case "input":
		return fInput
	case "dimensions":
		return fDimensions
	case "encoding_format":
		return fEncodingFormat
	case "user":
		return fUser
	}
	return 0
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) member(k []byte, v *fastjson.Value) {
	if d.err != nil {
		return
	}
	b := bit(k)
	if b == 0 {
		d.unknown = append(d.unknown, member{string(k), v})
		return
	}
	if d.seen&b != 0 {
		d.fail(invalid(string(k), "duplicate key %q", k))
		return
	}
	d.seen |= b
	r := d.req
	null := v.Type() == fastjson.TypeNull
	switch b {
	case fModel:
		if v.Type() != fastjson.TypeString {
			d.fail(invalid("model", "model must be a string"))
			return
		}
		r.Model = string(v.GetStringBytes())
	case fInput:
		if !null {
			d.input = v
		}
	case fDimensions:
		if null {
			return
		}
		n, ok := normalize.JSONInteger(v)
		if !ok || n < 1 || n > normalize.MaxEmbeddingDimensions {
			d.fail(invalid("dimensions", "dimensions must be an integer between 1 and %d", normalize.MaxEmbeddingDimensions))
			return
		}
		dim := int(n)
		r.Dimensions = &dim
	case fEncodingFormat:
		if null {
			return
		}
		switch string(v.GetStringBytes()) {
		case normalize.EncodingFloat:
		case normalize.EncodingBase64:
			r.EncodingFormat = normalize.EncodingBase64
		default:
			d.fail(invalid("encoding_format", `encoding_format must be "float" or "base64"`))
		}
	case fUser:
		if null {
			return
		}
		if v.Type() != fastjson.TypeString {
			d.fail(invalid("user", "user must be a string"))
			return
		}
		r.User = string(v.GetStringBytes())
	}
}

// extra canonicalizes the unknown members into Extra, sorted by name.
func (d *decoder) extra() error {
	slices.SortFunc(d.unknown, func(a, b member) int { return strings.Compare(a.name, b.name) })
	var buf []byte
	for i, m := range d.unknown {
		if i > 0 && m.name == d.unknown[i-1].name {
			return invalid(m.name, "duplicate key %q", m.name)
		}
		if m.val.Type() == fastjson.TypeNull {
			continue // null means not sent
		}
		var err error
		if buf, err = normalize.AppendCanonicalJSON(buf[:0], m.val); err != nil {
			if e, ok := err.(*normalize.Error); ok && e.Param == "" {
				e.Param = m.name
			}
			return err
		}
		d.req.Extra = append(d.req.Extra, normalize.Field{Name: m.name, Value: bytes.Clone(buf)})
	}
	return nil
}

const errInputShape = "input must be a string, an array of strings, an array of integers, or an array of arrays of integers"

// inputs decodes input. Texts share one allocation, as do token arrays.
func (d *decoder) inputs(v *fastjson.Value) error {
	r := d.req
	switch v.Type() {
	case fastjson.TypeString:
		s := v.GetStringBytes()
		if len(s) == 0 {
			return invalid("input", "input cannot be an empty string")
		}
		r.Inputs = []normalize.EmbeddingInput{{Text: string(s)}}
		return nil
	case fastjson.TypeArray:
	default:
		return invalid("input", errInputShape)
	}
	a, _ := v.Array()
	if len(a) == 0 {
		return invalid("input", "input cannot be an empty array")
	}
	switch a[0].Type() {
	case fastjson.TypeString:
		if len(a) > normalize.MaxEmbeddingInputs {
			return tooMany()
		}
		return d.texts(a)
	case fastjson.TypeNumber:
		toks, err := tokens("input", a, nil)
		if err != nil {
			return err
		}
		r.Inputs = []normalize.EmbeddingInput{{Tokens: toks}}
		return nil
	case fastjson.TypeArray:
		if len(a) > normalize.MaxEmbeddingInputs {
			return tooMany()
		}
		return d.tokenArrays(a)
	}
	return invalid("input[0]", errInputShape)
}

func tooMany() error {
	return invalid("input", "input accepts at most %d items", normalize.MaxEmbeddingInputs)
}

func param(i int) string { return fmt.Sprintf("input[%d]", i) }

func (d *decoder) texts(a []*fastjson.Value) error {
	n := 0
	for i, e := range a {
		if e.Type() != fastjson.TypeString {
			return invalid(param(i), "input must be an array of strings or an array of token arrays, not a mix")
		}
		s := e.GetStringBytes()
		if len(s) == 0 {
			return invalid(param(i), "input cannot contain an empty string")
		}
		n += len(s)
	}
	buf := make([]byte, 0, n)
	ins := make([]normalize.EmbeddingInput, len(a))
	for i, e := range a {
		off := len(buf)
		buf = append(buf, e.GetStringBytes()...)
		// buf never grows past n, so it is never reallocated and is never
		// written again: strings may view it.
		ins[i].Text = unsafe.String(&buf[off], len(buf)-off)
	}
	d.req.Inputs = ins
	return nil
}

func (d *decoder) tokenArrays(a []*fastjson.Value) error {
	n := 0
	for i, e := range a {
		ea, err := e.Array()
		if err != nil {
			return invalid(param(i), "input must be an array of strings or an array of token arrays, not a mix")
		}
		if len(ea) == 0 {
			return invalid(param(i), "input cannot contain an empty token array")
		}
		n += len(ea)
	}
	slab := make([]int, 0, n)
	ins := make([]normalize.EmbeddingInput, len(a))
	for i, e := range a {
		ea, _ := e.Array()
		off := len(slab)
		var err error
		if slab, err = tokens(param(i), ea, slab); err != nil {
			return err
		}
		ins[i].Tokens = slab[off:len(slab):len(slab)]
	}
	d.req.Inputs = ins
	return nil
}

// tokens appends the tokens of a to dst.
func tokens(p string, a []*fastjson.Value, dst []int) ([]int, error) {
	if dst == nil {
		dst = make([]int, 0, len(a))
	}
	for j, e := range a {
		t, ok := normalize.JSONInteger(e)
		if !ok || t < 0 || t > math.MaxInt32 {
			return nil, invalid(fmt.Sprintf("%s[%d]", p, j), "a token must be an integer between 0 and %d", math.MaxInt32)
		}
		dst = append(dst, int(t))
	}
	return dst, nil
}
