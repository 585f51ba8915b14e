package normalize_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
)

// FuzzNormalize checks the invariants of DecodeOpenAI and Canonical on
// arbitrary bodies, seeded with the golden corpus: decoding never panics and
// fails only with ErrInvalid; the canonical form is valid JSON and a fixed
// point of the upstream wire encoding; and reordering members (outside
// schema "properties") or changing whitespace and escapes outside the
// strings' values never changes it.
func FuzzNormalize(f *testing.F) {
	names, bodies := corpus(f)
	for _, name := range names {
		f.Add(bodies[name])
	}
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"x"}],"x":[1e400,-0,0.1e-7,123456789012345678901234567890]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"DATA:x","detail":null},"y":{"data":"QUJD"}}]}]}`,
		`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"},"index":0}]}]}`,
		`{"model":"m","messages":[{"role":"user","content":"\u00e9\ud83d\ude00\u2028\/"}],"stop":["b","a","b"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := normalize.DecodeOpenAI(body)
		if err != nil {
			if !errors.Is(err, normalize.ErrInvalid) {
				t.Fatalf("DecodeOpenAI error %v does not wrap ErrInvalid", err)
			}
			return
		}
		canon := normalize.Canonical(r)
		if !json.Valid(canon) {
			t.Fatalf("Canonical is not valid JSON: %s", canon)
		}
		if again := normalize.Canonical(r); !bytes.Equal(again, canon) {
			t.Fatalf("Canonical is not deterministic:\n%s\n%s", canon, again)
		}
		loose := normalize.CanonicalWith(r, normalize.Options{IgnoreFields: []string{"seed", "x"}, TrimTrailingWhitespace: true})
		if !json.Valid(loose) {
			t.Fatalf("CanonicalWith is not valid JSON: %s", loose)
		}

		// Idempotence through the upstream wire encoding.
		wire := normalize.AppendOpenAIRequest(nil, r, r.Model, r.Stream)
		r2, err := normalize.DecodeOpenAI(wire)
		if err != nil {
			t.Fatalf("wire body does not decode: %v\nbody: %s\nwire: %s", err, body, wire)
		}
		if c2 := normalize.Canonical(r2); !bytes.Equal(c2, canon) {
			t.Fatalf("Canonical(Decode(wire)) =\n%s\nwant\n%s", c2, canon)
		}
		if w2 := normalize.AppendOpenAIRequest(nil, r2, r2.Model, r2.Stream); !bytes.Equal(w2, wire) {
			t.Fatalf("wire encoding is not a fixed point:\n%s\n%s", wire, w2)
		}

		// Respelling.
		resp, ok := respell(body)
		if !ok {
			return
		}
		r3, err := normalize.DecodeOpenAI(resp)
		if err != nil {
			t.Fatalf("respelled body does not decode: %v\nbody: %s\nrespelled: %s", err, body, resp)
		}
		if c3 := normalize.Canonical(r3); !bytes.Equal(c3, canon) {
			t.Fatalf("respelling changed the canonical form:\n%s\n%s\nbody: %s\nrespelled: %s", canon, c3, body, resp)
		}
	})
}

// respell re-encodes a JSON document with every object's members in
// reverse order (except the members of "properties" objects, whose order is
// significant), random whitespace between tokens and random (equivalent)
// string escapes.
func respell(body []byte) ([]byte, bool) {
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, false
	}
	rng := rand.New(rand.NewPCG(uint64(len(body)), 1))
	var b strings.Builder
	respellValue(&b, v, false, rng)
	return []byte(b.String()), true
}

func respellValue(b *strings.Builder, v *fastjson.Value, keep bool, rng *rand.Rand) {
	ws := func() {
		if rng.IntN(2) == 0 {
			b.WriteString([]string{" ", "\n", "\t", "\r\n "}[rng.IntN(4)])
		}
	}
	ws()
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		type kv struct {
			k string
			v *fastjson.Value
		}
		var ms []kv
		o.Visit(func(k []byte, v *fastjson.Value) { ms = append(ms, kv{string(k), v}) })
		if !keep {
			for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
				ms[i], ms[j] = ms[j], ms[i]
			}
		}
		b.WriteByte('{')
		for i, m := range ms {
			if i > 0 {
				b.WriteByte(',')
			}
			ws()
			renderString(b, m.k, rng)
			ws()
			b.WriteByte(':')
			respellValue(b, m.v, m.k == "properties", rng)
		}
		ws()
		b.WriteByte('}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		b.WriteByte('[')
		for i, e := range a {
			if i > 0 {
				b.WriteByte(',')
			}
			respellValue(b, e, false, rng)
		}
		ws()
		b.WriteByte(']')
	case fastjson.TypeString:
		renderString(b, string(v.GetStringBytes()), rng)
	default:
		b.Write(v.MarshalTo(nil))
	}
	ws()
}
