package openai

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/completions"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/providertest"
)

func decodeCompletions(t testing.TB, body string) *normalize.Request {
	t.Helper()
	r, err := completions.Decode([]byte(body))
	if err != nil {
		t.Fatalf("completions.Decode(%s) = %v", body, err)
	}
	return r
}

const legacyPrompt = `{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7,"temperature":0}`

// TestCompletionsConformance runs the conformance suite on the legacy
// endpoint with recorded and spec-shaped text_completion payloads.
func TestCompletionsConformance(t *testing.T) {
	req := decodeCompletions(t, legacyPrompt)
	logprobs := decodeCompletions(t, `{"model":"gpt-35-turbo-instruct","prompt":["Translate from English to Italian: \"I love cars\" with quotes"],"logprobs":5}`)
	providertest.Run(t, providertest.Suite{
		New: func(baseURL, apiKey string) providers.Provider {
			return New(Options{BaseURL: baseURL + "/v1", APIKey: apiKey})
		},
		Model:      "gpt-3.5-turbo-instruct",
		AuthHeader: "Authorization",
		AuthPrefix: "Bearer ",
		Check: func(t testing.TB, r *http.Request, body []byte, stream bool) {
			if r.URL.Path != "/v1/completions" {
				t.Errorf("URL = %s, want /v1/completions", r.URL)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if _, ok := got["messages"]; ok || got["prompt"] == nil {
				t.Errorf("body %s is not a completions request", body)
			}
			if so, _ := got["stream_options"].(map[string]any); stream && (got["stream"] != true || so["include_usage"] != true) {
				t.Errorf("stream body %s does not ask for usage", body)
			}
		},
		TerminalOptional: true,
		Cases: []providertest.Case{{
			Name:    "text",
			Request: req,
			Reply:   providertest.ReplyFile(t, "testdata/completions.nonstream.response.json"),
			Want:    providertest.Want{Content: "\n\nThis is indeed a test", FinishReason: "length", Usage: providertest.Usage(5, 7), ID: "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7", Model: "VAR_completion_model_id"},
		}, {
			Name:    "stream",
			Request: req,
			Stream:  true,
			Reply:   providertest.ReplyFile(t, "testdata/completions.stream.sse"),
			Want:    providertest.Want{Content: "This is a test.", FinishReason: "stop", Usage: providertest.Usage(5, 4), ID: "cmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe", Model: "gpt-3.5-turbo-instruct"},
		}, {
			Name:    "stream with logprobs",
			Request: logprobs,
			Stream:  true,
			Reply:   providertest.ReplyFile(t, "testdata/completions.stream.logprobs.sse"),
			Want:    providertest.Want{Content: "\n\nI am an AI language model and I do not have personal experiences or the", FinishReason: "length"},
		}},
		Errors: []providertest.ErrorCase{{
			Name:    "not a completions model",
			Request: req,
			Reply:   providertest.Reply{Status: 404, Body: openAIError("This is a chat model and not supported in the v1/completions endpoint. Did you mean to use v1/chat/completions?", "invalid_request_error", "model", "")},
			Status:  404, Type: "invalid_request_error",
		}},
	})
}

// TestEncodeLegacy pins the body sent for a request with every kind of
// member: shared parameters, dialect fields, vLLM pass-through members.
func TestEncodeLegacy(t *testing.T) {
	c := New(Options{})
	tests := []struct {
		give   string
		stream bool
		want   string
	}{{
		give: legacyPrompt,
		want: `{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7,"temperature":0}`,
	}, {
		give:   `{"model":"m","prompt":[[1,2],[3]],"max_tokens":0,"echo":true,"logprobs":2,"best_of":3,"n":2,"suffix":"end","stop":"\n","seed":5,"logit_bias":{"50256":-100},"top_k":20,"user":"u","stream":true}`,
		stream: true,
		want:   `{"model":"m","prompt":[[1,2],[3]],"max_tokens":0,"n":2,"stop":["\n"],"logit_bias":{"50256":-100},"seed":5,"user":"u","stream":true,"stream_options":{"include_usage":true},"best_of":3,"echo":true,"logprobs":2,"suffix":"end","top_k":20}`,
	}, {
		give: `{"model":"m","prompt":"x","max_tokens":16,"response_format":{"type":"json_object"},"presence_penalty":0.5}`,
		want: `{"model":"m","prompt":"x","presence_penalty":0.5,"response_format":{"type":"json_object"}}`,
	}}
	for _, tt := range tests {
		got, err := c.encodeLegacy(decodeCompletions(t, tt.give), tt.stream)
		if err != nil || string(got) != tt.want {
			t.Errorf("encodeLegacy(%s) = %s, %v\nwant %s", tt.give, got, err, tt.want)
		}
	}
	// The legacy default is explicit in no body: the server applies it.
	chat := providertest.DecodeOpenAI(t, `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}`)
	chat.Dialect, chat.DialectFields = completions.Dialect, []normalize.Field{{Name: "prompt", Value: []byte(`"x"`)}}
	if _, err := c.encodeLegacy(chat, false); err == nil {
		t.Error("encodeLegacy sent tools to the completions API")
	} else if pe, ok := providers.AsError(err); !ok || pe.Status != 400 || pe.Param != "tools" {
		t.Errorf("encodeLegacy(tools) = %v, want a 400 naming tools", err)
	}
	chat.DialectFields, chat.Tools = nil, nil
	if _, err := c.encodeLegacy(chat, false); err == nil {
		t.Error("encodeLegacy accepted a request without a prompt")
	}
}

func TestSpeaks(t *testing.T) {
	c := New(Options{})
	for d, want := range map[string]bool{"": true, completions.Dialect: true, "responses": false} {
		if got := c.Speaks(d); got != want {
			t.Errorf("Speaks(%q) = %v, want %v", d, got, want)
		}
	}
	if got, want := New(Options{BaseURL: "http://vllm:8000/v1/"}).completionsURL(), "http://vllm:8000/v1/completions"; got != want {
		t.Errorf("completionsURL = %s, want %s", got, want)
	}
}

// TestCompletionsStreamFidelity plays the recorded legacy stream through
// the adapter and normalize/completions' renderer: a completions client
// gets the chunks the upstream sent (text, logprobs, finish reasons), and
// the assembled answer, which the cache stores, has the whole text and
// the logprobs pieces joined.
func TestCompletionsStreamFidelity(t *testing.T) {
	recorded := providertest.ReadFile(t, "testdata/completions.stream.logprobs.sse")
	chunks, err := providertest.Collect(t, newLegacyStream("openai", "", io.NopCloser(bytes.NewReader(recorded))))
	if err != nil {
		t.Fatal(err)
	}
	var asm normalize.Assembler
	s := completions.NewStream("gpt-3.5-turbo-instruct", false)
	var out []byte
	for i := range chunks {
		asm.Add(&chunks[i])
		out = s.Chunk(out, &chunks[i])
	}
	resp, err := asm.Response()
	if err != nil {
		t.Fatal(err)
	}
	out = s.End(out, resp)
	frames := func(b []byte) []any {
		var fs []any
		for _, f := range strings.Split(strings.TrimSpace(string(b)), "\n\n") {
			var v any = strings.TrimPrefix(f, "data: ")
			if v != "[DONE]" {
				if err := json.Unmarshal([]byte(v.(string)), &v); err != nil {
					t.Fatalf("frame %q: %v", f, err)
				}
			}
			fs = append(fs, v)
		}
		return fs
	}
	if diff := cmp.Diff(frames(recorded), frames(out)); diff != "" {
		t.Errorf("rendered stream differs (-recorded +rendered):\n%s", diff)
	}
	var lp struct {
		Tokens     []string  `json:"tokens"`
		Logprobs   []float64 `json:"token_logprobs"`
		TextOffset []int     `json:"text_offset"`
	}
	if err := json.Unmarshal(resp.Choices[0].Logprobs, &lp); err != nil {
		t.Fatal(err)
	}
	if strings.Join(lp.Tokens, "") != resp.Choices[0].Message.Text() || len(lp.Logprobs) != 16 || lp.TextOffset[0] != 36 || lp.TextOffset[15] != 105 {
		t.Errorf("assembled logprobs %s do not match the text %q", resp.Choices[0].Logprobs, resp.Choices[0].Message.Text())
	}
	// A non-streaming hit renders the stored answer with the same logprobs.
	stored, err := normalize.ParseOpenAIResponse(normalize.OpenAIResponseJSON(resp))
	if err != nil {
		t.Fatal(err)
	}
	var obj struct {
		Choices []struct {
			Logprobs json.RawMessage `json:"logprobs"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(completions.AppendResponse(nil, stored, "m"), &obj); err != nil || string(obj.Choices[0].Logprobs) != string(resp.Choices[0].Logprobs) {
		t.Errorf("rendered logprobs %s, %v; want %s", obj.Choices[0].Logprobs, err, resp.Choices[0].Logprobs)
	}
}
