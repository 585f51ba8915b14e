package cache

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/normalize"
)

// Codec turns answers into stored entries and back. Implementations are
// safe for concurrent use.
type Codec interface {
	// Encode renders a complete answer as an entry's body and metadata.
	Encode(resp *normalize.Response) (body, meta []byte)
	// Check reports whether a stored body is one this codec wrote, cheaply:
	// it runs on every hit before the body is served, so an entry written
	// by someone else or damaged in the store is a miss, never an answer.
	Check(body []byte) error
	// Decode parses a stored entry back into the answer.
	Decode(e store.Entry) (*normalize.Response, error)
	// Summary returns the accounting view of a stored entry (model, usage
	// and each choice's finish reason), from its metadata when it can.
	Summary(e store.Entry) (*normalize.Response, error)
}

// ChatCodec stores answers as OpenAI chat.completion JSON (what a chat
// client is sent as it is) with the accounting metadata beside it. Every
// dialect renders from it.
type ChatCodec struct{}

var _ Codec = ChatCodec{}

// errNotAnswer is a stored body that is not a chat.completion this codec
// wrote.
var errNotAnswer = errors.New("cache: stored body is not a chat.completion")

// Encode implements Codec.
func (ChatCodec) Encode(resp *normalize.Response) ([]byte, []byte) {
	return normalize.OpenAIResponseJSON(resp), encodeMeta(resp)
}

// Check implements Codec: the body must be valid JSON as
// normalize.AppendOpenAIResponse writes it (an object whose first member
// is "id"). Validation reads the bytes once without building anything.
func (ChatCodec) Check(body []byte) error {
	if !bytes.HasPrefix(body, []byte(`{"id":`)) {
		return errNotAnswer
	}
	if err := fastjson.ValidateBytes(body); err != nil {
		return errors.Join(errNotAnswer, err)
	}
	return nil
}

// Decode implements Codec.
func (ChatCodec) Decode(e store.Entry) (*normalize.Response, error) {
	return normalize.ParseOpenAIResponse(e.Body)
}

// Summary implements Codec.
func (ChatCodec) Summary(e store.Entry) (*normalize.Response, error) {
	if r, ok := decodeMeta(e.Meta); ok {
		return r, nil
	}
	return normalize.SummarizeOpenAIResponse(e.Body)
}

// Entry metadata: what accounting needs from a stored answer (model, token
// usage, finish reasons), kept beside its body so a JSON hit writes the
// stored bytes without parsing them. Format: "m1", then NUL-separated
// model, prompt tokens, completion tokens, total tokens, and the choices'
// finish reasons joined by ','. Entries without it (or with another
// version) are read by parsing the body.
const metaVersion = "m1"

func encodeMeta(r *normalize.Response) []byte {
	var b []byte
	b = append(b, metaVersion...)
	b = append(b, 0)
	b = append(b, r.Model...)
	b = append(b, 0)
	var u normalize.Usage
	if r.Usage != nil {
		u = *r.Usage
	}
	b = strconv.AppendInt(b, int64(u.PromptTokens), 10)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(u.CompletionTokens), 10)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(u.TotalTokens), 10)
	b = append(b, 0)
	for i, c := range r.Choices {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c.FinishReason...)
	}
	return b
}

// metaView holds a decoded entry's accounting view in one allocation; the
// inline choice serves the usual single-choice answer.
type metaView struct {
	resp   normalize.Response
	usage  normalize.Usage
	choice [1]normalize.Choice
}

// decodeMeta rebuilds the accounting view of a stored answer: Model, Usage
// (nil when the answer had none) and each choice's Index and FinishReason.
// It runs on every JSON hit, so it allocates once for the common case (one
// choice) plus the model string.
func decodeMeta(b []byte) (*normalize.Response, bool) {
	var f [6][]byte
	for i := range 5 {
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			return nil, false
		}
		f[i], b = b[:j], b[j+1:]
	}
	if bytes.IndexByte(b, 0) >= 0 || string(f[0]) != metaVersion {
		return nil, false
	}
	f[5] = b
	var n [3]int
	for i := range n {
		v, err := strconv.Atoi(string(f[2+i])) // no allocation: the conversion does not escape
		if err != nil {
			return nil, false
		}
		n[i] = v
	}
	v := &metaView{}
	r := &v.resp
	r.Model = string(f[1])
	if n[0] != 0 || n[1] != 0 || n[2] != 0 {
		v.usage = normalize.Usage{PromptTokens: n[0], CompletionTokens: n[1], TotalTokens: n[2]}
		r.Usage = &v.usage
	}
	reasons := f[5]
	if bytes.IndexByte(reasons, ',') < 0 {
		v.choice[0] = normalize.Choice{FinishReason: string(reasons)}
		r.Choices = v.choice[:]
		return r, true
	}
	for i, reason := range strings.Split(string(reasons), ",") {
		r.Choices = append(r.Choices, normalize.Choice{Index: i, FinishReason: reason})
	}
	return r, true
}
