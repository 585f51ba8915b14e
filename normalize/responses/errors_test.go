package responses_test

import (
	"errors"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/responses"
)

// Every malformed shape is an invalid-request error naming the Responses
// parameter, never a panic.
func TestDecodeErrors(t *testing.T) {
	tests := []struct{ give, param string }{
		{`not json`, ""},
		{`[]`, ""},
		{"{\"model\":\"m\",\"input\":\"\xff\"}", ""},
		{`{"model":"m","input":"\x41"}`, ""},
		{`{"model":"m","input":"\ud800"}`, ""},
		{`{"model":"m","model":"n","input":"Hi"}`, "model"},
		{`{"input":"Hi"}`, "model"},
		{`{"model":1,"input":"Hi"}`, "model"},
		{`{"model":"m"}`, "input"},
		{`{"model":"m","input":[]}`, "input"},
		{`{"model":"m","input":7}`, "input"},
		{`{"model":"m","instructions":7,"input":"Hi"}`, "instructions"},
		{`{"model":"m","input":["Hi"]}`, "input[0]"},
		{`{"model":"m","input":[{"content":"Hi"}]}`, "input[0].type"},
		{`{"model":"m","input":[{"type":7}]}`, "input[0].type"},
		{`{"model":"m","input":[{"role":"tool","content":"Hi"}]}`, "input[0].role"},
		{`{"model":"m","input":[{"role":"user"}]}`, "input[0].content"},
		{`{"model":"m","input":[{"role":"user","content":7}]}`, "input[0].content"},
		{`{"model":"m","input":[{"role":"user","role":"user","content":"Hi"}]}`, "input[0]"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"},"b"]}]}`, "input[0].content[1]"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]}`, "input[0].content[0].text"},
		{`{"model":"m","input":[{"role":"user","content":[{"text":"a"}]}]}`, "input[0].content[0].type"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":7}]}]}`, "input[0].content[0].image_url"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","detail":"low"}]}]}`, "input[0].content[0].image_url"},
		{`{"model":"m","input":[{"role":"assistant","content":[{"type":"output_text"}]}]}`, "input[0].content[0].text"},
		{`{"model":"m","input":[{"role":"assistant","content":[{"type":"refusal"}]}]}`, "input[0].content[0].refusal"},
		{`{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`, "input[0].arguments"},
		{`{"model":"m","input":[{"role":"user","content":"Hi"},{"type":"function_call_output","call_id":"c"}]}`, "input[1].output"},
		{`{"model":"m","input":[{"type":"function_call_output","output":"x"}]}`, "input[0].call_id"},
		{`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":["x"]}]}`, "input[0].output[0]"},
		{`{"model":"m","input":[{"type":"item_reference","id":7}]}`, "input[0].id"},
		{`{"model":"m","input":"Hi","tools":{}}`, "tools"},
		{`{"model":"m","input":"Hi","tools":[7]}`, "tools[0]"},
		{`{"model":"m","input":"Hi","tools":[{"name":"f"}]}`, "tools[0].type"},
		{`{"model":"m","input":"Hi","tools":[{"type":"function"}]}`, "tools[0].name"},
		{`{"model":"m","input":"Hi","tools":[{"type":"function","name":"f","parameters":"x"}]}`, "tools[0].parameters"},
		{`{"model":"m","input":"Hi","tools":[{"type":"function","name":"f","strict":"yes"}]}`, "tools[0].strict"},
		{`{"model":"m","input":"Hi","tools":[{"type":"web_search"},{"type":"function","name":"f","parameters":{"type":"object","type":"object"}}]}`, "tools[1].parameters"},
		{`{"model":"m","input":"Hi","tool_choice":7}`, "tool_choice"},
		{`{"model":"m","input":"Hi","tool_choice":"sometimes"}`, "tool_choice"},
		{`{"model":"m","input":"Hi","tool_choice":{"type":"function","name":7}}`, "tool_choice.name"},
		{`{"model":"m","input":"Hi","temperature":"hot"}`, "temperature"},
		{`{"model":"m","input":"Hi","temperature":01}`, "temperature"},
		{`{"model":"m","input":"Hi","metadata":{"a":.5}}`, "metadata"},
		{`{"model":"m","input":[{"role":"user","content":"Hi","x":[1.]}]}`, "input"},
		{`{"model":"m","input":"Hi","top_p":true}`, "top_p"},
		{`{"model":"m","input":"Hi","max_output_tokens":10}`, "max_output_tokens"},
		{`{"model":"m","input":"Hi","max_output_tokens":16.5}`, "max_output_tokens"},
		{`{"model":"m","input":"Hi","top_logprobs":21}`, "top_logprobs"},
		{`{"model":"m","input":"Hi","parallel_tool_calls":"no"}`, "parallel_tool_calls"},
		{`{"model":"m","input":"Hi","stream":"yes"}`, "stream"},
		{`{"model":"m","input":"Hi","store":1}`, "store"},
		{`{"model":"m","input":"Hi","metadata":[]}`, "metadata"},
		{`{"model":"m","input":"Hi","include":[1]}`, "include[0]"},
		{`{"model":"m","input":"Hi","text":[]}`, "text"},
		{`{"model":"m","input":"Hi","text":{"verbosity":1}}`, "text.verbosity"},
		{`{"model":"m","input":"Hi","text":{"format":{"name":"x"}}}`, "text.format.type"},
		{`{"model":"m","input":"Hi","text":{"format":{"type":"json_schema","schema":{}}}}`, "text.format.name"},
		{`{"model":"m","input":"Hi","text":{"format":{"type":"json_schema","name":"x","schema":[]}}}`, "text.format.schema"},
		{`{"model":"m","input":"Hi","text":{"format":{"type":"json_schema","name":"x","schema":{"a":1,"a":2}}}}`, "text.format"},
		{`{"model":"m","input":"Hi","reasoning":"high"}`, "reasoning"},
		{`{"model":"m","input":"Hi","reasoning":{"effort":1}}`, "reasoning.effort"},
		{`{"model":"m","input":"Hi","previous_response_id":""}`, "previous_response_id"},
		{`{"model":"m","input":"Hi","truncation":true}`, "truncation"},
		{`{"model":"m","input":"Hi","background":"no"}`, "background"},
		{`{"model":"m","input":"Hi","service_tier":1}`, "service_tier"},
		{`{"model":"m","input":"Hi","user":1}`, "user"},
		{`{"model":"m","input":"Hi","custom":{"a":1,"a":2}}`, "custom"},
		{`{"model":"m","input":[{"type":"reasoning","id":"rs_1","summary":[],"x":{"a":1,"a":2}},{"role":"user","content":"Hi"}]}`, "input[0]"},
	}
	for _, tt := range tests {
		p, err := responses.Parse([]byte(tt.give))
		if err == nil {
			_, err = p.Decode(nil)
		}
		var e *normalize.Error
		if !errors.As(err, &e) || !errors.Is(err, normalize.ErrInvalid) {
			t.Errorf("Decode(%s) = %v, want a *normalize.Error", tt.give, err)
			continue
		}
		if e.Param != tt.param {
			t.Errorf("Decode(%s) = %q (param %q), want param %q", tt.give, e.Message, e.Param, tt.param)
		}
	}
}
