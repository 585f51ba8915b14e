package normalize_test

import (
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		give    []string
		wantErr string
	}{
		{nil, ""},
		{[]string{"seed", "temperature", "user_id", "top_k", "max_completion_tokens", "chat_template_kwargs"}, ""},
		{[]string{"messages"}, "shapes the answer"},
		{[]string{"model"}, "shapes the answer"},
		{[]string{"tools"}, "shapes the answer"},
		{[]string{"n"}, "shapes the answer"},
		{[]string{"response_format"}, "shapes the answer"},
		{[]string{"user"}, "never part of the key"},
		{[]string{"stream"}, "never part of the key"},
		{[]string{"metadata"}, "never part of the key"},
		{[]string{""}, "not a field name"},
		{[]string{"a b"}, "not a field name"},
		{[]string{"seed", "messages", "x:y"}, "messages"},
	}
	for _, tt := range tests {
		err := normalize.Options{IgnoreFields: tt.give}.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Validate(%q) = %v, want nil", tt.give, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("Validate(%q) = %v, want error containing %q", tt.give, err, tt.wantErr)
		}
	}
}

func TestOptionsTag(t *testing.T) {
	if tag := (normalize.Options{}).Tag(); tag != "" {
		t.Errorf("zero Options tag = %q, want empty", tag)
	}
	if tag := (normalize.Options{IgnoreFields: []string{}}).Tag(); tag != "" {
		t.Errorf("empty IgnoreFields tag = %q, want empty", tag)
	}
	a := normalize.Options{IgnoreFields: []string{"seed", "max_tokens"}}.Tag()
	b := normalize.Options{IgnoreFields: []string{"max_completion_tokens", "seed", "seed"}}.Tag()
	if a != b {
		t.Errorf("equivalent options have tags %q and %q", a, b)
	}
	if len(a) != len("loose:")+8 || !strings.HasPrefix(a, "loose:") {
		t.Errorf("tag %q is not loose:<8 hex>", a)
	}
	seen := map[string]normalize.Options{}
	for _, o := range []normalize.Options{
		{IgnoreFields: []string{"seed"}},
		{IgnoreFields: []string{"temperature"}},
		{IgnoreFields: []string{"seed", "temperature"}},
		{IgnoreFields: []string{"seed,temperature"}},
		{TrimTrailingWhitespace: true},
		{IgnoreFields: []string{"seed"}, TrimTrailingWhitespace: true},
	} {
		tag := o.Tag()
		if prev, ok := seen[tag]; ok {
			t.Errorf("options %+v and %+v share tag %q", prev, o, tag)
		}
		seen[tag] = o
	}
}

func TestCanonicalWith(t *testing.T) {
	body := `{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief.\n"},` +
		`{"role":"user","content":[{"type":"text","text":"Hi \t"},{"type":"text","text":"  there  "}]},` +
		`{"role":"assistant","content":[{"type":"refusal","refusal":"no "}]}],` +
		`"seed":1,"max_completion_tokens":5,"temperature":0.5,"user_id":"u-1","top_k":3}`
	r, err := normalize.DecodeOpenAI([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		give normalize.Options
		want string
	}{
		{normalize.Options{}, `{"messages":[{"role":"system","content":"Be brief.\n"},{"role":"user","content":[{"type":"text","text":"Hi \t"},{"type":"text","text":"  there  "}]},{"role":"assistant","content":[{"type":"refusal","text":"no "}]}],"max_tokens":5,"seed":1,"temperature":0.5,"extra":{"top_k":3,"user_id":"u-1"}}`},
		{normalize.Options{IgnoreFields: []string{"seed", "user_id", "max_tokens"}}, `{"messages":[{"role":"system","content":"Be brief.\n"},{"role":"user","content":[{"type":"text","text":"Hi \t"},{"type":"text","text":"  there  "}]},{"role":"assistant","content":[{"type":"refusal","text":"no "}]}],"temperature":0.5,"extra":{"top_k":3}}`},
		{normalize.Options{IgnoreFields: []string{"top_k", "user_id", "temperature"}}, `{"messages":[{"role":"system","content":"Be brief.\n"},{"role":"user","content":[{"type":"text","text":"Hi \t"},{"type":"text","text":"  there  "}]},{"role":"assistant","content":[{"type":"refusal","text":"no "}]}],"max_tokens":5,"seed":1}`},
		// Trimming touches text only: refusals and leading space stay.
		{normalize.Options{TrimTrailingWhitespace: true}, `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":"  there"}]},{"role":"assistant","content":[{"type":"refusal","text":"no "}]}],"max_tokens":5,"seed":1,"temperature":0.5,"extra":{"top_k":3,"user_id":"u-1"}}`},
	}
	for _, tt := range tests {
		if got := string(normalize.CanonicalWith(r, tt.give)); got != tt.want {
			t.Errorf("CanonicalWith(%+v) =\n%s\nwant\n%s", tt.give, got, tt.want)
		}
	}
	if got, want := string(normalize.CanonicalWith(r, normalize.Options{})), string(normalize.Canonical(r)); got != want {
		t.Errorf("CanonicalWith(zero) = %s, want Canonical %s", got, want)
	}
	// Ignored fields are still sent upstream.
	wire := string(normalize.AppendOpenAIRequest(nil, r, "gpt-4o", false))
	for _, f := range []string{`"seed":1`, `"user_id":"u-1"`, `"Hi \t"`} {
		if !strings.Contains(wire, f) {
			t.Errorf("wire body %s lacks %s", wire, f)
		}
	}
}
