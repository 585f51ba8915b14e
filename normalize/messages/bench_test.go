package messages_test

import (
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/messages"
)

// benchAnswer is a stored answer of about 1 KB: text and a tool call.
func benchAnswer() *normalize.Response {
	return &normalize.Response{
		ID: "chatcmpl-bench", Model: "gpt-4o-mini",
		Choices: []normalize.Choice{{
			Message: normalize.Message{Role: "assistant", Content: []normalize.Part{{Type: "text", Text: strings.Repeat("The weather in Paris is mild. ", 28)}},
				ToolCalls: []normalize.ToolCall{{ID: "call_1", Type: "function", Name: "get_weather", Arguments: `{"city":"Paris","units":"c"}`}}},
			FinishReason: "tool_calls",
		}},
		Usage: &normalize.Usage{PromptTokens: 300, CompletionTokens: 200, TotalTokens: 500, PromptTokensDetails: []byte(`{"cached_tokens":128}`)},
	}
}

func BenchmarkAppendResponse(b *testing.B) {
	resp := benchAnswer()
	buf := messages.AppendResponse(nil, resp, "claude-sonnet-4-5")
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = messages.AppendResponse(buf[:0], resp, "claude-sonnet-4-5")
	}
}

// BenchmarkStreamReplay replays a stored answer as events, as a cache hit
// of a streaming request does.
func BenchmarkStreamReplay(b *testing.B) {
	resp := benchAnswer()
	chunks := normalize.Replay(resp, true)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		s := messages.NewStream("claude-sonnet-4-5")
		buf = buf[:0]
		for i := range chunks {
			buf = s.Chunk(buf, &chunks[i])
		}
		buf = s.End(buf, resp)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkStreamLive renders a provider's stream of small deltas.
func BenchmarkStreamLive(b *testing.B) {
	words := strings.Fields(strings.Repeat("The weather in Paris is mild today. ", 30))
	chunks := make([]normalize.Chunk, len(words))
	for i := range words {
		w := words[i] + " "
		chunks[i] = normalize.Chunk{ID: "c", Choices: []normalize.ChunkChoice{{Delta: normalize.Delta{Content: &w}}}}
	}
	resp := benchAnswer()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		s := messages.NewStream("claude-sonnet-4-5")
		buf = buf[:0]
		for i := range chunks {
			buf = s.Chunk(buf, &chunks[i])
		}
		buf = s.End(buf, resp)
	}
	b.SetBytes(int64(len(buf)))
}

// benchBody is a Messages request of about 1 KB: a system prompt, a tool
// and a tool round trip.
const benchBody = `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":"You are a helpful assistant that answers questions about the weather briefly and precisely.",` +
	`"tools":[{"name":"get_weather","description":"Get the current weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string","description":"City name"},"units":{"type":"string","enum":["c","f"]}},"required":["city"]}}],` +
	`"messages":[{"role":"user","content":"What is the weather like in Paris today? I am planning a walk along the Seine in the afternoon and would like to know whether to bring an umbrella."},` +
	`{"role":"assistant","content":[{"type":"text","text":"Let me check the weather in Paris for you."},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"city":"Paris","units":"c"}}]},` +
	`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A09q90qw90lq917835lq9","content":"18 degrees Celsius, light clouds, 10 percent chance of rain in the afternoon, wind 12 km/h from the west."}]}],` +
	`"temperature":0.3,"stream":true}`

func BenchmarkDecode(b *testing.B) {
	body := []byte(benchBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := messages.Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeChat is the chat request of the same meaning, for
// comparison: Decode costs a translation plus this.
func BenchmarkDecodeChat(b *testing.B) {
	r, err := messages.Decode([]byte(benchBody))
	if err != nil {
		b.Fatal(err)
	}
	body := normalize.AppendOpenAIRequest(nil, r, r.Model, false)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := normalize.DecodeOpenAI(body); err != nil {
			b.Fatal(err)
		}
	}
}
