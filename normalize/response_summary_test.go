package normalize

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSummarizeMatchesParse(t *testing.T) {
	body := []byte(`{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"hi","refusal":null},"logprobs":null,"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":14,"completion_tokens":37,"total_tokens":51}}`)
	full, err := ParseOpenAIResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := SummarizeOpenAIResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Model != full.Model || !cmp.Equal(sum.Usage, full.Usage) || len(sum.Choices) != 2 {
		t.Fatalf("summary %+v differs from parse %+v", sum, full)
	}
	for i := range sum.Choices {
		if sum.Choices[i].FinishReason != full.Choices[i].FinishReason || sum.Choices[i].Index != full.Choices[i].Index {
			t.Errorf("choice %d: %+v vs %+v", i, sum.Choices[i], full.Choices[i])
		}
	}
	if _, err := SummarizeOpenAIResponse([]byte(`[1]`)); err == nil {
		t.Error("summary of a non-object succeeded")
	}
}
