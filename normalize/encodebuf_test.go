package normalize_test

import (
	"bytes"
	"testing"

	"github.com/dittocache/ditto/normalize"
)

// The exact-size encoders produce the same bytes as the Append ones, in
// slices of their own that later encodings never touch.
func TestExactEncodersMatchAppendAndOwnTheirBytes(t *testing.T) {
	a, err := normalize.DecodeOpenAI([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"first"}],"temperature":0.2}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := normalize.DecodeOpenAI([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"second, longer"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ja := normalize.OpenAIRequestJSON(a, "gpt-4o-2024-08-06", true)
	if want := normalize.AppendOpenAIRequest(nil, a, "gpt-4o-2024-08-06", true); !bytes.Equal(ja, want) || cap(ja) != len(ja) {
		t.Fatalf("OpenAIRequestJSON = %s (cap %d), want %s", ja, cap(ja), want)
	}
	keep := bytes.Clone(ja)
	_ = normalize.OpenAIRequestJSON(b, "gpt-4o", false)
	if !bytes.Equal(ja, keep) {
		t.Fatalf("a later encoding changed an earlier body: %s", ja)
	}
	resp, err := normalize.ParseOpenAIResponse([]byte(`{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := normalize.OpenAIResponseJSON(resp), normalize.AppendOpenAIResponse(nil, resp); !bytes.Equal(got, want) {
		t.Fatalf("OpenAIResponseJSON = %s, want %s", got, want)
	}
}
