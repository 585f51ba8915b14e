package embeddings_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
)

var update = flag.Bool("update", false, "rewrite golden files")

// itemKeys returns the canonical bytes of every item of r.
func itemKeys(r *normalize.EmbeddingRequest) []string {
	out := make([]string, len(r.Inputs))
	for i := range r.Inputs {
		out[i] = string(normalize.AppendEmbeddingCanonical(nil, r, i))
	}
	return out
}

func mustDecode(t testing.TB, body string) *normalize.EmbeddingRequest {
	t.Helper()
	r, err := embeddings.Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode(%s) = %v", body, err)
	}
	return r
}

// describe is the golden form of a decoded request: the unkeyed members,
// each item's canonical bytes, and the body sent upstream.
func describe(r *normalize.EmbeddingRequest) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "model: %s\nencoding_format: %s\nuser: %q\n", r.Model, r.EncodingFormat, r.User)
	for i, k := range itemKeys(r) {
		fmt.Fprintf(&b, "item %d: %s\n", i, k)
	}
	fmt.Fprintf(&b, "upstream: %s\n", embeddings.AppendRequest(nil, r, "upstream-model", normalize.EncodingFloat))
	return b.Bytes()
}

// TestDecodeGolden decodes every request in testdata/requests and compares
// the per-item canonical bytes (what cache keys hash) and the upstream
// body with testdata/requests/NAME.golden. The upstream body decodes to
// the same items again: the encoding is a fixed point.
func TestDecodeGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/requests/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no requests: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r := mustDecode(t, string(body))
			got := describe(r)
			golden := strings.TrimSuffix(f, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s differs from %s (-want +got):\n%s", f, golden, diff)
			}
			again := mustDecode(t, string(embeddings.AppendRequest(nil, r, r.Model, r.EncodingFormat)))
			if diff := cmp.Diff(itemKeys(r), itemKeys(again)); diff != "" {
				t.Errorf("upstream body decodes to other items (-first +again):\n%s", diff)
			}
		})
	}
}

// TestDecodeEquivalence: spellings that mean the same items share every
// item key; requests that can embed differently do not.
func TestDecodeEquivalence(t *testing.T) {
	same := []struct {
		name string
		a, b string
	}{
		{"string vs one-element array", `{"model":"m","input":"x"}`, `{"model":"m","input":["x"]}`},
		{"member order and white space", `{"model":"m","input":["a","b"],"dimensions":8}`, "{ \"dimensions\" : 8 ,\n\"input\":[ \"a\" , \"b\" ], \"model\":\"m\"}"},
		{"escapes", `{"model":"m","input":"caf\u00e9\/x"}`, `{"model":"m","input":"café/x"}`},
		{"encoding_format is not keyed", `{"model":"m","input":"x","encoding_format":"base64"}`, `{"model":"m","input":"x","encoding_format":"float"}`},
		{"encoding_format null = absent", `{"model":"m","input":"x","encoding_format":null}`, `{"model":"m","input":"x"}`},
		{"user is not keyed", `{"model":"m","input":"x","user":"alice"}`, `{"model":"m","input":"x","user":"bob"}`},
		{"dimensions spellings", `{"model":"m","input":"x","dimensions":256}`, `{"model":"m","input":"x","dimensions":2.56e2}`},
		{"dimensions null = absent", `{"model":"m","input":"x","dimensions":null}`, `{"model":"m","input":"x"}`},
		{"token spellings", `{"model":"m","input":[1,20]}`, `{"model":"m","input":[[1.0,2e1]]}`},
		{"extra member order and numbers", `{"model":"m","input":"x","o":{"a":1,"b":2.50}}`, `{"model":"m","input":"x","o":{"b":2.5,"a":1.0}}`},
		{"extra null = absent", `{"model":"m","input":"x","truncate":null}`, `{"model":"m","input":"x"}`},
	}
	for _, tt := range same {
		a, b := itemKeys(mustDecode(t, tt.a)), itemKeys(mustDecode(t, tt.b))
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s: item keys differ (-a +b):\n%s", tt.name, diff)
		}
	}
	differ := []struct {
		name string
		a, b string
	}{
		{"text", `{"model":"m","input":"x"}`, `{"model":"m","input":"X"}`},
		{"trailing space", `{"model":"m","input":"x"}`, `{"model":"m","input":"x "}`},
		{"NFC vs NFD", `{"model":"m","input":"café"}`, `{"model":"m","input":"cafe\u0301"}`},
		{"text vs tokens", `{"model":"m","input":"1"}`, `{"model":"m","input":[1]}`},
		{"token order", `{"model":"m","input":[1,2]}`, `{"model":"m","input":[2,1]}`},
		{"dimensions", `{"model":"m","input":"x","dimensions":256}`, `{"model":"m","input":"x"}`},
		{"dimensions value", `{"model":"m","input":"x","dimensions":256}`, `{"model":"m","input":"x","dimensions":512}`},
		{"extra", `{"model":"m","input":"x","input_type":"query"}`, `{"model":"m","input":"x","input_type":"document"}`},
		{"extra vs absent", `{"model":"m","input":"x","truncate":false}`, `{"model":"m","input":"x"}`},
		{"text that looks like a key", `{"model":"m","input":"x\"},\"dimensions\":1,\"x\":{\"a\":\""}`, `{"model":"m","input":"x","dimensions":1}`},
	}
	for _, tt := range differ {
		a, b := itemKeys(mustDecode(t, tt.a)), itemKeys(mustDecode(t, tt.b))
		if a[0] == b[0] {
			t.Errorf("%s: both requests have item key %s", tt.name, a[0])
		}
	}
}

// TestItemKeyIndependentOfBatch: an item's key does not depend on the
// other items or its position, so any batch finds it.
func TestItemKeyIndependentOfBatch(t *testing.T) {
	alone := itemKeys(mustDecode(t, `{"model":"m","input":"b","dimensions":64}`))[0]
	batch := itemKeys(mustDecode(t, `{"model":"m","input":["a","b","c"],"dimensions":64}`))
	if batch[1] != alone {
		t.Errorf("item 1 of a batch = %s, want %s as when sent alone", batch[1], alone)
	}
	if !strings.HasPrefix(alone, `{"embed"`) {
		t.Errorf("item key %s does not start with {\"embed\"", alone)
	}
}

func TestDecodeInvalid(t *testing.T) {
	many := `{"model":"m","input":[` + strings.Repeat(`"x",`, normalize.MaxEmbeddingInputs) + `"x"]}`
	manyTokens := `{"model":"m","input":[` + strings.Repeat(`[1],`, normalize.MaxEmbeddingInputs) + `[1]]}`
	tests := []struct {
		give      string
		wantParam string
	}{
		{`{"input":"x"}`, "model"},
		{`{"model":"","input":"x"}`, "model"},
		{`{"model":7,"input":"x"}`, "model"},
		{`{"model":"m"}`, "input"},
		{`{"model":"m","input":null}`, "input"},
		{`{"model":"m","input":""}`, "input"},
		{`{"model":"m","input":[]}`, "input"},
		{`{"model":"m","input":{}}`, "input"},
		{`{"model":"m","input":true}`, "input"},
		{`{"model":"m","input":["a",""]}`, "input[1]"},
		{`{"model":"m","input":["a",1]}`, "input[1]"},
		{`{"model":"m","input":["a",null]}`, "input[1]"},
		{`{"model":"m","input":[null]}`, "input[0]"},
		{`{"model":"m","input":[1,"a"]}`, "input[1]"},
		{`{"model":"m","input":[1,1.5]}`, "input[1]"},
		{`{"model":"m","input":[-1]}`, "input[0]"},
		{`{"model":"m","input":[2147483648]}`, "input[0]"},
		{`{"model":"m","input":[1e400]}`, "input[0]"},
		{`{"model":"m","input":[01]}`, "input[0]"},
		{`{"model":"m","input":[[1],[]]}`, "input[1]"},
		{`{"model":"m","input":[[1],"a"]}`, "input[1]"},
		{`{"model":"m","input":[[1],[2,"x"]]}`, "input[1][1]"},
		{`{"model":"m","input":[[1,[2]]]}`, "input[0][1]"},
		{many, "input"},
		{manyTokens, "input"},
		{`{"model":"m","input":"x","dimensions":0}`, "dimensions"},
		{`{"model":"m","input":"x","dimensions":-3}`, "dimensions"},
		{`{"model":"m","input":"x","dimensions":1.5}`, "dimensions"},
		{`{"model":"m","input":"x","dimensions":"256"}`, "dimensions"},
		{`{"model":"m","input":"x","dimensions":65537}`, "dimensions"},
		{`{"model":"m","input":"x","encoding_format":"binary"}`, "encoding_format"},
		{`{"model":"m","input":"x","encoding_format":1}`, "encoding_format"},
		{`{"model":"m","input":"x","user":1}`, "user"},
		{`{"model":"m","input":"x","input":"y"}`, "input"},
		{`{"model":"m","model":"m","input":"x"}`, "model"},
		{`{"model":"m","input":"x","t":1,"t":2}`, "t"},
		{`{"model":"m","input":"x","o":{"a":1,"a":2}}`, "o"},
		{`{"model":"m","input":"x","o":01}`, "o"},
		{`{"model":"m","input":"\x"}`, ""},
		{`{"model":"m","input":"\ud800"}`, ""},
		{"{\"model\":\"m\",\"input\":\"\xff\"}", ""},
		{`{"model":"m","input":"x"`, ""},
		{`[{"model":"m","input":"x"}]`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		r, err := embeddings.Decode([]byte(tt.give))
		var e *normalize.Error
		if !errors.As(err, &e) || !errors.Is(err, normalize.ErrInvalid) {
			t.Errorf("Decode(%.80s) = %+v, %v; want a *normalize.Error", tt.give, r, err)
			continue
		}
		if e.Param != tt.wantParam {
			t.Errorf("Decode(%.80s) error param = %q (%v), want %q", tt.give, e.Param, err, tt.wantParam)
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	body := `{"model":"m","input":[` + strings.Repeat(`"x",`, normalize.MaxEmbeddingInputs-1) + `"x"],"dimensions":65536}`
	r := mustDecode(t, body)
	if len(r.Inputs) != normalize.MaxEmbeddingInputs || *r.Dimensions != normalize.MaxEmbeddingDimensions {
		t.Errorf("Decode(%d inputs, dimensions 65536) = %d inputs, dimensions %d", normalize.MaxEmbeddingInputs, len(r.Inputs), *r.Dimensions)
	}
	long := `{"model":"m","input":[` + strings.Repeat(`7,`, 5000) + `7]}` // one token array: no item limit
	if r := mustDecode(t, long); len(r.Inputs) != 1 || len(r.Inputs[0].Tokens) != 5001 {
		t.Errorf("Decode(one array of 5001 tokens) = %d inputs", len(r.Inputs))
	}
}

// TestDecodeDoesNotAlias: the request keeps nothing of the body.
func TestDecodeDoesNotAlias(t *testing.T) {
	body := []byte(`{"model":"m","input":["abc","def"],"x":"y"}`)
	r := mustDecode(t, string(body))
	want := itemKeys(r)
	for i := range body {
		body[i] = ' '
	}
	if diff := cmp.Diff(want, itemKeys(r)); diff != "" || r.Model != "m" {
		t.Errorf("request changed with its body (-want +got):\n%s", diff)
	}
}

func TestSelect(t *testing.T) {
	r := mustDecode(t, `{"model":"m","input":["a","b","c"],"dimensions":8,"user":"u","q":1}`)
	s := r.Select([]int{2, 0})
	keys := itemKeys(r)
	if diff := cmp.Diff([]string{keys[2], keys[0]}, itemKeys(s)); diff != "" {
		t.Errorf("Select([2 0]) items (-want +got):\n%s", diff)
	}
	if s.Model != "m" || s.User != "u" || *s.Dimensions != 8 || len(r.Inputs) != 3 {
		t.Errorf("Select changed the request or lost its members: %+v, original %d inputs", s, len(r.Inputs))
	}
}
