package embeddings_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
)

// FuzzDecode checks Decode's invariants on arbitrary bodies, seeded with
// the request corpus: it never panics and fails only with a
// *normalize.Error wrapping ErrInvalid; a decoded request is valid (1 to
// MaxEmbeddingInputs non-empty items, all texts or all token arrays);
// decoding is deterministic; each item's canonical bytes are valid JSON;
// and the upstream body is a fixed point, decoding to the same items.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/requests/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"model":"m","input":[[1,2.0,3e0],[0]],"dimensions":1e1}`,
		`{"model":"m","input":["a",["b"]]}`,
		`{"model":"m","input":"x","o":{"a":[1,{"b":null}],"a":2}}`,
		`{"model":"m","input":"\ud83d\ude00\u2028","user":null,"encoding_format":"base64"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := embeddings.Decode(body)
		if err != nil {
			var e *normalize.Error
			if !errors.As(err, &e) || !errors.Is(err, normalize.ErrInvalid) {
				t.Fatalf("Decode error %v (%T) is not a *normalize.Error wrapping ErrInvalid", err, err)
			}
			return
		}
		if r.Model == "" || len(r.Inputs) == 0 || len(r.Inputs) > normalize.MaxEmbeddingInputs {
			t.Fatalf("Decode accepted model %q with %d inputs", r.Model, len(r.Inputs))
		}
		for i := range r.Inputs {
			in := &r.Inputs[i]
			if in.IsTokens() != r.Inputs[0].IsTokens() || (in.IsTokens() && len(in.Tokens) == 0) || (!in.IsTokens() && in.Text == "") {
				t.Fatalf("Decode accepted item %d: %+v", i, *in)
			}
		}
		keys := itemKeys(r)
		for _, k := range keys {
			if !json.Valid([]byte(k)) {
				t.Fatalf("item canonical bytes are not JSON: %s", k)
			}
		}
		again, err := embeddings.Decode(body)
		if err != nil || !cmp.Equal(itemKeys(again), keys) {
			t.Fatalf("Decode is not deterministic: %v", err)
		}
		wire := embeddings.AppendRequest(nil, r, r.Model, r.EncodingFormat)
		r2, err := embeddings.Decode(wire)
		if err != nil {
			t.Fatalf("upstream body does not decode: %v\nbody: %s\nwire: %s", err, body, wire)
		}
		if diff := cmp.Diff(keys, itemKeys(r2)); diff != "" || r2.Model != r.Model || r2.User != r.User || r2.EncodingFormat != r.EncodingFormat {
			t.Fatalf("upstream body is not a fixed point (-first +again):\n%s\nwire: %s", diff, wire)
		}
	})
}
