package completions_test

import (
	"fmt"
	"os"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/completions"
)

func Example() {
	req, err := completions.Decode([]byte(`{"model":"gpt-3.5-turbo-instruct","prompt":["Say this is a test"],"max_tokens":16,"temperature":0}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", normalize.Canonical(req))

	// A provider without the legacy API gets the prompt as a chat turn.
	chat, err := completions.Portable(req)
	fmt.Printf("%s %v\n", normalize.Canonical(chat), err)

	resp := &normalize.Response{ID: "cmpl-1", Created: 1700000000, Choices: []normalize.Choice{{
		Message:      normalize.Message{Role: "assistant", Content: []normalize.Part{{Type: "text", Text: "This is a test."}}},
		FinishReason: "stop",
	}}}
	fmt.Printf("%s\n", completions.AppendResponse(nil, resp, "gpt-3.5-turbo-instruct"))
	s := completions.NewStream("gpt-3.5-turbo-instruct", false)
	var out []byte
	for _, c := range normalize.Replay(resp, false) {
		out = s.Chunk(out, &c)
	}
	os.Stdout.Write(s.End(out, resp))
	// Output:
	// {"messages":[{"role":"user","content":"Say this is a test"}],"temperature":0,"dialect":"completions","dialect_fields":{"prompt":"Say this is a test"}}
	// {"messages":[{"role":"user","content":"Say this is a test"}],"max_tokens":16,"temperature":0} <nil>
	// {"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"gpt-3.5-turbo-instruct","choices":[{"text":"This is a test.","index":0,"logprobs":null,"finish_reason":"stop"}]}
	// data: {"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"gpt-3.5-turbo-instruct","choices":[{"text":"This is a test.","index":0,"logprobs":null,"finish_reason":null}]}
	//
	// data: {"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"gpt-3.5-turbo-instruct","choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}]}
	//
	// data: [DONE]
}
