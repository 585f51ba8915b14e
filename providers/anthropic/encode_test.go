package anthropic

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/providertest"
)

var update = flag.Bool("update", false, "rewrite testdata/encode/*.golden")

func decode(t *testing.T, body string) *normalize.Request {
	t.Helper()
	r, err := normalize.DecodeOpenAI([]byte(body))
	if err != nil {
		t.Fatalf("DecodeOpenAI: %v", err)
	}
	return r
}

// TestEncodeGolden encodes OpenAI requests (testdata/encode/*.json) into
// Messages requests and compares them with the golden files.
func TestEncodeGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/encode/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			req := decode(t, string(providertest.ReadFile(t, in)))
			got, err := encodeRequest(req, name == "text", DefaultMaxTokens)
			if err != nil {
				t.Fatalf("encodeRequest: %v", err)
			}
			if !json.Valid(got) {
				t.Fatalf("encoded body is not JSON: %s", got)
			}
			providertest.Golden(t, strings.TrimSuffix(in, ".json")+".golden", got, *update)
			// Encoding is a pure function of the request.
			again, _ := encodeRequest(req, name == "text", DefaultMaxTokens)
			if string(again) != string(got) {
				t.Errorf("second encoding differs:\n%s\n%s", again, got)
			}
		})
	}
}

// TestEncodeMatchesRecorded checks that the OpenAI form of the requests the
// Anthropic SDK recorded encodes to the recorded bodies.
func TestEncodeMatchesRecorded(t *testing.T) {
	const weatherTool = `{"type":"function","function":{"name":"get_weather","description":"Lookup the weather for a given city in either celsius or fahrenheit","parameters":{"additionalProperties":false,"properties":{"location":{"description":"The city and state, e.g. San Francisco, CA","title":"Location","type":"string"},"units":{"description":"Unit for the output, either 'c' for celsius or 'f' for fahrenheit","enum":["c","f"],"title":"Units","type":"string"}},"required":["location","units"],"type":"object"}}}`
	tests := []struct {
		file   string
		give   string
		stream bool
		// drop lists recorded members the OpenAI request cannot express.
		drop func(m map[string]any)
	}{
		{
			file: "messages.tools.nonstream.request.json",
			give: `{"model":"claude-haiku-4-5","max_tokens":1024,"messages":[{"role":"user","content":"What is the weather in SF?"}],"tools":[` + weatherTool + `]}`,
		},
		{
			file:   "messages.tools.stream.request.json",
			give:   `{"model":"claude-haiku-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"What is the weather in SF?"}],"tools":[` + weatherTool + `]}`,
			stream: true,
		},
		{
			file: "messages.tools.followup.request.json",
			give: `{"model":"claude-haiku-4-5","max_tokens":1024,"messages":[` +
				`{"role":"user","content":"What is the weather in SF?"},` +
				`{"role":"assistant","content":null,"tool_calls":[{"id":"toolu_01A9HHF5Ezy3oBrKmSgfASm9","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"San Francisco, CA\",\"units\":\"f\"}"}}]},` +
				`{"role":"tool","tool_call_id":"toolu_01A9HHF5Ezy3oBrKmSgfASm9","content":"RuntimeError('Unexpected error, try again')"}` +
				`],"tools":[` + weatherTool + `]}`,
			drop: func(m map[string]any) {
				msgs := m["messages"].([]any)
				delete(msgs[1].(map[string]any)["content"].([]any)[0].(map[string]any), "caller")
				delete(msgs[2].(map[string]any)["content"].([]any)[0].(map[string]any), "is_error")
			},
		},
		{
			file:   "messages.stream.request.json",
			give:   `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"Extract order IDs from the following text:\n\nOrder 12345\nOrder 67890"}],"response_format":{"type":"json_schema","json_schema":{"name":"orders","schema":{"type":"array","items":{"type":"integer"}}}}}`,
			stream: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var want map[string]any
			if err := json.Unmarshal(providertest.ReadFile(t, "testdata/"+tt.file), &want); err != nil {
				t.Fatal(err)
			}
			if tt.drop != nil {
				tt.drop(want)
			}
			body, err := encodeRequest(decode(t, tt.give), tt.stream, DefaultMaxTokens)
			if err != nil {
				t.Fatalf("encodeRequest: %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(want, "", "  ")
				t.Errorf("encoded:\n%s\nrecorded:\n%s", g, w)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		give      string
		wantParam string
	}{
		{`{"n":2}`, "n"},
		{`{"logprobs":true}`, "logprobs"},
		{`{"logit_bias":{"50256":-100}}`, "logit_bias"},
		{`{"seed":7}`, "seed"},
		{`{"presence_penalty":0.5}`, "presence_penalty"},
		{`{"frequency_penalty":0.5}`, "frequency_penalty"},
		{`{"reasoning_effort":"low"}`, "reasoning_effort"},
		{`{"modalities":["text","audio"]}`, "modalities"},
		{`{"service_tier":"flex"}`, "service_tier"},
		{`{"response_format":{"type":"json_object"}}`, "response_format"},
		{`{"system":"x"}`, "system"},
		{`{"tools":[{"type":"custom","custom":{"name":"x"}}]}`, "tools[0]"},
		{`{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}`, "messages[0].content[0]"},
		{`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url"},
		{`{"messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[0].tool_calls[0].function.arguments"},
		{`{"messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{"}}]}]}`, "messages[0].tool_calls[0].function.arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			m := map[string]any{"model": "claude-sonnet-4-5", "messages": []any{map[string]any{"role": "user", "content": "hi"}}}
			if err := json.Unmarshal([]byte(tt.give), &m); err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(m)
			_, err := encodeRequest(decode(t, string(body)), false, DefaultMaxTokens)
			pe, ok := providers.AsError(err)
			if !ok {
				t.Fatalf("encodeRequest error = %v, want *providers.Error", err)
			}
			if pe.Status != 400 || pe.Type != "invalid_request_error" || pe.Param != tt.wantParam || pe.Provider != "anthropic" {
				t.Errorf("error = %+v, want 400 invalid_request_error for param %q", pe, tt.wantParam)
			}
		})
	}
}

func TestEncodeToolChoice(t *testing.T) {
	const tools = `"tools":[{"type":"function","function":{"name":"f"}}]`
	tests := []struct {
		give string
		want string // tool_choice JSON, "" for absent
	}{
		{`"tool_choice":"auto"`, ``},
		{`"tool_choice":"none"`, `{"type":"none"}`},
		{`"tool_choice":"required"`, `{"type":"any"}`},
		{`"tool_choice":{"type":"function","function":{"name":"f"}}`, `{"type":"tool","name":"f"}`},
		{`"parallel_tool_calls":false`, `{"type":"auto","disable_parallel_tool_use":true}`},
		{`"parallel_tool_calls":false,"tool_choice":"required"`, `{"type":"any","disable_parallel_tool_use":true}`},
		{`"parallel_tool_calls":false,"tool_choice":"none"`, `{"type":"none"}`},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			req := decode(t, `{"model":"m","messages":[{"role":"user","content":"hi"}],`+tools+`,`+tt.give+`}`)
			body, err := encodeRequest(req, false, DefaultMaxTokens)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				ToolChoice json.RawMessage `json:"tool_choice"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if string(got.ToolChoice) != tt.want {
				t.Errorf("tool_choice = %s, want %s", got.ToolChoice, tt.want)
			}
		})
	}
}
