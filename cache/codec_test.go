package cache

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
)

func TestEntryMetaRoundTrip(t *testing.T) {
	tests := []*normalize.Response{
		{Model: "gpt-4o-2024-08-06", Usage: &normalize.Usage{PromptTokens: 14, CompletionTokens: 37, TotalTokens: 51},
			Choices: []normalize.Choice{{Index: 0, FinishReason: "stop"}, {Index: 1, FinishReason: "tool_calls"}}},
		{Model: "", Choices: []normalize.Choice{{Index: 0, FinishReason: "length"}}}, // no usage
	}
	for _, want := range tests {
		got, ok := decodeMeta(encodeMeta(want))
		if !ok || !cmp.Equal(got, want) {
			t.Errorf("decodeMeta(encodeMeta(%+v)) = %+v, %v", want, got, ok)
		}
	}
	for _, bad := range []string{"", "m0\x00a\x001\x002\x003\x00stop", "m1\x00a\x00x\x002\x003\x00stop", "m1\x00only"} {
		if _, ok := decodeMeta([]byte(bad)); ok {
			t.Errorf("decodeMeta(%q) accepted", bad)
		}
	}
}
