package providertest

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// EncodeGolden runs a subtest per OpenAI request in testdata/encode/*.json
// (named after the file, without .json): encode must turn it into a JSON
// body equal to the golden file beside it (NAME.golden, rewritten when
// update is set; see Golden) and encode it again to the same bytes.
func EncodeGolden(t *testing.T, update bool, encode func(name string, req *normalize.Request) ([]byte, error)) {
	inputs, err := filepath.Glob("testdata/encode/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			req := DecodeOpenAI(t, string(ReadFile(t, in)))
			got, err := encode(name, req)
			if err != nil {
				t.Fatalf("encodeRequest: %v", err)
			}
			if !json.Valid(got) {
				t.Fatalf("encoded body is not JSON: %s", got)
			}
			Golden(t, strings.TrimSuffix(in, ".json")+".golden", got, update)
			// Encoding is a pure function of the request.
			again, _ := encode(name, req)
			if string(again) != string(got) {
				t.Errorf("second encoding differs:\n%s\n%s", again, got)
			}
		})
	}
}

// Reject is a request an adapter must refuse before sending it.
type Reject struct {
	Give  string // JSON members replacing those of a one-turn request
	Param string // the parameter the error must name
}

// EncodeRejects runs a subtest per case: the one-turn request
// {"model":model,"messages":[{"role":"user","content":"hi"}]} with the
// members of Give set must make encode fail with a 400
// invalid_request_error *providers.Error from provider naming Param.
func EncodeRejects(t *testing.T, provider, model string, encode func(req *normalize.Request) error, cases []Reject) {
	for _, tt := range cases {
		t.Run(tt.Give, func(t *testing.T) {
			m := map[string]any{"model": model, "messages": []any{map[string]any{"role": "user", "content": "hi"}}}
			if err := json.Unmarshal([]byte(tt.Give), &m); err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(m)
			err := encode(DecodeOpenAI(t, string(body)))
			pe, ok := providers.AsError(err)
			if !ok {
				t.Fatalf("encodeRequest error = %v, want *providers.Error", err)
			}
			if pe.Status != 400 || pe.Type != "invalid_request_error" || pe.Param != tt.Param || pe.Provider != provider {
				t.Errorf("error = %+v, want 400 invalid_request_error for param %q", pe, tt.Param)
			}
		})
	}
}

// MatchRecorded compares body, a request an adapter encoded, with the
// request body recorded in the file at path, as JSON values. drop, if set,
// first removes from the recording what the OpenAI request cannot express.
func MatchRecorded(t testing.TB, path string, body []byte, drop func(recorded map[string]any)) {
	t.Helper()
	var want map[string]any
	if err := json.Unmarshal(ReadFile(t, path), &want); err != nil {
		t.Fatal(err)
	}
	if drop != nil {
		drop(want)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("encoded:\n%s\nrecorded:\n%s", g, w)
	}
}
