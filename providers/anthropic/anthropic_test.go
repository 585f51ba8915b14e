package anthropic

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/providertest"
)

// cassette reads a recorded interaction ({status_code, headers, body}) as a
// Reply, adding extra headers.
func cassette(t *testing.T, path string, extra http.Header) providertest.Reply {
	t.Helper()
	var c struct {
		StatusCode int               `json:"status_code"`
		Headers    map[string]string `json:"headers"`
		Body       json.RawMessage   `json:"body"`
	}
	if err := json.Unmarshal(providertest.ReadFile(t, path), &c); err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Content-Type": {c.Headers["content-type"]}}
	for k, v := range extra {
		h[k] = v
	}
	return providertest.Reply{Status: c.StatusCode, Header: h, Body: c.Body}
}

// recordedText is the text of the single text block of a recorded message.
func recordedText(t *testing.T, path string) string {
	t.Helper()
	var m struct {
		Content []struct{ Text string } `json:"content"`
	}
	if err := json.Unmarshal(providertest.ReadFile(t, path), &m); err != nil {
		t.Fatal(err)
	}
	return m.Content[0].Text
}

func TestConformance(t *testing.T) {
	overloaded := []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	providertest.Run(t, providertest.Suite{
		New: func(baseURL, apiKey string) providers.Provider {
			return New(Options{BaseURL: baseURL + "/", APIKey: apiKey})
		},
		Model:      "claude-haiku-4-5",
		AuthHeader: "x-api-key",
		Check: func(t testing.TB, r *http.Request, body []byte, stream bool) {
			if r.URL.Path != "/v1/messages" {
				t.Errorf("path = %s, want /v1/messages", r.URL.Path)
			}
			if v := r.Header.Get("anthropic-version"); v != "2023-06-01" {
				t.Errorf("anthropic-version = %q", v)
			}
			var b struct {
				Stream    bool `json:"stream"`
				MaxTokens int  `json:"max_tokens"`
			}
			json.Unmarshal(body, &b)
			if b.Stream != stream || b.MaxTokens != DefaultMaxTokens {
				t.Errorf("body stream=%v max_tokens=%d, want %v and %d", b.Stream, b.MaxTokens, stream, DefaultMaxTokens)
			}
		},
		Cases: []providertest.Case{{
			Name:  "text",
			Reply: providertest.ReplyFile(t, "testdata/messages.nonstream.response.json"),
			Want: providertest.Want{
				Content:      recordedText(t, "testdata/messages.nonstream.response.json"),
				FinishReason: "stop",
				Usage:        providertest.Usage(324, 486),
				ID:           "msg_019bVBTjMoXMbUV6LJyiDAmM",
				Model:        "claude-sonnet-4-5-20250929",
			},
		}, {
			Name:  "tool_use",
			Reply: providertest.ReplyFile(t, "testdata/messages.tools.nonstream.response.json"),
			Want: providertest.Want{
				ToolCalls:    []normalize.ToolCall{{ID: "toolu_01A9HHF5Ezy3oBrKmSgfASm9", Name: "get_weather", Arguments: `{"location":"San Francisco, CA","units":"f"}`}},
				FinishReason: "tool_calls",
				Usage:        providertest.Usage(656, 74),
			},
		}, {
			Name:  "after tool result",
			Reply: providertest.ReplyFile(t, "testdata/messages.tools.followup.response.json"),
			Want: providertest.Want{
				Content:      recordedText(t, "testdata/messages.tools.followup.response.json"),
				FinishReason: "stop",
				Usage:        providertest.Usage(760, 63),
			},
		}, {
			Name:   "stream padded",
			Stream: true,
			Reply:  providertest.ReplyFile(t, "testdata/messages.stream.sse"),
			Want: providertest.Want{
				Content:      "[12345,67890]",
				FinishReason: "stop",
				Usage:        providertest.Usage(135, 10),
				ID:           "msg_013nnniYDrJDocdy5nrMU7cH",
				Model:        "claude-sonnet-4-5-20250929",
			},
		}, {
			Name:   "stream basic",
			Stream: true,
			Reply:  providertest.ReplyFile(t, "testdata/messages.stream.basic.sse"),
			Want:   providertest.Want{Content: "Hello there!", FinishReason: "stop", Usage: providertest.Usage(11, 6)},
		}, {
			Name:   "stream tool_use",
			Stream: true,
			Reply:  providertest.ReplyFile(t, "testdata/messages.tools.stream.sse"),
			Want: providertest.Want{
				ToolCalls:    []normalize.ToolCall{{ID: "toolu_018acGYLtfR52q9yDbWaEdQZ", Name: "get_weather", Arguments: `{"location": "San Francisco, CA", "units": "f"}`}},
				FinishReason: "tool_calls",
				Usage:        providertest.Usage(656, 74),
			},
		}, {
			Name:   "stream text and tool_use",
			Stream: true,
			Reply:  providertest.ReplyFile(t, "testdata/messages.tools.stream.textandtool.sse"),
			Want: providertest.Want{
				Content:      "I'll check the current weather in Paris for you.",
				ToolCalls:    []normalize.ToolCall{{ID: "toolu_01NRLabsLyVHZPKxbKvkfSMn", Name: "get_weather", Arguments: `{"location": "Paris"}`}},
				FinishReason: "tool_calls",
				Usage:        providertest.Usage(377, 65),
			},
		}},
		Errors: []providertest.ErrorCase{{
			Name:   "invalid request",
			Reply:  cassette(t, "testdata/error.400.invalid_request_error.json", nil),
			Status: 400, Type: "invalid_request_error", Code: "invalid_request_error",
		}, {
			Name:   "rate limited",
			Reply:  cassette(t, "testdata/error.429.rate_limit_error.json", http.Header{"Retry-After": {"7"}}),
			Status: 429, Type: "rate_limit_error", Code: "rate_limit_error", RetryAfter: 7 * time.Second,
		}, {
			Name:   "rate limited stream",
			Stream: true,
			Reply:  cassette(t, "testdata/error.429.rate_limit_error.json", http.Header{"Retry-After": {"12"}}),
			Status: 429, Type: "rate_limit_error", RetryAfter: 12 * time.Second,
		}, {
			Name:   "overloaded 529",
			Reply:  providertest.Reply{Status: 529, Body: overloaded},
			Status: 503, Type: "server_error", Code: "overloaded_error",
		}, {
			Name:   "unauthenticated",
			Reply:  providertest.Reply{Status: 401, Body: []byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)},
			Status: 401, Type: "authentication_error",
		}, {
			Name:   "html from a proxy",
			Reply:  providertest.Reply{Status: 502, Header: http.Header{"Content-Type": {"text/html"}}, Body: []byte("<html>Bad Gateway</html>")},
			Status: 502, Type: "server_error",
		}, {
			Name:   "error event mid-stream",
			Stream: true,
			Reply: providertest.Reply{Body: []byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n" +
				"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")},
			Status: 503, Type: "server_error", Code: "overloaded_error",
		}},
	})
}

// TestStreamChunks checks the chunk sequence of a text-and-tool stream
// against OpenAI's shape, chunk by chunk.
func TestStreamChunks(t *testing.T) {
	st := newStream(io.NopCloser(strings.NewReader(string(providertest.ReadFile(t, "testdata/messages.tools.stream.textandtool.sse")))), 42, "")
	chunks, err := providertest.Collect(t, st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range chunks {
		if c.ID != "msg_019Q1hrJbZG26Fb9BQhrkHEr" || c.Model != "claude-sonnet-4-20250514" || c.Created != 42 {
			t.Errorf("chunk head = %q %q %d", c.ID, c.Model, c.Created)
		}
		got = append(got, string(normalize.AppendOpenAIChunk(nil, &c)))
	}
	want := []string{
		`{"role":"assistant","content":""}`,
		`{"content":"I"}`,
		`{"content":"'ll check the current weather in Paris for you."}`,
		`{"tool_calls":[{"index":0,"id":"toolu_01NRLabsLyVHZPKxbKvkfSMn","type":"function","function":{"name":"get_weather","arguments":""}}]}`,
		`{"tool_calls":[{"index":0,"function":{"arguments":"{\"locati"}}]}`,
		`{"tool_calls":[{"index":0,"function":{"arguments":"on\": \"P"}}]}`,
		`{"tool_calls":[{"index":0,"function":{"arguments":"ar"}}]}`,
		`{"tool_calls":[{"index":0,"function":{"arguments":"is\"}"}}]}`,
		`"finish_reason":"tool_calls"`,
		`"choices":[],"usage":{"prompt_tokens":377,"completion_tokens":65,"total_tokens":442,"prompt_tokens_details":{"cached_tokens":0}}`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d chunks, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("chunk %d = %s\nwant it to contain %s", i, got[i], want[i])
		}
	}
}

func TestStreamEmptyToolInput(t *testing.T) {
	sse := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"model\":\"c\",\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":20,\"output_tokens\":1}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Hmm, \"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"a clock.\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"abc\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"now\",\"input\":{}}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	r := providertest.CollectResponse(t, newStream(io.NopCloser(strings.NewReader(sse)), 0, ""))
	got := string(normalize.AppendOpenAIResponse(nil, r))
	for _, want := range []string{
		`"content":null`,
		`"tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"now","arguments":"{}"}}]`,
		`"reasoning_content":"Hmm, a clock.","thinking_blocks":[{"type":"thinking","thinking":"Hmm, a clock.","signature":"abc"}]`,
		`"finish_reason":"tool_calls"`,
		`"usage":{"prompt_tokens":125,"completion_tokens":9,"total_tokens":134,"prompt_tokens_details":{"cached_tokens":100,"cache_write_tokens":20}}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("response %s\nlacks %s", got, want)
		}
	}
}

// TestStreamMatchesComplete checks that a stream and the complete response
// of the same answer assemble to the same message.
func TestStreamMatchesComplete(t *testing.T) {
	complete, err := decodeResponse(providertest.ReadFile(t, "testdata/messages.tools.nonstream.response.json"), 0)
	if err != nil {
		t.Fatal(err)
	}
	// The recorded stream of the same request: compare shapes, not ids.
	streamed := providertest.CollectResponse(t, newStream(io.NopCloser(strings.NewReader(string(providertest.ReadFile(t, "testdata/messages.tools.stream.sse")))), 0, ""))
	c, s := complete.Choices[0], streamed.Choices[0]
	if (c.Message.Content == nil) != (s.Message.Content == nil) || c.FinishReason != s.FinishReason || len(c.Message.ToolCalls) != len(s.Message.ToolCalls) {
		t.Errorf("complete %+v\nstreamed %+v", c, s)
	}
	if cu, su := complete.Usage, streamed.Usage; cu.PromptTokens != su.PromptTokens || cu.CompletionTokens != su.CompletionTokens || string(cu.PromptTokensDetails) != string(su.PromptTokensDetails) {
		t.Errorf("usage complete %+v, streamed %+v", complete.Usage, streamed.Usage)
	}
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		stop, want string
	}{
		{"end_turn", "stop"}, {"stop_sequence", "stop"}, {"max_tokens", "length"},
		{"tool_use", "tool_calls"}, {"refusal", "content_filter"}, {"pause_turn", "stop"},
	}
	for _, tt := range tests {
		body := `{"id":"m","type":"message","model":"c","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"stop_reason":"` + tt.stop + `","usage":{"input_tokens":1,"output_tokens":2}}`
		r, err := decodeResponse([]byte(body), 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Choices[0].FinishReason; got != tt.want {
			t.Errorf("stop_reason %s → %s, want %s", tt.stop, got, tt.want)
		}
		if got := r.Choices[0].Message.Text(); got != "ab" {
			t.Errorf("text = %q, want ab", got)
		}
	}
	if _, err := decodeResponse([]byte(`{"type":"error"}`), 0); err == nil {
		t.Error("decodeResponse accepted a non-message")
	}
}

func TestErrorRedactsKey(t *testing.T) {
	const key = "sk-ant-secret"
	e := decodeError(400, http.Header{}, []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"bad key sk-ant-secret"}}`), key)
	if strings.Contains(e.Error(), key) {
		t.Errorf("error %q leaks the key", e)
	}
}

// TestStopSequence checks that the stop sequence that ended an answer is
// kept (as the message's stop_sequence member), streamed or not.
func TestStopSequence(t *testing.T) {
	body := `{"id":"m","type":"message","model":"c","content":[{"type":"text","text":"one two"}],"stop_reason":"stop_sequence","stop_sequence":"three","usage":{"input_tokens":1,"output_tokens":2}}`
	complete, err := decodeResponse([]byte(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	sse := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"one two\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"three\"},\"usage\":{\"output_tokens\":2}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	streamed := providertest.CollectResponse(t, newStream(io.NopCloser(strings.NewReader(sse)), 0, ""))
	for name, r := range map[string]*normalize.Response{"complete": complete, "streamed": streamed} {
		m := r.Choices[0].Message
		if len(m.Extra) != 1 || m.Extra[0].Name != "stop_sequence" || string(m.Extra[0].Value) != `"three"` || r.Choices[0].FinishReason != "stop" {
			t.Errorf("%s: extra %v, finish %s; want stop_sequence \"three\", stop", name, m.Extra, r.Choices[0].FinishReason)
		}
	}
}
