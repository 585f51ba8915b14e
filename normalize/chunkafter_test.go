package normalize_test

import (
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
)

// A chunk parsed after another of the same stream equals what
// ParseOpenAIChunk gives, and shares its predecessor's identifying strings.
func TestParseOpenAIChunkAfterSharesIdentifiers(t *testing.T) {
	first := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`)
	next := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hi"}}]}`)
	other := []byte(`{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"x"}}]}`)
	prev, err := normalize.ParseOpenAIChunk(first)
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{next, other} {
		got, err := normalize.ParseOpenAIChunkAfter(data, prev)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := normalize.ParseOpenAIChunk(data)
		if !cmp.Equal(got, want) {
			t.Errorf("ParseOpenAIChunkAfter(%s) differs from ParseOpenAIChunk:\n%s", data, cmp.Diff(want, got))
		}
		shared := unsafe.StringData(got.ID) == unsafe.StringData(prev.ID) && unsafe.StringData(got.Model) == unsafe.StringData(prev.Model)
		if same := got.ID == prev.ID; shared != same {
			t.Errorf("%s: id and model shared = %v, want %v", data, shared, same)
		}
	}
}
