package normalize_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
)

// req builds a request body: model gpt-4o, the given messages JSON (default
// one user turn "hi") and extra top-level members.
func req(messages string, extra ...string) string {
	if messages == "" {
		messages = `[{"role":"user","content":"hi"}]`
	}
	b := `{"model":"gpt-4o","messages":` + messages
	for _, e := range extra {
		b += "," + e
	}
	return b + "}"
}

const (
	weatherTool  = `{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}}`
	weatherTool2 = `{"function":{"parameters":{"required":["city"],"properties":{"city":{"type":"string"},"unit":{"enum":["c","f"],"type":"string"}},"type":"object"},"description":"Weather for a city","name":"get_weather"},"type":"function"}`
	// weatherTool with its properties in the other order: a different schema.
	weatherToolSwapped = `{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"unit":{"type":"string","enum":["c","f"]},"city":{"type":"string"}},"required":["city"]}}}`
	searchTool         = `{"type":"function","function":{"name":"search","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}`

	png1 = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
	png2 = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggh=="

	toolTurns = `[{"role":"user","content":"Weather in Paris?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":"18C"}]`
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func image(url string) string {
	return `[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"` + url + `"}}]}]`
}

func key(t *testing.T, body string) cachekey.Key {
	t.Helper()
	r, err := normalize.DecodeOpenAI([]byte(body))
	if err != nil {
		t.Fatalf("DecodeOpenAI(%s) = %v", body, err)
	}
	return cachekey.New("default", "openai/"+r.Model, normalize.Canonical(r))
}

// TestEquivalence lists pairs of requests that must share a key (same) and
// pairs that must not: one per rule of docs/normalization.md.
func TestEquivalence(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		// Spelling: JSON syntax.
		{"member order", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.5}`, `{"temperature":0.5,"messages":[{"content":"hi","role":"user"}],"model":"gpt-4o"}`, true},
		{"whitespace outside strings", req("", `"seed":1`), " {\n\t\"model\" : \"gpt-4o\" ,\r\n \"messages\":[ { \"role\":\"user\", \"content\":\"hi\" } ] , \"seed\" : 1 }\n", true},
		{"unicode escapes", req(`[{"role":"user","content":"caf\u00e9 \ud83d\ude00 a\/b"}]`), req(`[{"role":"user","content":"café 😀 a/b"}]`), true},
		{"number spellings in unknown fields", req("", `"top_k":40`, `"x":{"v":[1,0.5,-0]}`), req("", `"top_k":4e1`, `"x":{"v":[1.0,5E-1,0]}`), true},
		{"number spellings in parameters", req("", `"temperature":0.7`, `"n":2`, `"seed":42`), req("", `"temperature":7e-1`, `"n":2.0`, `"seed":4.2e1`), true},
		{"unknown object member order", req("", `"x":{"b":1,"a":{"d":2,"c":3}}`), req("", `"x":{"a":{"c":3,"d":2},"b":1}`), true},
		{"tool schema member order outside properties", req("", `"tools":[`+weatherTool+`]`), req("", `"tools":[`+weatherTool2+`]`), true},
		{"enum object order is data", req("", `"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"const":{"y":1,"x":2}}}}}}`), req("", `"response_format":{"json_schema":{"schema":{"properties":{"a":{"const":{"x":2,"y":1}}},"type":"object"},"name":"x"},"type":"json_schema"}`), true},

		// Spelling: content.
		{"string vs one text part", req(`[{"role":"user","content":"hi"}]`), req(`[{"role":"user","content":[{"type":"text","text":"hi"}]}]`), true},
		{"tool result string vs text part", req(toolTurns), req(strings.Replace(toolTurns, `"content":"18C"`, `"content":[{"type":"text","text":"18C"}]`, 1)), true},
		{"assistant empty vs null content beside tool calls", req(toolTurns), req(strings.Replace(toolTurns, `"content":null`, `"content":""`, 1)), true},
		{"tool call type omitted", req(toolTurns), req(strings.Replace(toolTurns, `"type":"function",`, ``, 1)), true},
		{"tool call member order", req(toolTurns), req(strings.Replace(toolTurns, `{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}`, `{"function":{"arguments":"{\"city\":\"Paris\"}","name":"get_weather"},"type":"function","id":"call_1"}`, 1)), true},
		{"image detail auto vs omitted", req(image("https://x.test/a.png")), req(strings.Replace(image("https://x.test/a.png"), `"}}]}]`, `","detail":"auto"}}]}]`, 1)), true},
		{"image url string vs object", req(image("https://x.test/a.png")), req(`[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":"https://x.test/a.png"}]}]`), true},
		{"same inline image", req(image(png1)), req(image(png1)), true},
		{"message name null", req(`[{"role":"user","content":"hi","name":null}]`), req(""), true},
		{"unknown message member null", req(`[{"role":"user","content":"hi","x":null}]`), req(""), true},

		// Documented defaults sent explicitly.
		{"temperature 1", req("", `"temperature":1`), req(""), true},
		{"top_p 1", req("", `"top_p":1.0`), req(""), true},
		{"n 1", req("", `"n":1`), req(""), true},
		{"penalties 0", req("", `"presence_penalty":0`, `"frequency_penalty":0.0`), req(""), true},
		{"logprobs false", req("", `"logprobs":false`), req(""), true},
		{"stop empty", req("", `"stop":[]`), req("", `"stop":""`), true},
		{"logit_bias empty", req("", `"logit_bias":{}`), req(""), true},
		{"tools empty", req("", `"tools":[]`), req(""), true},
		{"tool_choice auto with tools", req("", `"tools":[`+weatherTool+`]`, `"tool_choice":"auto"`), req("", `"tools":[`+weatherTool+`]`), true},
		{"tool_choice none without tools", req("", `"tool_choice":"none"`), req(""), true},
		{"parallel_tool_calls true", req("", `"tools":[`+weatherTool+`]`, `"parallel_tool_calls":true`), req("", `"tools":[`+weatherTool+`]`), true},
		{"parallel_tool_calls without tools", req("", `"parallel_tool_calls":false`), req(""), true},
		{"response_format text", req("", `"response_format":{"type":"text"}`), req(""), true},
		{"json_schema strict false", req("", `"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":false,"schema":{"type":"object"}}}`), req("", `"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}`), true},
		{"function strict false", req("", `"tools":[`+strings.Replace(searchTool, `"name":"search"`, `"name":"search","strict":false`, 1)+`]`), req("", `"tools":[`+searchTool+`]`), true},
		{"function description null", req("", `"tools":[`+strings.Replace(searchTool, `"name":"search"`, `"name":"search","description":null`, 1)+`]`), req("", `"tools":[`+searchTool+`]`), true},
		{"modalities text", req("", `"modalities":["text"]`), req(""), true},
		{"service_tier auto", req("", `"service_tier":"auto"`), req(""), true},
		{"null optional fields", req("", `"temperature":null`, `"seed":null`, `"tools":null`, `"stop":null`, `"response_format":null`), req(""), true},
		{"max_tokens spellings", req("", `"max_tokens":100`), req("", `"max_completion_tokens":100`), true},
		{"stop string vs list", req("", `"stop":"x"`), req("", `"stop":["x"]`), true},
		{"stop is a set", req("", `"stop":["a","b"]`), req("", `"stop":["b","a","b"]`), true},
		{"modalities is a set", req("", `"modalities":["text","audio"]`, `"audio":{"voice":"alloy","format":"wav"}`), req("", `"modalities":["audio","text"]`, `"audio":{"format":"wav","voice":"alloy"}`), true},

		// Transport and pure metadata.
		{"stream", req("", `"stream":true`, `"stream_options":{"include_usage":true}`), req(""), true},
		{"metadata", req("", `"user":"u1"`, `"metadata":{"a":"b"}`, `"store":true`, `"safety_identifier":"s"`, `"prompt_cache_key":"k"`, `"prompt_cache_retention":"24h"`), req(""), true},

		// Content is never rewritten.
		{"case", req(`[{"role":"user","content":"Hi"}]`), req(""), false},
		{"trailing whitespace", req(`[{"role":"user","content":"hi "}]`), req(""), false},
		{"inner whitespace", req(`[{"role":"user","content":"a  b"}]`), req(`[{"role":"user","content":"a b"}]`), false},
		{"unicode normalization forms", req(`[{"role":"user","content":"caf\u00e9"}]`), req(`[{"role":"user","content":"cafe\u0301"}]`), false},
		{"two text parts vs joined string", req(`[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]`), req(`[{"role":"user","content":"ab"}]`), false},
		{"empty string vs empty parts", req(`[{"role":"user","content":""}]`), req(`[{"role":"user","content":[]}]`), false},
		{"assistant empty vs null content without tool calls", req(`[{"role":"user","content":"hi"},{"role":"assistant","content":""},{"role":"user","content":"?"}]`), req(`[{"role":"user","content":"hi"},{"role":"assistant","content":null},{"role":"user","content":"?"}]`), false},
		{"text vs refusal part", req(`[{"role":"assistant","content":[{"type":"text","text":"no"}]},{"role":"user","content":"?"}]`), req(`[{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]},{"role":"user","content":"?"}]`), false},
		{"role", req(`[{"role":"system","content":"hi"}]`), req(`[{"role":"developer","content":"hi"}]`), false},
		{"message name", req(`[{"role":"user","name":"a","content":"hi"}]`), req(`[{"role":"user","name":"b","content":"hi"}]`), false},
		{"message order", req(`[{"role":"user","content":"a"},{"role":"user","content":"b"}]`), req(`[{"role":"user","content":"b"},{"role":"user","content":"a"}]`), false},
		{"message boundary", req(`[{"role":"user","content":"a"},{"role":"user","content":"b"}]`), req(`[{"role":"user","content":"ab"}]`), false},
		{"unknown message member", req(`[{"role":"user","content":"hi","cache_control":{"type":"ephemeral"}}]`), req(""), false},

		// Multi-turn with tool calls and results.
		{"tool result", req(toolTurns), req(strings.Replace(toolTurns, `"18C"`, `"19C"`, 1)), false},
		{"tool call id", req(toolTurns), req(strings.ReplaceAll(toolTurns, `call_1`, `call_2`)), false},
		{"tool call arguments verbatim", req(toolTurns), req(strings.Replace(toolTurns, `{\"city\":\"Paris\"}`, `{\"city\": \"Paris\"}`, 1)), false},
		{"tool call name", req(toolTurns), req(strings.Replace(toolTurns, `"name":"get_weather"`, `"name":"get_forecast"`, 1)), false},
		{"tool call unknown member kept", req(toolTurns), req(strings.Replace(toolTurns, `"id":"call_1",`, `"id":"call_1","index":0,`, 1)), false},

		// Media.
		{"image url", req(image("https://x.test/a.png")), req(image("https://x.test/b.png")), false},
		{"inline image bytes", req(image(png1)), req(image(png2)), false},
		{"image detail", req(strings.Replace(image("https://x.test/a.png"), `"}}]}]`, `","detail":"high"}}]}]`, 1)), req(strings.Replace(image("https://x.test/a.png"), `"}}]}]`, `","detail":"low"}}]}]`, 1)), false},
		{"digest is not a url", req(image(png1)), req(image(sha256Hex(png1))), false},
		{"raw part digest is not a literal", req(`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"` + png1 + `"},"x":1}]}]`), req(`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"` + sha256Hex(png1) + `"},"x":1}]}]`), false},
		{"raw part inline bytes", req(`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"` + png1 + `"},"x":1}]}]`), req(`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"` + png2 + `"},"x":1}]}]`), false},
		{"audio bytes", req(`[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]`), req(`[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAB","format":"wav"}}]}]`), false},
		{"audio format", req(`[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]`), req(`[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"mp3"}}]}]`), false},
		{"file id", req(`[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]`), req(`[{"role":"user","content":[{"type":"file","file":{"file_id":"file-2"}}]}]`), false},
		{"file data", req(`[{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,AAAA"}}]}]`), req(`[{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,AAAB"}}]}]`), false},

		// Every generation parameter.
		{"temperature", req("", `"temperature":0.7`), req("", `"temperature":0.70000001`), false},
		{"temperature 0 is not the default", req("", `"temperature":0`), req(""), false},
		{"top_p", req("", `"top_p":0.9`), req(""), false},
		{"n", req("", `"n":2`), req(""), false},
		{"max_tokens", req("", `"max_tokens":100`), req("", `"max_tokens":101`), false},
		{"max_tokens vs unset", req("", `"max_completion_tokens":100`), req(""), false},
		{"seed", req("", `"seed":1`), req("", `"seed":2`), false},
		{"seed vs unset", req("", `"seed":0`), req(""), false},
		{"stop", req("", `"stop":["a"]`), req("", `"stop":["a","b"]`), false},
		{"presence_penalty", req("", `"presence_penalty":0.5`), req(""), false},
		{"frequency_penalty", req("", `"frequency_penalty":-0.5`), req("", `"frequency_penalty":0.5`), false},
		{"logit_bias", req("", `"logit_bias":{"50256":-100}`), req("", `"logit_bias":{"50256":-99}`), false},
		{"logprobs", req("", `"logprobs":true`), req(""), false},
		{"top_logprobs", req("", `"logprobs":true`, `"top_logprobs":2`), req("", `"logprobs":true`, `"top_logprobs":3`), false},
		{"top_logprobs 0 vs unset", req("", `"logprobs":true`, `"top_logprobs":0`), req("", `"logprobs":true`), false},
		{"reasoning_effort", req("", `"reasoning_effort":"low"`), req("", `"reasoning_effort":"high"`), false},
		{"reasoning_effort vs unset (model-dependent default)", req("", `"reasoning_effort":"medium"`), req(""), false},
		{"verbosity", req("", `"verbosity":"low"`), req(""), false},
		{"modalities", req("", `"modalities":["text","audio"]`), req(""), false},
		{"audio voice", req("", `"modalities":["text","audio"]`, `"audio":{"voice":"alloy","format":"wav"}`), req("", `"modalities":["text","audio"]`, `"audio":{"voice":"echo","format":"wav"}`), false},
		{"prediction", req("", `"prediction":{"type":"content","content":"a"}`), req("", `"prediction":{"type":"content","content":"b"}`), false},
		{"service_tier", req("", `"service_tier":"flex"`), req(""), false},
		{"tool_choice required vs auto", req("", `"tools":[`+weatherTool+`]`, `"tool_choice":"required"`), req("", `"tools":[`+weatherTool+`]`), false},
		{"tool_choice none with tools", req("", `"tools":[`+weatherTool+`]`, `"tool_choice":"none"`), req("", `"tools":[`+weatherTool+`]`), false},
		{"tool_choice named", req("", `"tools":[`+weatherTool+`,`+searchTool+`]`, `"tool_choice":{"type":"function","function":{"name":"search"}}`), req("", `"tools":[`+weatherTool+`,`+searchTool+`]`, `"tool_choice":{"type":"function","function":{"name":"get_weather"}}`), false},
		{"parallel_tool_calls false with tools", req("", `"tools":[`+weatherTool+`]`, `"parallel_tool_calls":false`), req("", `"tools":[`+weatherTool+`]`), false},
		{"tools present", req("", `"tools":[`+weatherTool+`]`), req(""), false},
		{"tool order", req("", `"tools":[`+weatherTool+`,`+searchTool+`]`), req("", `"tools":[`+searchTool+`,`+weatherTool+`]`), false},
		{"tool schema property order", req("", `"tools":[`+weatherTool+`]`), req("", `"tools":[`+weatherToolSwapped+`]`), false},
		{"function strict", req("", `"tools":[`+strings.Replace(searchTool, `"name":"search"`, `"name":"search","strict":true`, 1)+`]`), req("", `"tools":[`+searchTool+`]`), false},
		{"response_format json_object", req("", `"response_format":{"type":"json_object"}`), req(""), false},
		{"json_schema property order", req("", `"response_format":{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}}}`), req("", `"response_format":{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"string"}}}}}`), false},
		{"json_schema strict", req("", `"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":{"type":"object"}}}`), req("", `"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}`), false},
		{"unknown field kept", req("", `"top_k":40`), req(""), false},
		{"unknown field value", req("", `"top_k":40`), req("", `"top_k":41`), false},
		{"unknown field exact decimals", req("", `"x":0.1`), req("", `"x":0.10000000000000001`), false},
		{"unknown schema keeps properties order", req("", `"guided_json":{"properties":{"a":{},"b":{}}}`), req("", `"guided_json":{"properties":{"b":{},"a":{}}}`), false},
		{"legacy functions kept", req("", `"functions":[{"name":"f","parameters":{}}]`), req(""), false},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d pairs", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := key(t, tt.a), key(t, tt.b)
			if got := ka == kb; got != tt.same {
				ra, _ := normalize.DecodeOpenAI([]byte(tt.a))
				rb, _ := normalize.DecodeOpenAI([]byte(tt.b))
				t.Errorf("same key = %v, want %v\nA: %s\nB: %s", got, tt.same, normalize.Canonical(ra), normalize.Canonical(rb))
			}
		})
	}
}

// TestInvalid lists requests DecodeOpenAI must reject, mostly because
// accepting them would make two different requests share a key.
func TestInvalid(t *testing.T) {
	tests := []struct {
		name, body, param string
	}{
		{"duplicate top-level key", `{"model":"m","messages":[{"role":"user","content":"a"}],"seed":1,"seed":2}`, "seed"},
		{"duplicate unknown key", `{"model":"m","messages":[{"role":"user","content":"a"}],"x":1,"x":2}`, "x"},
		{"duplicate unknown key with null", `{"model":"m","messages":[{"role":"user","content":"a"}],"x":null,"x":2}`, "x"},
		{"duplicate unkeyed key", `{"model":"m","messages":[{"role":"user","content":"a"}],"metadata":null,"metadata":{}}`, "metadata"},
		{"duplicate unknown message key with null", `{"model":"m","messages":[{"role":"user","content":"a","x":1,"x":null}]}`, "messages[0].x"},
		{"duplicate nested key", `{"model":"m","messages":[{"role":"user","content":"a"}],"x":{"a":1,"a":2}}`, "x"},
		{"duplicate message key", `{"model":"m","messages":[{"role":"user","content":"a","content":"b"}]}`, "messages[0]"},
		{"duplicate part key", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]}`, "messages[0].content[0]"},
		{"duplicate file key", `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"a","file_id":"b"}}]}]}`, "messages[0].content[0]"},
		{"duplicate tool call key", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a","id":"b","function":{"name":"f","arguments":"{}"}}]}]}`, "messages[0].tool_calls[0]"},
		{"duplicate function key", `{"model":"m","messages":[{"role":"user","content":"a"}],"tools":[{"type":"function","function":{"name":"f","name":"g"}}]}`, "tools[0]"},
		{"duplicate schema property", `{"model":"m","messages":[{"role":"user","content":"a"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"properties":{"a":{},"a":{}}}}}}`, "response_format"},
		{"invalid escape", `{"model":"m","messages":[{"role":"user","content":"a\x"}]}`, ""},
		{"short unicode escape", `{"model":"m","messages":[{"role":"user","content":"\u12"}]}`, ""},
		{"lone high surrogate", `{"model":"m","messages":[{"role":"user","content":"\ud800"}]}`, ""},
		{"lone low surrogate", `{"model":"m","messages":[{"role":"user","content":"\udc00x"}]}`, ""},
		{"invalid utf-8", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", ""},
		{"leading zero", `{"model":"m","messages":[{"role":"user","content":"a"}],"temperature":01}`, "temperature"},
		{"bare fraction", `{"model":"m","messages":[{"role":"user","content":"a"}],"x":.5}`, "x"},
		{"trailing dot", `{"model":"m","messages":[{"role":"user","content":"a"}],"x":[1.]}`, "x"},
		{"NaN", `{"model":"m","messages":[{"role":"user","content":"a"}],"x":NaN}`, "x"},
		{"fractional n", `{"model":"m","messages":[{"role":"user","content":"a"}],"n":1.5}`, "n"},
		{"n zero", `{"model":"m","messages":[{"role":"user","content":"a"}],"n":0}`, "n"},
		{"n too large", `{"model":"m","messages":[{"role":"user","content":"a"}],"n":129}`, "n"},
		{"max_tokens zero", `{"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":0}`, "max_tokens"},
		{"max_tokens conflict", `{"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":1,"max_completion_tokens":2}`, "max_tokens"},
		{"seed out of range", `{"model":"m","messages":[{"role":"user","content":"a"}],"seed":9223372036854775808}`, "seed"},
		{"temperature overflow", `{"model":"m","messages":[{"role":"user","content":"a"}],"temperature":1e400}`, "temperature"},
		{"top_logprobs without logprobs", `{"model":"m","messages":[{"role":"user","content":"a"}],"top_logprobs":2}`, "top_logprobs"},
		{"top_logprobs with logprobs false", `{"model":"m","messages":[{"role":"user","content":"a"}],"logprobs":false,"top_logprobs":2}`, "top_logprobs"},
		{"too many stops", `{"model":"m","messages":[{"role":"user","content":"a"}],"stop":["a","b","c","d","e"]}`, "stop"},
		{"bad tool_choice", `{"model":"m","messages":[{"role":"user","content":"a"}],"tool_choice":"sometimes"}`, "tool_choice"},
		{"no messages", `{"model":"m","messages":[]}`, "messages"},
		{"user content null", `{"model":"m","messages":[{"role":"user","content":null}]}`, "messages[0].content"},
		{"tool without id", `{"model":"m","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id"},
		{"unknown role", `{"model":"m","messages":[{"role":"robot","content":"x"}]}`, "messages[0].role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := normalize.DecodeOpenAI([]byte(tt.body))
			var e *normalize.Error
			if !errorsAs(err, &e) {
				t.Fatalf("DecodeOpenAI(%s) = %v, want *Error", tt.body, err)
			}
			if e.Param != tt.param {
				t.Errorf("DecodeOpenAI(%s) param = %q (%v), want %q", tt.body, e.Param, err, tt.param)
			}
		})
	}
}

func errorsAs(err error, target **normalize.Error) bool { return errors.As(err, target) }
