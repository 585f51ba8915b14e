package gemini

import (
	"encoding/json"
	"flag"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/providertest"
)

var update = flag.Bool("update", false, "rewrite testdata/encode/*.golden")

// TestEncodeGolden encodes OpenAI requests (testdata/encode/*.json) into
// GenerateContentRequests and compares them with the golden files.
func TestEncodeGolden(t *testing.T) {
	providertest.EncodeGolden(t, *update, func(_ string, req *normalize.Request) ([]byte, error) {
		return encodeRequest(req)
	})
}

// TestEncodeMatchesRecorded checks that the OpenAI form of the requests the
// js-genai SDK recorded encodes to the recorded bodies.
func TestEncodeMatchesRecorded(t *testing.T) {
	const divide = `"tools":[{"type":"function","function":{"name":"customDivide","description":"Custom divide function","parameters":{"type":"object","properties":{"numerator":{"type":"number"},"denominator":{"type":"number"}}}}}]`
	// The SDK sends the schema as parametersJsonSchema and mode AUTO
	// explicitly; Ditto sends the sanitized parameters and omits the
	// default mode.
	sdkTools := func(m map[string]any) {
		delete(m, "toolConfig")
		fd := m["tools"].([]any)[0].(map[string]any)["functionDeclarations"].([]any)[0].(map[string]any)
		fd["parameters"] = fd["parametersJsonSchema"]
		delete(fd, "parametersJsonSchema")
	}
	tests := []struct {
		file string
		give string
		drop func(map[string]any)
	}{
		{"generateContent.request.json", `{"model":"gemini-2.0-flash","messages":[{"role":"user","content":"why is the sky blue?"}]}`, nil},
		{"streamGenerateContent.request.json", `{"model":"gemini-2.0-flash","stream":true,"messages":[{"role":"user","content":"why is the sky blue?"}]}`, nil},
		{"generateContent.tools.request.json", `{"model":"gemini-2.0-flash","messages":[{"role":"user","content":"Divide 10 by 2 using the customDivide function"}],` + divide + `}`, sdkTools},
		{"streamGenerateContent.tools.request.json", `{"model":"gemini-2.0-flash","stream":true,"messages":[{"role":"user","content":"Divide 10 by 2 using the customDivide function"}],` + divide + `}`, sdkTools},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := encodeRequest(providertest.DecodeOpenAI(t, tt.give))
			if err != nil {
				t.Fatalf("encodeRequest: %v", err)
			}
			providertest.MatchRecorded(t, "testdata/"+tt.file, body, func(m map[string]any) {
				delete(m, "_url") // the recording's note of the endpoint
				if tt.drop != nil {
					tt.drop(m)
				}
			})
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	providertest.EncodeRejects(t, "gemini", "gemini-2.5-flash", func(req *normalize.Request) error {
		_, err := encodeRequest(req)
		return err
	}, []providertest.Reject{
		{Give: `{"logprobs":true}`, Param: "logprobs"},
		{Give: `{"logit_bias":{"50256":-100}}`, Param: "logit_bias"},
		{Give: `{"reasoning_effort":"low"}`, Param: "reasoning_effort"},
		{Give: `{"modalities":["text","audio"]}`, Param: "modalities"},
		{Give: `{"service_tier":"flex"}`, Param: "service_tier"},
		{Give: `{"contents":[]}`, Param: "contents"},
		{Give: `{"generationConfig":{}}`, Param: "generationConfig"},
		{Give: `{"tools":[{"type":"custom","custom":{"name":"x"}}]}`, Param: "tools[0]"},
		{Give: `{"tools":[{"type":"function","function":{"name":"f","parameters":{"$ref":"https://example.com/s.json"}}}]}`, Param: "tools[0].function.parameters"},
		{Give: `{"messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]}`, Param: "messages[0].tool_call_id"},
		{Give: `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, Param: "messages[0].content[0].image_url.url"},
		{Give: `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`, Param: "messages[0].content[0]"},
		{Give: `{"messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, Param: "messages[0].tool_calls[0].function.arguments"},
	})
}

func TestEncodeToolChoice(t *testing.T) {
	const tools = `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"string"}}}}}]`
	tests := []struct {
		give string
		want string // toolConfig JSON, "" for absent
	}{
		{`"tool_choice":"auto"`, ``},
		{`"tool_choice":"none"`, `{"functionCallingConfig":{"mode":"NONE"}}`},
		{`"tool_choice":"required"`, `{"functionCallingConfig":{"mode":"ANY"}}`},
		{`"tool_choice":{"type":"function","function":{"name":"f"}}`, `{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}}`},
		{`"parallel_tool_calls":false`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			body, err := encodeRequest(providertest.DecodeOpenAI(t, `{"model":"m","messages":[{"role":"user","content":"hi"}],`+tools+`,`+tt.give+`}`))
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				ToolConfig json.RawMessage `json:"toolConfig"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if string(got.ToolConfig) != tt.want {
				t.Errorf("toolConfig = %s, want %s", got.ToolConfig, tt.want)
			}
		})
	}
}

func TestSanitizeSchema(t *testing.T) {
	tests := []struct {
		name, give, want string
	}{
		{
			"drops unsupported keys",
			`{"$schema":"x","$id":"y","type":"object","additionalProperties":false,"properties":{"a":{"type":"string","format":"email","examples":["q"]}},"required":["a"]}`,
			`{"properties":{"a":{"type":"string"}},"required":["a"],"type":"object"}`,
		},
		{
			"nullable type list",
			`{"type":["string","null"],"format":"date-time"}`,
			`{"format":"date-time","nullable":true,"type":"string"}`,
		},
		{
			"type list without null",
			`{"type":["string","integer"]}`,
			`{"anyOf":[{"type":"string"},{"type":"integer"}]}`,
		},
		{
			"optional ref in anyOf (Pydantic)",
			`{"$defs":{"U":{"type":"string","enum":["c","f"],"title":"U"}},"type":"object","properties":{"u":{"anyOf":[{"$ref":"#/$defs/U"},{"type":"null"}],"default":null,"title":"Units"}}}`,
			`{"properties":{"u":{"default":null,"enum":["c","f"],"nullable":true,"title":"Units","type":"string"}},"type":"object"}`,
		},
		{
			"allOf with one ref and a description (Pydantic)",
			`{"definitions":{"P":{"type":"object","properties":{"x":{"type":"number"}}}},"allOf":[{"$ref":"#/definitions/P"}],"description":"a point"}`,
			`{"description":"a point","properties":{"x":{"type":"number"}},"type":"object"}`,
		},
		{
			"oneOf becomes anyOf; const becomes enum",
			`{"oneOf":[{"type":"string","const":"a"},{"type":"integer","exclusiveMinimum":0}]}`,
			`{"anyOf":[{"enum":["a"],"type":"string"},{"type":"integer"}]}`,
		},
		{
			"recursive ref is cut off",
			`{"$defs":{"N":{"type":"object","properties":{"next":{"$ref":"#/$defs/N"}}}},"$ref":"#/$defs/N"}`,
			"", // only checks that it terminates and stays valid
		},
		{
			"property names are kept",
			`{"type":"object","properties":{"additionalProperties":{"type":"string"},"$weird":{"type":"boolean"}}}`,
			`{"properties":{"$weird":{"type":"boolean"},"additionalProperties":{"type":"string"}},"type":"object"}`,
		},
		{
			"numbers keep their spelling",
			`{"type":"number","minimum":0.10,"maximum":1e3}`,
			`{"maximum":1e3,"minimum":0.10,"type":"number"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sanitizeSchema(json.RawMessage(tt.give))
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON %s", got)
			}
			if tt.want != "" && string(got) != tt.want {
				t.Errorf("sanitizeSchema(%s)\n = %s\nwant %s", tt.give, got, tt.want)
			}
			again, err := sanitizeSchema(got)
			if err != nil || string(again) != string(got) {
				t.Errorf("not a fixed point: %s → %s (%v)", got, again, err)
			}
		})
	}
}
