package normalize_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/dittocache/ditto/normalize"
)

// A dialect keys a request apart from the portable form, and each
// dialect-only field keys it apart again; the portable form's bytes carry
// no trace of dialects.
func TestCanonicalDialect(t *testing.T) {
	base, err := normalize.DecodeOpenAI([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	portable := normalize.Canonical(base)
	if bytes.Contains(portable, []byte("dialect")) {
		t.Fatalf("portable canonical form mentions a dialect: %s", portable)
	}
	inDialect := *base
	inDialect.Dialect = "responses"
	withField := inDialect
	withField.DialectFields = []normalize.Field{{Name: "previous_response_id", Value: json.RawMessage(`"resp_1"`)}}
	otherField := inDialect
	otherField.DialectFields = []normalize.Field{{Name: "previous_response_id", Value: json.RawMessage(`"resp_2"`)}}
	seen := map[string]string{string(portable): "portable"}
	for name, r := range map[string]*normalize.Request{"dialect": &inDialect, "field": &withField, "other field": &otherField} {
		c := string(normalize.Canonical(r))
		if prev, dup := seen[c]; dup {
			t.Errorf("%s and %s share canonical bytes %s", name, prev, c)
		}
		seen[c] = name
	}
	if got, want := string(normalize.Canonical(&withField)),
		`{"messages":[{"role":"user","content":"hi"}],"dialect":"responses","dialect_fields":{"previous_response_id":"resp_1"}}`; got != want {
		t.Errorf("Canonical = %s, want %s", got, want)
	}
}
