package normalize_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
)

func TestVectorRoundTrip(t *testing.T) {
	tests := [][]float32{
		{1},
		{0.0023064255, -0.009327292, -0.0028842222},
		{float32(math.Copysign(0, -1)), math.MaxFloat32, -math.SmallestNonzeroFloat32},
	}
	for _, v := range tests {
		b := normalize.EncodeVector(nil, v)
		if len(b) != 4*len(v) {
			t.Errorf("EncodeVector(%v) = %d bytes, want %d", v, len(b), 4*len(v))
		}
		got, err := normalize.DecodeVector(b)
		if err != nil {
			t.Fatalf("DecodeVector(EncodeVector(%v)) = %v", v, err)
		}
		for i := range v {
			if math.Float32bits(got[i]) != math.Float32bits(v[i]) {
				t.Errorf("DecodeVector(EncodeVector(%v)) = %v", v, got)
				break
			}
		}
	}
	// Little-endian IEEE 754, as OpenAI's base64 format: 1.0 is 00 00 80 3f.
	if got := normalize.EncodeVector([]byte("x"), []float32{1}); !bytes.Equal(got, []byte{'x', 0, 0, 0x80, 0x3f}) {
		t.Errorf("EncodeVector(x, [1]) = % x, want 78 00 00 80 3f", got)
	}
}

func TestDecodeVectorRejects(t *testing.T) {
	valid := normalize.EncodeVector(nil, []float32{1, 2, 3})
	tests := []struct {
		name string
		give []byte
	}{
		{"empty", nil},
		{"truncated by one byte", valid[:len(valid)-1]},
		{"one byte too many", append(append([]byte(nil), valid...), 0)},
		{"three bytes", valid[:3]},
		{"NaN", normalize.EncodeVector(nil, []float32{1, float32(math.NaN())})},
		{"infinity", normalize.EncodeVector(nil, []float32{float32(math.Inf(-1))})},
	}
	for _, tt := range tests {
		if v, err := normalize.DecodeVector(tt.give); !errors.Is(err, normalize.ErrVector) {
			t.Errorf("%s: DecodeVector(% x) = %v, %v; want an error wrapping ErrVector", tt.name, tt.give, v, err)
		}
		if err := normalize.CheckVector(tt.give); !errors.Is(err, normalize.ErrVector) {
			t.Errorf("%s: CheckVector(% x) = %v; want an error wrapping ErrVector", tt.name, tt.give, err)
		}
	}
}

func TestDecodeVectorDoesNotAlias(t *testing.T) {
	b := normalize.EncodeVector(nil, []float32{1, 2})
	v, err := normalize.DecodeVector(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if !cmp.Equal(v, []float32{1, 2}) {
		t.Errorf("DecodeVector result changed with its input: %v", v)
	}
}

func TestAppendEmbeddingCanonical(t *testing.T) {
	dims := 256
	r := &normalize.EmbeddingRequest{
		Inputs:     []normalize.EmbeddingInput{{Text: "a \"quoted\"\n text"}, {Tokens: []int{0, 7, 2147483647}}},
		Dimensions: &dims,
		Extra:      []normalize.Field{{Name: "input_type", Value: []byte(`"query"`)}, {Name: "truncate", Value: []byte(`true`)}},
		User:       "not keyed",
	}
	tests := []struct {
		i    int
		want string
	}{
		{0, `{"embed":{"text":"a \"quoted\"\n text"},"dimensions":256,"extra":{"input_type":"query","truncate":true}}`},
		{1, `{"embed":{"tokens":[0,7,2147483647]},"dimensions":256,"extra":{"input_type":"query","truncate":true}}`},
	}
	for _, tt := range tests {
		if got := string(normalize.AppendEmbeddingCanonical(nil, r, tt.i)); got != tt.want {
			t.Errorf("AppendEmbeddingCanonical(item %d) = %s\nwant %s", tt.i, got, tt.want)
		}
	}
	plain := &normalize.EmbeddingRequest{Inputs: []normalize.EmbeddingInput{{Text: "x"}}, EncodingFormat: normalize.EncodingBase64}
	if got, want := string(normalize.AppendEmbeddingCanonical([]byte("prefix"), plain, 0)), `prefix{"embed":{"text":"x"}}`; got != want {
		t.Errorf("AppendEmbeddingCanonical = %s, want %s", got, want)
	}
}

// TestEmbeddingCanonicalNeverChat: no item's canonical bytes can equal a
// chat request's, which all start with {"messages".
func TestEmbeddingCanonicalNeverChat(t *testing.T) {
	chat, err := normalize.DecodeOpenAI([]byte(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := string(normalize.Canonical(chat)); !strings.HasPrefix(c, `{"messages"`) {
		t.Fatalf("chat canonical form %s changed its first member; revisit the embeddings prefix", c)
	}
	r := &normalize.EmbeddingRequest{Inputs: []normalize.EmbeddingInput{{Text: `{"messages":[]}`}}}
	if got := string(normalize.AppendEmbeddingCanonical(nil, r, 0)); !strings.HasPrefix(got, `{"embed":`) {
		t.Errorf("item canonical bytes %s do not start with {\"embed\":", got)
	}
}

func TestJSONInteger(t *testing.T) {
	tests := []struct {
		give   string
		want   int64
		wantOK bool
	}{
		{"0", 0, true},
		{"-0", 0, true},
		{"7", 7, true},
		{"-12", -12, true},
		{"2.0", 2, true},
		{"2e0", 2, true},
		{"20e-1", 2, true},
		{"1.5e3", 1500, true},
		{"999999999999999999", 999999999999999999, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"9223372036854775808", 0, false},
		{"1.5", 0, false},
		{"1e-1", 0, false},
		{"01", 0, false},
		{`"1"`, 0, false},
		{"true", 0, false},
	}
	var p fastjson.Parser
	for _, tt := range tests {
		v, err := p.Parse(tt.give)
		if err != nil {
			t.Fatalf("parse %s: %v", tt.give, err)
		}
		got, ok := normalize.JSONInteger(v)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("JSONInteger(%s) = %d, %v; want %d, %v", tt.give, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestCheckJSONText(t *testing.T) {
	for _, give := range []string{"{\"a\":\"\xff\"}", `{"a":"\x"}`, `{"a":"\ud800"}`, `{"a":"\u12"}`} {
		if err := normalize.CheckJSONText([]byte(give)); !errors.Is(err, normalize.ErrInvalid) {
			t.Errorf("CheckJSONText(%q) = %v, want ErrInvalid", give, err)
		}
	}
	if err := normalize.CheckJSONText([]byte(`{"a":"\u00e9\ud83d\ude00\n"}`)); err != nil {
		t.Errorf("CheckJSONText(valid) = %v", err)
	}
}

func TestAppendCanonicalJSON(t *testing.T) {
	var p fastjson.Parser
	v, _ := p.Parse(`{"b":[1.0,1E2,"x"],"a":{"d":null,"c":0.10}}`)
	got, err := normalize.AppendCanonicalJSON(nil, v)
	if want := `{"a":{"c":0.1,"d":null},"b":[1,100,"x"]}`; err != nil || string(got) != want {
		t.Errorf("AppendCanonicalJSON = %s, %v; want %s", got, err, want)
	}
	v, _ = p.Parse(`{"a":1,"a":2}`)
	if _, err := normalize.AppendCanonicalJSON(nil, v); !errors.Is(err, normalize.ErrInvalid) {
		t.Errorf("AppendCanonicalJSON(duplicate member) = %v, want ErrInvalid", err)
	}
}

// CheckVector accepts exactly what DecodeVector accepts, over every
// exponent and a sample of mantissas (NaNs and infinities included).
func TestCheckVectorAgreesWithDecodeVector(t *testing.T) {
	for exp := uint32(0); exp < 256; exp++ {
		for _, mant := range []uint32{0, 1, 0x40_0000, 0x7f_ffff} {
			for _, sign := range []uint32{0, 1 << 31} {
				b := normalize.EncodeVector(nil, []float32{0.5, math.Float32frombits(sign | exp<<23 | mant)})
				_, derr := normalize.DecodeVector(b)
				if cerr := normalize.CheckVector(b); (derr == nil) != (cerr == nil) {
					t.Fatalf("bits %08x: DecodeVector %v, CheckVector %v", sign|exp<<23|mant, derr, cerr)
				}
			}
		}
	}
}
