package anthropic

import (
	"encoding/json"
	"flag"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/providertest"
)

var update = flag.Bool("update", false, "rewrite testdata/encode/*.golden")

// TestEncodeGolden encodes OpenAI requests (testdata/encode/*.json) into
// Messages requests and compares them with the golden files.
func TestEncodeGolden(t *testing.T) {
	providertest.EncodeGolden(t, *update, func(name string, req *normalize.Request) ([]byte, error) {
		return encodeRequest(req, name == "text", DefaultMaxTokens)
	})
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
			body, err := encodeRequest(providertest.DecodeOpenAI(t, tt.give), tt.stream, DefaultMaxTokens)
			if err != nil {
				t.Fatalf("encodeRequest: %v", err)
			}
			providertest.MatchRecorded(t, "testdata/"+tt.file, body, tt.drop)
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	providertest.EncodeRejects(t, "anthropic", "claude-sonnet-4-5", func(req *normalize.Request) error {
		_, err := encodeRequest(req, false, DefaultMaxTokens)
		return err
	}, []providertest.Reject{
		{Give: `{"n":2}`, Param: "n"},
		{Give: `{"logprobs":true}`, Param: "logprobs"},
		{Give: `{"logit_bias":{"50256":-100}}`, Param: "logit_bias"},
		{Give: `{"seed":7}`, Param: "seed"},
		{Give: `{"presence_penalty":0.5}`, Param: "presence_penalty"},
		{Give: `{"frequency_penalty":0.5}`, Param: "frequency_penalty"},
		{Give: `{"reasoning_effort":"low"}`, Param: "reasoning_effort"},
		{Give: `{"modalities":["text","audio"]}`, Param: "modalities"},
		{Give: `{"service_tier":"flex"}`, Param: "service_tier"},
		{Give: `{"response_format":{"type":"json_object"}}`, Param: "response_format"},
		{Give: `{"system":"x"}`, Param: "system"},
		{Give: `{"tools":[{"type":"custom","custom":{"name":"x"}}]}`, Param: "tools[0]"},
		{Give: `{"tools":[{"type":"web_search_preview"}]}`, Param: "tools[0]"},
		{Give: `{"tools":[{"type":"function","function":{"name":"f","examples":[]},"cache_control":{"type":"ephemeral"}}]}`, Param: "tools[0].function.examples"},
		{Give: `{"tools":[{"type":"function","function":{"name":"f"},"input_schema":{}}]}`, Param: "tools[0].input_schema"},
		{Give: `{"output_config":{"effort":"low"},"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`, Param: "output_config"},
		{Give: `{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"a","content":"r","tool_use_id":"b"}]}`, Param: "messages[2].tool_use_id"},
		{Give: `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png","fidelity":"max"},"cache_control":{}}]}]}`, Param: "messages[0].content[0].image_url.fidelity"},
		{Give: `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"},"title":"t"}]}]}`, Param: "messages[0].content[0].file.file_id"},
		{Give: `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"},"source":{}}]}]}`, Param: "messages[0].content[0].source"},
		{Give: `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}`, Param: "messages[0].content[0]"},
		{Give: `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, Param: "messages[0].content[0].image_url.url"},
		{Give: `{"messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, Param: "messages[0].tool_calls[0].function.arguments"},
		{Give: `{"messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{"}}]}]}`, Param: "messages[0].tool_calls[0].function.arguments"},
	})
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
			req := providertest.DecodeOpenAI(t, `{"model":"m","messages":[{"role":"user","content":"hi"}],`+tools+`,`+tt.give+`}`)
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
