package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

func TestEncodeWithExtra(t *testing.T) {
	obj, err := Marshal(map[string]string{"a": "<b>"})
	if err != nil {
		t.Fatal(err)
	}
	if string(obj) != `{"a":"<b>"}` {
		t.Errorf("Marshal = %s", obj)
	}
	if got := appendMembers(obj, nil); string(got) != `{"a":"<b>"}` {
		t.Errorf("appendMembers(no extra) = %s", got)
	}
	extra := []normalize.Field{{Name: "x", Value: json.RawMessage(`1`)}, {Name: "a", Value: json.RawMessage(`[true]`)}}
	if f, ok := firstReserved(extra, map[string]bool{"a": true}); !ok || f != "a" {
		t.Errorf("firstReserved = %q, %v; want a", f, ok)
	}
	if f, ok := firstReserved(extra, map[string]bool{"b": true}); ok {
		t.Errorf("firstReserved = %q, want none", f)
	}
	if got := appendMembers(obj, extra); string(got) != `{"a":"<b>","x":1,"a":[true]}` {
		t.Errorf("appendMembers = %s", got)
	}

	body, err := EncodeRequest("p", "P", map[string]int{"n": 1}, extra[:1], map[string]bool{"n": true})
	if err != nil || string(body) != `{"n":1,"x":1}` {
		t.Errorf("EncodeRequest = %s, %v", body, err)
	}
	_, err = EncodeRequest("p", "P", map[string]int{"n": 1}, extra, map[string]bool{"a": true})
	if pe, ok := err.(*providers.Error); !ok || pe.Status != 400 || pe.Param != "a" || pe.Provider != "p" ||
		pe.Message != `"a" is set by Ditto from the OpenAI request and cannot be passed through to P` {
		t.Errorf("EncodeRequest with a reserved member: %#v", err)
	}
	if _, err = EncodeRequest("p", "P", func() {}, nil, nil); err == nil || !strings.HasPrefix(err.Error(), "p: encoding request: ") {
		t.Errorf("EncodeRequest of a func: %v", err)
	}
}

func TestParseDataURL(t *testing.T) {
	for _, tt := range []struct {
		give, mt, data string
		ok             bool
	}{
		{"data:Image/PNG;base64,AAAA", "image/png", "AAAA", true},
		{"DATA:application/pdf;BASE64,JVBE", "application/pdf", "JVBE", true},
		{"data:image/png,AAAA", "", "", false},
		{"data:;base64,AAAA", "", "", false},
		{"https://x/y.png", "", "", false},
	} {
		mt, data, ok := ParseDataURL(tt.give)
		if mt != tt.mt || data != tt.data || ok != tt.ok {
			t.Errorf("ParseDataURL(%q) = %q, %q, %v", tt.give, mt, data, ok)
		}
	}
}

func TestArgs(t *testing.T) {
	for give, want := range map[string]string{"": "{}", " {\"a\": 1} ": `{"a": 1}`, "[1]": "error", "{": "error"} {
		got, err := JSONObject(give)
		if (err != nil) != (want == "error") || (err == nil && string(got) != want) {
			t.Errorf("JSONObject(%q) = %s, %v; want %s", give, got, err, want)
		}
	}
	for give, want := range map[string]string{"": "{}", `{ "a" : [1, 2] }`: `{"a":[1,2]}`, "{bad": "{bad"} {
		if got := CompactArgs(json.RawMessage(give)); got != want {
			t.Errorf("CompactArgs(%q) = %s, want %s", give, got, want)
		}
	}
}

func TestNamedFunction(t *testing.T) {
	if fn, ok := NamedFunction(`{"type":"function","function":{"name":"f"}}`); !ok || fn != "f" {
		t.Errorf("NamedFunction = %q, %v", fn, ok)
	}
	for _, give := range []string{"auto", `{"type":"function","function":{}}`, `{"type":"custom","function":{"name":"f"}}`} {
		if fn, ok := NamedFunction(give); ok {
			t.Errorf("NamedFunction(%s) = %q, want none", give, fn)
		}
	}
}

func TestUnsupported(t *testing.T) {
	one, seed := 1.0, int64(7)
	set := map[string]normalize.Params{
		"logprobs":          {Logprobs: true},
		"top_logprobs":      {TopLogprobs: new(int)},
		"logit_bias":        {LogitBias: json.RawMessage(`{"1":2}`)},
		"seed":              {Seed: &seed},
		"presence_penalty":  {PresencePenalty: &one},
		"frequency_penalty": {FrequencyPenalty: &one},
		"verbosity":         {Verbosity: "low"},
		"modalities":        {Modalities: []string{"audio"}},
		"audio":             {Audio: json.RawMessage(`{}`)},
		"prediction":        {Prediction: json.RawMessage(`{}`)},
		"service_tier":      {ServiceTier: "flex"},
	}
	all := make([]string, 0, len(set))
	for param := range set {
		all = append(all, param)
	}
	if err := Unsupported("x", "X", &normalize.Params{}, all...); err != nil {
		t.Fatalf("no parameter set: %v", err)
	}
	for param, p := range set {
		err := Unsupported("x", "X", &p, all...)
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Param != param || pe.Status != 400 || pe.Message != `X does not support the parameter "`+param+`"` {
			t.Errorf("%s set: got %#v", param, err)
		}
		if err := Unsupported("x", "X", &p, "seed"); param != "seed" && err != nil {
			t.Errorf("%s set, only seed checked: %v", param, err)
		}
	}
}
