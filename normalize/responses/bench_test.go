package responses_test

import (
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/responses"
)

// A ~1 KB answer, as a hit renders it.
func benchAnswer() *normalize.Response {
	text := strings.Repeat("Caching answers saves tokens and time. ", 26) // ~1 KB
	return &normalize.Response{ID: "chatcmpl-bench", Created: 1760000000, Model: "gpt-4o-mini-2024-07-18", Choices: []normalize.Choice{{
		Message:      normalize.Message{Role: normalize.RoleAssistant, Content: []normalize.Part{{Type: normalize.PartText, Text: text}}},
		FinishReason: "stop",
	}}, Usage: &normalize.Usage{PromptTokens: 120, CompletionTokens: 230, TotalTokens: 350, PromptTokensDetails: []byte(`{"cached_tokens":0,"audio_tokens":0}`), CompletionTokensDetails: []byte(`{"reasoning_tokens":0,"audio_tokens":0}`)}}
}

// A ~1 KB request: instructions, a short history, one function tool.
const benchRequest = `{"model":"gpt-4o-mini","instructions":"You are a concise assistant for a travel website. Answer in two sentences at most and suggest one follow-up question.","input":[{"role":"user","content":[{"type":"input_text","text":"I am planning a trip to Lisbon in October. What should I pack?"}]},{"role":"assistant","content":[{"type":"output_text","text":"Pack light layers, a rain jacket and comfortable walking shoes for the hills."}]},{"role":"user","content":[{"type":"input_text","text":"And what is the weather usually like in the evenings, is it cold?"}]}],"tools":[{"type":"function","name":"get_forecast","description":"Get the weather forecast for a city and date range","parameters":{"type":"object","properties":{"city":{"type":"string"},"from":{"type":"string","format":"date"},"to":{"type":"string","format":"date"}},"required":["city","from","to"],"additionalProperties":false},"strict":true}],"temperature":0.3,"max_output_tokens":400,"store":true,"metadata":{"session":"abc123"}}`

func BenchmarkDecode(b *testing.B) {
	body := []byte(benchRequest)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := responses.Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Decode(nil); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEcho(b *testing.B) *responses.Echo {
	p, err := responses.Parse([]byte(benchRequest))
	if err != nil {
		b.Fatal(err)
	}
	p.Echo.IDSeed = []byte("0123456789abcdef0123456789abcdef")
	return p.Echo
}

func BenchmarkAppendResponse(b *testing.B) {
	resp, echo := benchAnswer(), benchEcho(b)
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	for b.Loop() {
		buf = responses.AppendResponse(buf[:0], resp, echo)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkReplayStream is a streamed hit: Replay, every chunk rendered,
// then End.
func BenchmarkReplayStream(b *testing.B) {
	resp, echo := benchAnswer(), benchEcho(b)
	buf := make([]byte, 0, 16384)
	b.ReportAllocs()
	for b.Loop() {
		s := responses.NewStream(echo)
		buf = buf[:0]
		for _, c := range normalize.Replay(resp, true) {
			buf = s.Chunk(buf, &c)
		}
		buf = s.End(buf, resp)
	}
	b.SetBytes(int64(len(buf)))
}

// The chat renderer on the same answer, for comparison.
func BenchmarkChatAppendResponse(b *testing.B) {
	resp := benchAnswer()
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	for b.Loop() {
		buf = normalize.AppendOpenAIResponse(buf[:0], resp)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkChatDecode(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a concise assistant for a travel website. Answer in two sentences at most and suggest one follow-up question."},{"role":"user","content":"I am planning a trip to Lisbon in October. What should I pack?"},{"role":"assistant","content":"Pack light layers, a rain jacket and comfortable walking shoes for the hills."},{"role":"user","content":"And what is the weather usually like in the evenings, is it cold?"}],"tools":[{"type":"function","function":{"name":"get_forecast","description":"Get the weather forecast for a city and date range","parameters":{"type":"object","properties":{"city":{"type":"string"},"from":{"type":"string","format":"date"},"to":{"type":"string","format":"date"}},"required":["city","from","to"],"additionalProperties":false},"strict":true}}],"temperature":0.3,"max_completion_tokens":400,"store":true,"metadata":{"session":"abc123"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := normalize.DecodeOpenAI(body); err != nil {
			b.Fatal(err)
		}
	}
}
