package completions_test

import (
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/completions"
)

func benchAnswer() *normalize.Response {
	return &normalize.Response{ID: "cmpl-bench", Created: 1700000000, Choices: []normalize.Choice{{
		Message:      normalize.Message{Role: "assistant", Content: []normalize.Part{{Type: "text", Text: strings.Repeat("The capital of France is Paris. ", 30)}}},
		FinishReason: "length",
	}}, Usage: &normalize.Usage{PromptTokens: 6, CompletionTokens: 200, TotalTokens: 206}}
}

func BenchmarkAppendResponse(b *testing.B) {
	resp := benchAnswer()
	buf := completions.AppendResponse(nil, resp, "gpt-3.5-turbo-instruct")
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = completions.AppendResponse(buf[:0], resp, "gpt-3.5-turbo-instruct")
	}
}

func BenchmarkStreamReplay(b *testing.B) {
	resp := benchAnswer()
	chunks := normalize.Replay(resp, true)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		s := completions.NewStream("gpt-3.5-turbo-instruct", true)
		buf = buf[:0]
		for i := range chunks {
			buf = s.Chunk(buf, &chunks[i])
		}
		buf = s.End(buf, resp)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"model":"Qwen/Qwen2-0.5B","prompt":"` + strings.Repeat("The capital of France is Paris. ", 25) + `","max_tokens":64,"temperature":0.2,"top_p":0.9,"stop":["\n\n"],"seed":1,"top_k":20,"stream":true,"stream_options":{"include_usage":true}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := completions.Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}
