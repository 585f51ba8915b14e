package normalize

import (
	"os"
	"testing"
)

// BenchmarkResponse measures the work a hit costs on the response side:
// the summary a JSON hit needs for accounting, the full parse and the SSE
// replay a streaming hit needs.
func BenchmarkResponse(b *testing.B) {
	body, err := os.ReadFile("testdata/bench/response.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("summarize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := SummarizeOpenAIResponse(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseOpenAIResponse(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	r, _ := ParseOpenAIResponse(body)
	b.Run("replay", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf = buf[:0]
			for _, ch := range Replay(r, true) {
				buf = AppendOpenAIChunk(buf, &ch)
			}
		}
	})
}
