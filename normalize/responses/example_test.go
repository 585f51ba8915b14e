package responses_test

import (
	"fmt"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/responses"
)

// A Responses request and the chat-completions request that means the same
// share one canonical form, so one cached answer serves both; the answer
// renders as a Responses object.
func Example() {
	p, err := responses.Parse([]byte(`{"model":"gpt-4o-mini","instructions":"Be brief.","input":"Hi","max_output_tokens":64,"store":false}`))
	if err != nil {
		panic(err)
	}
	req, err := p.Decode(nil) // p.Needs() is empty: no stored records needed
	if err != nil {
		panic(err)
	}
	chat, _ := normalize.DecodeOpenAI([]byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_completion_tokens":64}`))
	fmt.Println(string(normalize.Canonical(req)))
	fmt.Println(string(normalize.Canonical(req)) == string(normalize.Canonical(chat)))

	portable, err := responses.Portable(req)
	fmt.Println(portable != nil, err)

	answer := &normalize.Response{ID: "chatcmpl-1", Created: 1760000000, Choices: []normalize.Choice{{
		Message:      normalize.Message{Role: "assistant", Content: []normalize.Part{{Type: "text", Text: "Hello!"}}},
		FinishReason: "stop",
	}}}
	out := responses.AppendResponse(nil, answer, p.Echo)
	fmt.Println(string(out[:96]))
	// Output:
	// {"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":64}
	// true
	// true <nil>
	// {"id":"resp_ditto_42213fbff769b6b2d7c01b6f2a73441f","object":"response","created_at":1760000000,
}
