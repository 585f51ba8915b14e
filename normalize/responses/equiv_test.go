package responses_test

import (
	"bytes"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/responses"
)

func responsesCanonical(t *testing.T, body string) (*normalize.Request, []byte) {
	t.Helper()
	_, r, err := decodeBody(t, []byte(body))
	if err != nil {
		t.Fatalf("Decode(%s) = %v", body, err)
	}
	return r, normalize.Canonical(r)
}

func chatCanonical(t *testing.T, body string) []byte {
	t.Helper()
	r, err := normalize.DecodeOpenAI([]byte(body))
	if err != nil {
		t.Fatalf("DecodeOpenAI(%s) = %v", body, err)
	}
	return normalize.Canonical(r)
}

const weatherParams = `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`

// A Responses request and a chat-completions request that mean the same
// have byte-identical canonical forms, so they share one cache entry.
func TestCrossDialectSame(t *testing.T) {
	tests := []struct {
		name, give, chat string
	}{
		{"instructions are a leading system message",
			`{"model":"m","instructions":"Be brief.","input":"Hi"}`,
			`{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}`},
		{"string input is one user message",
			`{"model":"m","input":"Hi"}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}]}`},
		{"input_text parts are text parts",
			`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"Hi"}]}]}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}]}`},
		{"message items with type, id and status",
			`{"model":"m","input":[{"type":"message","role":"user","id":"msg_1","status":"completed","content":"Hi"}]}`,
			`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}`},
		{"developer and system roles",
			`{"model":"m","input":[{"role":"developer","content":"Rules."},{"role":"system","content":"More."},{"role":"user","content":"Hi"}]}`,
			`{"model":"m","messages":[{"role":"developer","content":"Rules."},{"role":"system","content":"More."},{"role":"user","content":"Hi"}]}`},
		{"function tool, strict omitted: Responses makes it strict",
			`{"model":"m","input":"Hi","tools":[{"type":"function","name":"w","description":"Weather","parameters":` + weatherParams + `}]}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"w","description":"Weather","parameters":` + weatherParams + `,"strict":true}}]}`},
		{"function tool, strict false",
			`{"model":"m","input":"Hi","tools":[{"type":"function","name":"w","parameters":` + weatherParams + `,"strict":false}]}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"w","parameters":` + weatherParams + `}}]}`},
		{"tool calls and results",
			`{"model":"m","input":[{"role":"user","content":"Weather?"},{"type":"function_call","call_id":"c1","name":"w","arguments":"{\"city\":\"Oslo\"}","id":"fc_1","status":"completed"},{"type":"function_call","call_id":"c2","name":"w","arguments":"{\"city\":\"Rome\"}"},{"type":"function_call_output","call_id":"c1","output":"cold"},{"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"warm"}]}]}`,
			`{"model":"m","messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{\"city\":\"Oslo\"}"}},{"id":"c2","type":"function","function":{"name":"w","arguments":"{\"city\":\"Rome\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"cold"},{"role":"tool","tool_call_id":"c2","content":"warm"}]}`},
		{"an assistant message and the calls after it are one chat message",
			`{"model":"m","input":[{"role":"user","content":"Q"},{"role":"assistant","content":[{"type":"output_text","text":"Checking.","annotations":[],"logprobs":[]}]},{"type":"function_call","call_id":"c1","name":"w","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"ok"},{"role":"assistant","content":"Done."}]}`,
			`{"model":"m","messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"Checking.","tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"ok"},{"role":"assistant","content":"Done."}]}`},
		{"assistant refusal",
			`{"model":"m","input":[{"role":"user","content":"Q"},{"role":"assistant","content":[{"type":"refusal","refusal":"No."}]},{"role":"user","content":"Please"}]}`,
			`{"model":"m","messages":[{"role":"user","content":"Q"},{"role":"assistant","content":null,"refusal":"No."},{"role":"user","content":"Please"}]}`},
		{"json_schema format",
			`{"model":"m","input":"Hi","text":{"format":{"type":"json_schema","name":"out","schema":{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"string"}}},"strict":true}}}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"out","strict":true,"schema":{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"string"}}}}}}`},
		{"json_schema strict false is chat's default",
			`{"model":"m","input":"Hi","text":{"format":{"type":"json_schema","name":"out","schema":{"type":"object"},"strict":false}}}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"out","schema":{"type":"object"}}}}`},
		{"json_object and text formats",
			`{"model":"m","input":"Hi","text":{"format":{"type":"json_object"}}}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_object"}}`},
		{"text format text is the default",
			`{"model":"m","input":"Hi","text":{"format":{"type":"text"}}}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}]}`},
		{"reasoning effort and verbosity",
			`{"model":"m","input":"Hi","reasoning":{"effort":"high","summary":null},"text":{"verbosity":"low"}}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"reasoning_effort":"high","verbosity":"low"}`},
		{"max_output_tokens is max_completion_tokens",
			`{"model":"m","input":"Hi","max_output_tokens":300}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_tokens":300}`},
		{"sampling defaults and values",
			`{"model":"m","input":"Hi","temperature":1,"top_p":0.5,"service_tier":"auto","parallel_tool_calls":true}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"top_p":0.5}`},
		{"logprobs through include",
			`{"model":"m","input":"Hi","include":["message.output_text.logprobs"],"top_logprobs":3}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"logprobs":true,"top_logprobs":3}`},
		{"tool_choice function and parallel_tool_calls",
			`{"model":"m","input":"Hi","tools":[{"type":"function","name":"w","strict":false}],"tool_choice":{"type":"function","name":"w"},"parallel_tool_calls":false}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"w"}}],"tool_choice":{"type":"function","function":{"name":"w"}},"parallel_tool_calls":false}`},
		{"images and files",
			`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x/a.png","detail":"auto"},{"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"high"},{"type":"input_file","file_id":"file-1"},{"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"}]}]}`,
			`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/a.png"}},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"high"}},{"type":"file","file":{"file_id":"file-1"}},{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"}}]}]}`},
		{"metadata and identifiers are not keyed",
			`{"model":"m","input":"Hi","store":false,"metadata":{"k":"v"},"user":"u1","safety_identifier":"s1","prompt_cache_key":"p1","stream":true,"stream_options":{"include_obfuscation":false},"truncation":"disabled","background":false}`,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}]}`},
		{"Ditto's own reasoning items are dropped",
			`{"model":"m","input":[{"role":"user","content":"Q"},{"type":"reasoning","id":"rs_ditto_00112233445566778899aabbccddeeff","summary":[{"type":"summary_text","text":"thinking"}]},{"role":"assistant","content":"A"},{"type":"item_reference","id":"rs_ditto_00112233445566778899aabbccddeeff"},{"role":"user","content":"Q2"}]}`,
			`{"model":"m","messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"},{"role":"user","content":"Q2"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, got := responsesCanonical(t, tt.give)
			if want := chatCanonical(t, tt.chat); !bytes.Equal(got, want) {
				t.Errorf("Canonical(responses) = %s\nwant (chat)          %s", got, want)
			}
			if r.Dialect != "" || r.DialectFields != nil {
				t.Errorf("Dialect = %q, DialectFields = %v, want portable", r.Dialect, r.DialectFields)
			}
		})
	}
}

// What only the Responses API can say keys the request within the dialect:
// it never shares an entry with the chat request it otherwise resembles, and
// each feature keys apart from the others.
func TestCrossDialectDiffer(t *testing.T) {
	const chat = `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`
	base := chatCanonical(t, chat)
	tests := []struct {
		name, give string
		portable   bool
	}{
		{"previous_response_id", `{"model":"m","input":"Hi","previous_response_id":"resp_x"}`, true},
		{"built-in tool", `{"model":"m","input":"Hi","tools":[{"type":"web_search"}]}`, false},
		{"mcp tool", `{"model":"m","input":"Hi","tools":[{"type":"mcp","server_label":"s","server_url":"https://s"}]}`, false},
		{"truncation auto", `{"model":"m","input":"Hi","truncation":"auto"}`, false},
		{"reasoning summary", `{"model":"m","input":"Hi","reasoning":{"summary":"auto"}}`, false},
		{"include other values", `{"model":"m","input":"Hi","include":["reasoning.encrypted_content"]}`, true},
		{"background", `{"model":"m","input":"Hi","background":true}`, false},
		{"prompt template", `{"model":"m","input":"Hi","prompt":{"id":"pmpt_1","variables":{"x":"y"}}}`, false},
		{"conversation", `{"model":"m","input":"Hi","conversation":"conv_1"}`, false},
		{"max_tool_calls", `{"model":"m","input":"Hi","max_tool_calls":2}`, true},
		{"top_logprobs without include", `{"model":"m","input":"Hi","top_logprobs":2}`, true},
		{"unknown member", `{"model":"m","input":"Hi","seed":7}`, false},
		{"tool_choice for a built-in tool", `{"model":"m","input":"Hi","tool_choice":{"type":"web_search_preview"}}`, false},
		{"verbatim text format member", `{"model":"m","input":"Hi","text":{"format":{"type":"json_object","extra":1}}}`, false},
		{"OpenAI's reasoning item", `{"model":"m","input":[{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"},{"role":"user","content":"Hi"}]}`, false},
		{"OpenAI's item reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"},{"role":"user","content":"Hi"}]}`, false},
		{"image by file id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file-1","detail":"auto"}]},{"role":"user","content":"Hi"}]}`, false},
		{"file by URL", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_url":"https://x/a.pdf"}]},{"role":"user","content":"Hi"}]}`, false},
		{"message phase", `{"model":"m","input":[{"role":"assistant","content":"A","phase":"commentary"},{"role":"user","content":"Hi"}]}`, false},
		{"function call namespace", `{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}","namespace":"ns"},{"role":"user","content":"Hi"}]}`, false},
		{"image in a tool result", `{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"https://x/a.png"}]},{"role":"user","content":"Hi"}]}`, false},
	}
	seen := map[string]string{string(base): "chat"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, got := responsesCanonical(t, tt.give)
			if r.Dialect != responses.Dialect {
				t.Errorf("Dialect = %q, want %q", r.Dialect, responses.Dialect)
			}
			if prev, dup := seen[string(got)]; dup {
				t.Errorf("canonical form %s is shared with %s", got, prev)
			}
			seen[string(got)] = tt.name
			p, err := responses.Portable(r)
			if (err == nil) != tt.portable {
				t.Fatalf("Portable = %v, want portable %v", err, tt.portable)
			}
			if err == nil {
				if p.Dialect != "" || p.DialectFields != nil {
					t.Errorf("portable copy keeps Dialect %q, %v", p.Dialect, p.DialectFields)
				}
				if r.Dialect != responses.Dialect {
					t.Errorf("Portable modified its argument")
				}
			}
		})
	}
}

// Responses' strict-by-default function tools do not share a key with
// chat's non-strict ones: the provider does different things.
func TestStrictDefaultDiffers(t *testing.T) {
	_, got := responsesCanonical(t, `{"model":"m","input":"Hi","tools":[{"type":"function","name":"w"}]}`)
	if chat := chatCanonical(t, `{"model":"m","messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"w"}}]}`); bytes.Equal(got, chat) {
		t.Errorf("strict default shares the chat key %s", got)
	}
}
