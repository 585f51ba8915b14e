package messages_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/messages"
)

// weather is a tool schema used by several pairs, in both spellings.
const (
	schema      = `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`
	anthTool    = `{"name":"get_weather","description":"Weather for a city","input_schema":` + schema + `}`
	chatTool    = `{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":` + schema + `}}`
	anthToolUse = `{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]}`
	chatToolUse = `{"role":"assistant","content":null,"tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}`
)

// TestCrossDialect proves that a Messages request and the chat request
// with the same meaning have byte-identical canonical forms, so they share
// cache entries.
func TestCrossDialect(t *testing.T) {
	tests := []struct {
		name        string
		give        string // Messages body
		want        string // chat-completions body
		wantDialect string
	}{{
		name: "one turn",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "max_tokens is max_completion_tokens",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_completion_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "text blocks are string content",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "two text blocks are two text parts",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`,
	}, {
		name: "system string",
		give: `{"model":"m","max_tokens":100,"system":"Be brief.","messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]}`,
	}, {
		name: "system text blocks",
		give: `{"model":"m","max_tokens":100,"system":[{"type":"text","text":"Be brief."}],"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]}`,
	}, {
		name: "cache_control on a text block is a chat text part member",
		give: `{"model":"m","max_tokens":100,"system":[{"type":"text","text":"S","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"system","content":[{"type":"text","text":"S","cache_control":{"type":"ephemeral"}}]},{"role":"user","content":"hi"}]}`,
	}, {
		name: "documented defaults",
		give: `{"model":"m","max_tokens":100,"temperature":1.0,"top_p":1,"service_tier":"auto","messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "temperature",
		give: `{"model":"m","max_tokens":100,"temperature":0.25,"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"temperature":2.5e-1,"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "stop sequences are a set",
		give: `{"model":"m","max_tokens":100,"stop_sequences":["b","a","b"],"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"stop":["a","b"],"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "one stop sequence",
		give: `{"model":"m","max_tokens":100,"stop_sequences":["END"],"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"stop":"END","messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "metadata and stream are not keyed",
		give: `{"model":"m","max_tokens":100,"stream":true,"metadata":{"user_id":"u1"},"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"user":"u2","messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "Anthropic-only parameters are pass-through members",
		give: `{"model":"m","max_tokens":100,"top_k":40,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"thinking":{"budget_tokens":1024,"type":"enabled"},"top_k":40,"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "tools with tool_choice auto",
		give: `{"model":"m","max_tokens":100,"tools":[` + anthTool + `],"tool_choice":{"type":"auto"},"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"tools":[` + chatTool + `],"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "explicit custom type and strict false",
		give: `{"model":"m","max_tokens":100,"tools":[{"type":"custom","name":"get_weather","description":"Weather for a city","input_schema":` + schema + `,"strict":false}],"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"tools":[` + chatTool + `],"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "tool_choice any",
		give: `{"model":"m","max_tokens":100,"tools":[` + anthTool + `],"tool_choice":{"type":"any","disable_parallel_tool_use":true},"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"tools":[` + chatTool + `],"tool_choice":"required","parallel_tool_calls":false,"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "tool_choice tool",
		give: `{"model":"m","max_tokens":100,"tools":[` + anthTool + `],"tool_choice":{"type":"tool","name":"get_weather"},"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"tools":[` + chatTool + `],"tool_choice":{"type":"function","function":{"name":"get_weather"}},"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "tool_choice none",
		give: `{"model":"m","max_tokens":100,"tools":[` + anthTool + `],"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"tools":[` + chatTool + `],"tool_choice":"none","messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "tool use and tool result turns",
		give: `{"model":"m","max_tokens":100,"tools":[` + anthTool + `],"messages":[{"role":"user","content":"Weather in Paris?"},` + anthToolUse +
			`,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"}]}]}`,
		want: `{"model":"m","max_tokens":100,"tools":[` + chatTool + `],"messages":[{"role":"user","content":"Weather in Paris?"},` + chatToolUse +
			`,{"role":"tool","tool_call_id":"toolu_1","content":"18C"}]}`,
	}, {
		name: "a direct caller is the default",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"},"caller":{"type":"direct"}}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},` + chatToolUse + `]}`,
	}, {
		name: "text beside a tool call",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"Checking.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}]}`,
	}, {
		name: "tool results then text become tool messages then a user message",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},` + anthToolUse +
			`,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"18C"}]},{"type":"text","text":"And tomorrow?"}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},` + chatToolUse +
			`,{"role":"tool","tool_call_id":"toolu_1","content":[{"type":"text","text":"18C"}]},{"role":"user","content":"And tomorrow?"}]}`,
	}, {
		name: "a tool result without content",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},` + anthToolUse + `,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1"}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},` + chatToolUse + `,{"role":"tool","tool_call_id":"toolu_1","content":""}]}`,
	}, {
		name: "is_error false is the default",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},` + anthToolUse + `,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"e","is_error":false}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},` + chatToolUse + `,{"role":"tool","tool_call_id":"toolu_1","content":"e"}]}`,
	}, {
		name: "is_error true is a tool message member",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},` + anthToolUse + `,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"e","is_error":true}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},` + chatToolUse + `,{"role":"tool","tool_call_id":"toolu_1","content":"e","is_error":true}]}`,
	}, {
		name: "base64 image is a data URL",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},{"type":"text","text":"What is it?"}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"auto"}},{"type":"text","text":"What is it?"}]}]}`,
	}, {
		name: "url image",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":[{"type":"image_url","image_url":"https://example.com/a.png"}]}]}`,
	}, {
		name: "PDF document is a file part",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0="}}]}]}`,
	}, {
		name: "structured output",
		give: `{"model":"m","max_tokens":100,"output_config":{"format":{"type":"json_schema","schema":{"type":"array","items":{"type":"integer"}}}},"messages":[{"role":"user","content":"hi"}]}`,
		want: `{"model":"m","max_tokens":100,"response_format":{"type":"json_schema","json_schema":{"name":"output","strict":true,"schema":{"type":"array","items":{"type":"integer"}}}},"messages":[{"role":"user","content":"hi"}]}`,
	}, {
		name: "unsigned thinking is sent to no provider",
		give: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":""},{"type":"text","text":"4"}]},{"role":"user","content":"why?"}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"4"},{"role":"user","content":"why?"}]}`,
	}, {
		name: "null members are not sent",
		give: `{"model":"m","max_tokens":100,"system":null,"temperature":null,"top_k":null,"metadata":{"user_id":null},"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":null}]}]}`,
		want: `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := messages.Decode([]byte(tt.give))
			if err != nil {
				t.Fatalf("Decode(%s) = %v", tt.give, err)
			}
			want, err := normalize.DecodeOpenAI([]byte(tt.want))
			if err != nil {
				t.Fatalf("DecodeOpenAI(%s) = %v", tt.want, err)
			}
			if g, w := normalize.Canonical(got), normalize.Canonical(want); !bytes.Equal(g, w) {
				t.Errorf("Canonical(Decode(%s)) =\n%s\nwant (chat)\n%s", tt.give, g, w)
			}
		})
	}
}

// TestCrossDialectDiffer lists Messages requests that must not share a key
// with the base request: each changes what a provider is asked.
func TestCrossDialectDiffer(t *testing.T) {
	const base = `{"model":"m","max_tokens":100,"tools":[` + anthTool + `],"messages":[{"role":"user","content":"x"},` + anthToolUse +
		`,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"}]}]}`
	variants := map[string]string{
		"max_tokens":      strings.Replace(base, `"max_tokens":100`, `"max_tokens":101`, 1),
		"temperature":     strings.Replace(base, `"max_tokens":100`, `"max_tokens":100,"temperature":0.5`, 1),
		"top_k":           strings.Replace(base, `"max_tokens":100`, `"max_tokens":100,"top_k":5`, 1),
		"thinking":        strings.Replace(base, `"max_tokens":100`, `"max_tokens":100,"thinking":{"type":"enabled","budget_tokens":1024}`, 1),
		"system":          strings.Replace(base, `"max_tokens":100`, `"max_tokens":100,"system":"x"`, 1),
		"stop":            strings.Replace(base, `"max_tokens":100`, `"max_tokens":100,"stop_sequences":["a"]`, 1),
		"five stops":      strings.Replace(base, `"max_tokens":100`, `"max_tokens":100,"stop_sequences":["a","b","c","d","e"]`, 1),
		"is_error":        strings.Replace(base, `"content":"18C"`, `"content":"18C","is_error":true`, 1),
		"result":          strings.Replace(base, `"content":"18C"`, `"content":"19C"`, 1),
		"result blocks":   strings.Replace(base, `"content":"18C"`, `"content":[{"type":"text","text":"18C"},{"type":"text","text":""}]`, 1),
		"result cache":    strings.Replace(base, `"content":"18C"`, `"content":"18C","cache_control":{"type":"ephemeral"}`, 1),
		"tool id":         strings.Replace(base, `toolu_1`, `toolu_2`, 2),
		"input":           strings.Replace(base, `{"city":"Paris"}`, `{"city":"Lyon"}`, 1),
		"tool choice any": strings.Replace(base, `"max_tokens":100`, `"max_tokens":100,"tool_choice":{"type":"any"}`, 1),
		"no parallel":     strings.Replace(base, `"max_tokens":100`, `"max_tokens":100,"tool_choice":{"type":"auto","disable_parallel_tool_use":true}`, 1),
		"strict tool":     strings.Replace(base, `"input_schema":`, `"strict":true,"input_schema":`, 1),
		"cached tool":     strings.Replace(base, `"input_schema":`, `"cache_control":{"type":"ephemeral"},"input_schema":`, 1),
		"server tool":     strings.Replace(base, `"tools":[`, `"tools":[{"type":"web_search_20250305","name":"web_search"},`, 1),
		"signed thinking": strings.Replace(base, anthToolUse, `{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]}`, 1),
		"other caller":    strings.Replace(base, `"input":{"city":"Paris"}`, `"input":{"city":"Paris"},"caller":{"type":"code_execution_20250825","tool_id":"srvtoolu_1"}`, 1),
		"service tier":    strings.Replace(base, `"max_tokens":100`, `"max_tokens":100,"service_tier":"standard_only"`, 1),
	}
	seen := map[string]string{string(canonical(t, base)): "base"}
	for name, body := range variants {
		if body == base {
			t.Fatalf("variant %s does not change the base request", name)
		}
		c := string(canonical(t, body))
		if prev, dup := seen[c]; dup {
			t.Errorf("variants %s and %s share the canonical form %s", name, prev, c)
		}
		seen[c] = name
	}
}

func canonical(t *testing.T, body string) []byte {
	t.Helper()
	r, err := messages.Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode(%s) = %v", body, err)
	}
	return normalize.Canonical(r)
}

func TestDecodeRejects(t *testing.T) {
	const turn = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		give  string
		param string
	}{
		{`{"max_tokens":10,` + turn + `}`, "model"},
		{`{"model":"m",` + turn + `}`, "max_tokens"},
		{`{"model":"m","max_tokens":10}`, "messages"},
		{`{"model":"m","max_tokens":0,` + turn + `}`, "max_tokens"},
		{`{"model":"m","max_tokens":1.5,` + turn + `}`, "max_tokens"},
		{`{"model":7,"max_tokens":10,` + turn + `}`, "model"},
		{`{"model":"m","max_tokens":10,"messages":[]}`, "messages"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"system","content":"x"}]}`, "messages.0.role"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user"}]}`, "messages.0.content"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x","name":"bob"}]}`, "messages.0.name"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text"}]}]}`, "messages.0.content.0.text"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"text":"x"}]}]}`, "messages.0.content.0.type"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}]}`, "messages.0.content.0.type"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"x"}}]}]}`, "messages.0.content.0.source.media_type"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image"}]}]}`, "messages.0.content.0.source"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "messages.0.content.0.tool_use_id"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","is_error":"yes"}]}]}`, "messages.0.content.0.is_error"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":1}]}]}]}`, "messages.0.content.0.content.0.text"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":"{}"}]}]}`, "messages.1.content.0.input"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{"a":1,"a":2}}]}]}`, "messages.1.content.0.input"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{"a":01}}]}]}`, "messages.1.content.0.input.a"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":5}]}]}`, "messages.1.content.0.signature"},
		{`{"model":"m","max_tokens":10,"system":[{"type":"image","source":{}}],` + turn + `}`, "system.0.type"},
		{`{"model":"m","max_tokens":10,"system":5,` + turn + `}`, "system"},
		{`{"model":"m","max_tokens":10,"tools":[{"name":"f"}],` + turn + `}`, "tools.0.input_schema"},
		{`{"model":"m","max_tokens":10,"tools":[{"input_schema":{}}],` + turn + `}`, "tools.0.name"},
		{`{"model":"m","max_tokens":10,"tools":[{"type":"function","function":{"name":"f"}}],` + turn + `}`, "tools.0.type"},
		{`{"model":"m","max_tokens":10,"tools":[{"name":"f","input_schema":{"type":"object","type":"object"}}],` + turn + `}`, "tools.0.input_schema"},
		{`{"model":"m","max_tokens":10,"tool_choice":{"type":"tool"},` + turn + `}`, "tool_choice.name"},
		{`{"model":"m","max_tokens":10,"tool_choice":{"type":"sometimes"},` + turn + `}`, "tool_choice.type"},
		{`{"model":"m","max_tokens":10,"tool_choice":{"type":"auto","name":"f"},` + turn + `}`, "tool_choice.name"},
		{`{"model":"m","max_tokens":10,"tool_choice":"auto",` + turn + `}`, "tool_choice"},
		{`{"model":"m","max_tokens":10,"stop_sequences":"END",` + turn + `}`, "stop_sequences"},
		{`{"model":"m","max_tokens":10,"stop_sequences":["a",1],` + turn + `}`, "stop_sequences.1"},
		{`{"model":"m","max_tokens":10,"metadata":{"user_id":"u","tier":"gold"},` + turn + `}`, "metadata.tier"},
		{`{"model":"m","max_tokens":10,"temperature":"hot",` + turn + `}`, "temperature"},
		{`{"model":"m","max_tokens":10,"stream":"yes",` + turn + `}`, "stream"},
		{`{"model":"m","max_tokens":10,"seed":1,` + turn + `}`, "seed"},
		{`{"model":"m","max_tokens":10,"response_format":{"type":"json_object"},` + turn + `}`, "response_format"},
		{`{"model":"m","max_tokens":10,"user":"u",` + turn + `}`, "user"},
		{`{"model":"m","max_tokens":10,"top_k":1e999999999999,` + turn + `}`, "top_k"},
		{`{"model":"m","model":"n","max_tokens":10,` + turn + `}`, "model"},
		{`{"model":"m","max_tokens":10,"x":{"a":1,"a":2},` + turn + `}`, "x"},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"\x"}]}`, ""},
		{`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"\ud800"}]}`, ""},
		{"{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", ""},
		{`[1]`, ""},
		{`{"model":`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			_, err := messages.Decode([]byte(tt.give))
			var e *normalize.Error
			if !errors.As(err, &e) || !errors.Is(err, normalize.ErrInvalid) {
				t.Fatalf("Decode(%s) = %v, want a *normalize.Error", tt.give, err)
			}
			if e.Param != tt.param {
				t.Errorf("Decode(%s) = %v; param %q, want %q", tt.give, err, e.Param, tt.param)
			}
		})
	}
}

// TestDecodeRequest checks what the canonical form does not show: the
// unkeyed fields and the spelling sent to OpenAI-compatible upstreams.
func TestDecodeRequest(t *testing.T) {
	r, err := messages.Decode([]byte(`{"model":"claude-x","max_tokens":50,"stream":true,"metadata":{"user_id":"u-1"},"stop_sequences":["e","d","c","b","a","a"],"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "claude-x" || !r.Stream || !r.IncludeUsage || r.User != "u-1" || r.MaxTokensField != "max_completion_tokens" || r.Dialect != "" {
		t.Errorf("Decode = model %q stream %v usage %v user %q field %q dialect %q", r.Model, r.Stream, r.IncludeUsage, r.User, r.MaxTokensField, r.Dialect)
	}
	if got := strings.Join(r.Params.Stop, ","); got != "a,b,c,d,e" {
		t.Errorf("Decode stop = %s, want a,b,c,d,e", got)
	}
	wire := normalize.AppendOpenAIRequest(nil, r, "gpt-4o", true)
	for _, want := range []string{`"max_completion_tokens":50`, `"user":"u-1"`, `"stop":["a","b","c","d","e"]`} {
		if !bytes.Contains(wire, []byte(want)) {
			t.Errorf("upstream body %s lacks %s", wire, want)
		}
	}
}
