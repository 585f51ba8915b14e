package gemini

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

// recordedText joins the text parts of a recorded response, or of every
// event of a recorded stream (a JSON array of responses).
func recordedText(t *testing.T, path string) string {
	t.Helper()
	b := providertest.ReadFile(t, path)
	if b[0] != '[' {
		b = append(append([]byte{'['}, b...), ']')
	}
	var rs []wireResponse
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, r := range rs {
		for _, p := range r.Candidates[0].Content.Parts {
			if p.Text != nil {
				sb.WriteString(*p.Text)
			}
		}
	}
	return sb.String()
}

// recordedError is the first body segment of the recorded error interaction.
func recordedError(t *testing.T) providertest.Reply {
	var c struct {
		Response struct {
			StatusCode   int               `json:"statusCode"`
			Headers      map[string]string `json:"headers"`
			BodySegments []json.RawMessage `json:"bodySegments"`
		} `json:"response"`
	}
	if err := json.Unmarshal(providertest.ReadFile(t, "testdata/error.http.json"), &c); err != nil {
		t.Fatal(err)
	}
	return providertest.Reply{
		Status: c.Response.StatusCode,
		Header: http.Header{"Content-Type": {c.Response.Headers["Content-Type"]}},
		Body:   c.Response.BodySegments[0],
	}
}

func TestConformance(t *testing.T) {
	const divideArgs = `{"denominator":2,"numerator":10}`
	blocked := []byte(`{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8},"modelVersion":"gemini-2.0-flash"}`)
	providertest.Run(t, providertest.Suite{
		New: func(baseURL, apiKey string) providers.Provider {
			return New(Options{BaseURL: baseURL, APIKey: apiKey})
		},
		Model:      "gemini-2.0-flash",
		AuthHeader: "x-goog-api-key",
		Check: func(t testing.TB, r *http.Request, body []byte, stream bool) {
			want := "/v1beta/models/gemini-2.0-flash:generateContent"
			if stream {
				want = "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
				if r.URL.RawQuery != "alt=sse" {
					t.Errorf("query = %q, want alt=sse", r.URL.RawQuery)
				}
			}
			if r.URL.Path != want {
				t.Errorf("path = %s, want %s", r.URL.Path, want)
			}
		},
		Cases: []providertest.Case{{
			Name:  "text",
			Reply: providertest.ReplyFile(t, "testdata/generateContent.response.json"),
			Want: providertest.Want{
				Content:      recordedText(t, "testdata/generateContent.response.json"),
				FinishReason: "stop",
				Usage:        providertest.Usage(6, 353),
				ID:           "udSfaNTNEPP0n9kPrJGHuQ4",
				Model:        "gemini-2.0-flash",
			},
		}, {
			Name:  "function call",
			Reply: providertest.ReplyFile(t, "testdata/generateContent.tools.response.json"),
			Want: providertest.Want{
				ToolCalls:    []normalize.ToolCall{{ID: callID(0, "customDivide", divideArgs), Name: "customDivide", Arguments: divideArgs}},
				FinishReason: "tool_calls",
				Usage:        providertest.Usage(17, 6),
			},
		}, {
			Name:   "stream",
			Stream: true,
			Reply:  providertest.ReplyFile(t, "testdata/streamGenerateContent.sse"),
			Want: providertest.Want{
				Content:      recordedText(t, "testdata/streamGenerateContent.chunks.json"),
				FinishReason: "stop",
				Usage:        providertest.Usage(6, 377),
				ID:           "pdSfaOurIPqAm9IPucqbqA4",
				Model:        "gemini-2.0-flash",
			},
		}, {
			Name:   "stream function call",
			Stream: true,
			Reply:  providertest.ReplyFile(t, "testdata/streamGenerateContent.tools.sse"),
			Want: providertest.Want{
				ToolCalls:    []normalize.ToolCall{{ID: callID(0, "customDivide", divideArgs), Name: "customDivide", Arguments: divideArgs}},
				FinishReason: "tool_calls",
				Usage:        providertest.Usage(17, 6),
			},
		}},
		Errors: []providertest.ErrorCase{{
			Name:   "model not found",
			Reply:  recordedError(t),
			Status: 404, Type: "not_found_error", Code: "not_found",
		}, {
			Name:   "model not found stream",
			Stream: true,
			Reply:  recordedError(t),
			Status: 404, Type: "not_found_error", Code: "not_found",
		}, {
			Name: "quota with RetryInfo",
			Reply: providertest.Reply{Status: 429, Body: []byte(`{"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED",` +
				`"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"27s"}]}}`)},
			Status: 429, Type: "rate_limit_error", Code: "resource_exhausted", RetryAfter: 27 * time.Second,
		}, {
			Name:   "Retry-After header wins",
			Reply:  providertest.Reply{Status: 503, Header: http.Header{"Retry-After": {"3"}}, Body: []byte(`{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"27s"}]}}`)},
			Status: 503, Type: "server_error", Code: "unavailable", RetryAfter: 3 * time.Second,
		}, {
			Name: "invalid key",
			Reply: providertest.Reply{Status: 400, Body: []byte(`{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",` +
				`"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}`)},
			Status: 401, Type: "authentication_error", Code: "invalid_api_key",
		}, {
			Name:   "invalid argument",
			Reply:  providertest.Reply{Status: 400, Body: []byte(`{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name \"foo\"","status":"INVALID_ARGUMENT"}}`)},
			Status: 400, Type: "invalid_request_error", Code: "invalid_argument",
		}, {
			Name:   "permission denied",
			Reply:  providertest.Reply{Status: 403, Body: []byte(`{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}`)},
			Status: 403, Type: "permission_error",
		}, {
			Name:   "internal",
			Reply:  providertest.Reply{Status: 500, Body: []byte(`{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}`)},
			Status: 500, Type: "server_error",
		}, {
			Name:   "blocked prompt",
			Reply:  providertest.Reply{Body: blocked},
			Status: 400, Type: "invalid_request_error", Code: "content_filter",
		}, {
			Name:   "blocked prompt stream",
			Stream: true,
			Reply:  providertest.Reply{Body: append(append([]byte("data: "), blocked...), "\r\n\r\n"...)},
			Status: 400, Type: "invalid_request_error", Code: "content_filter",
		}, {
			Name:   "error event mid-stream",
			Stream: true,
			Reply: providertest.Reply{Body: []byte(`data: {"candidates":[{"content":{"parts":[{"text":"The"}],"role":"model"}}],"modelVersion":"gemini-2.0-flash"}` + "\r\n\r\n" +
				`data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}` + "\r\n\r\n")},
			Status: 503, Type: "server_error", Code: "unavailable",
		}},
	})
}

func collect(t *testing.T, sse string) *normalize.Response {
	t.Helper()
	return providertest.CollectResponse(t, newStream(io.NopCloser(strings.NewReader(sse)), "m", 0, ""))
}

// TestStreamMatchesComplete: the same answer, streamed or not, yields the
// same message, tool call ids included.
func TestStreamMatchesComplete(t *testing.T) {
	complete, err := decodeResponse(providertest.ReadFile(t, "testdata/generateContent.tools.response.json"), "m", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	streamed := collect(t, string(providertest.ReadFile(t, "testdata/streamGenerateContent.tools.sse")))
	c := normalize.AppendOpenAIResponse(nil, &normalize.Response{Choices: complete.Choices})
	s := normalize.AppendOpenAIResponse(nil, &normalize.Response{Choices: streamed.Choices})
	if string(c) != string(s) {
		t.Errorf("complete %s\nstreamed %s", c, s)
	}
}

func TestStreamCandidatesAndThoughts(t *testing.T) {
	sse := `data: {"candidates":[{"index":0,"content":{"parts":[{"text":"Let me think","thought":true}],"role":"model"}},{"index":1,"content":{"parts":[{"text":"B"}],"role":"model"}}],"responseId":"r1","modelVersion":"gemini-2.5-flash"}` + "\n\n" +
		`data: {"candidates":[{"index":0,"content":{"parts":[{"text":"A"},{"functionCall":{"name":"f","args":{"x":1}}}],"role":"model"}},{"index":1,"content":{"parts":[{"text":"b"}],"role":"model"},"finishReason":"MAX_TOKENS"}],"responseId":"r1"}` + "\n\n" +
		`data: {"candidates":[{"index":0,"content":{"parts":[{"functionCall":{"name":"g","args":{}}}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7,"thoughtsTokenCount":3,"cachedContentTokenCount":2,"totalTokenCount":15},"responseId":"r1"}` + "\n\n"
	r := collect(t, sse)
	got := string(normalize.AppendOpenAIResponse(nil, r))
	for _, want := range []string{
		`"id":"r1"`, `"model":"gemini-2.5-flash"`,
		`{"index":0,"message":{"role":"assistant","content":"A","refusal":null,"tool_calls":[{"id":"` + callID(0, "f", `{"x":1}`) + `","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}},{"id":"` + callID(1, "g", `{}`) + `","type":"function","function":{"name":"g","arguments":"{}"}}],"reasoning_content":"Let me think"},"logprobs":null,"finish_reason":"tool_calls"}`,
		`{"index":1,"message":{"role":"assistant","content":"Bb","refusal":null},"logprobs":null,"finish_reason":"length"}`,
		`"usage":{"prompt_tokens":5,"completion_tokens":10,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":3}}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("response %s\nlacks %s", got, want)
		}
	}
}

func TestStreamUnfinishedCandidate(t *testing.T) {
	sse := `data: {"candidates":[{"index":0,"content":{"parts":[{"text":"A"}]},"finishReason":"STOP"},{"index":1,"content":{"parts":[{"text":"B"}]}}]}` + "\n\n"
	_, err := providertest.Collect(t, newStream(io.NopCloser(strings.NewReader(sse)), "m", 0, ""))
	if err == nil || err == io.EOF {
		t.Errorf("stream with an unfinished candidate ended with %v, want an error", err)
	}
}

func TestFinishReason(t *testing.T) {
	tests := []struct {
		give  string
		calls bool
		want  string
	}{
		{"STOP", false, "stop"}, {"STOP", true, "tool_calls"}, {"MAX_TOKENS", false, "length"},
		{"SAFETY", false, "content_filter"}, {"RECITATION", false, "content_filter"}, {"BLOCKLIST", false, "content_filter"},
		{"PROHIBITED_CONTENT", false, "content_filter"}, {"SPII", false, "content_filter"}, {"OTHER", false, "stop"},
	}
	for _, tt := range tests {
		if got := finishReason(tt.give, tt.calls); got != tt.want {
			t.Errorf("finishReason(%s, %v) = %s, want %s", tt.give, tt.calls, got, tt.want)
		}
	}
}

func TestToolResultNames(t *testing.T) {
	// Ids repeat across turns (call_0_… in each); a result belongs to the
	// latest call with its id.
	req := providertest.DecodeOpenAI(t, `{"model":"m","messages":[
		{"role":"user","content":"go"},
		{"role":"assistant","tool_calls":[{"id":"call_0","type":"function","function":{"name":"first","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"call_0","content":"[1,2]"},
		{"role":"assistant","tool_calls":[{"id":"call_0","type":"function","function":{"name":"second","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"call_0","content":"{\"ok\":true}"}]}`)
	body, err := encodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`{"functionResponse":{"name":"first","response":{"result":"[1,2]"}}}`,
		`{"functionResponse":{"name":"second","response":{"ok":true}}}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body %s\nlacks %s", body, want)
		}
	}
}
