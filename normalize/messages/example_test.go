package messages_test

import (
	"fmt"
	"os"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/messages"
)

// A Messages request and the chat request that means the same share one
// canonical form, and so one cache entry.
func ExampleDecode() {
	req, err := messages.Decode([]byte(`{
		"model": "claude-sonnet-4-5",
		"max_tokens": 256,
		"system": "Be brief.",
		"temperature": 1.0,
		"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	chat, _ := normalize.DecodeOpenAI([]byte(`{"model":"claude-sonnet-4-5","max_completion_tokens":256,
		"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}`))
	fmt.Printf("%s\n%v\n", normalize.Canonical(req), string(normalize.Canonical(req)) == string(normalize.Canonical(chat)))

	_, err = messages.Decode([]byte(`{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hi"}]}`))
	fmt.Println(err)
	// Output:
	// {"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":256}
	// true
	// max_tokens: Field required
}

// Any provider's answer is rendered as an Anthropic message, or replayed
// as Anthropic's event stream.
func ExampleStream() {
	resp := &normalize.Response{
		ID: "chatcmpl-1",
		Choices: []normalize.Choice{{
			Message:      normalize.Message{Role: "assistant", Content: []normalize.Part{{Type: "text", Text: "Hello!"}}},
			FinishReason: "stop",
		}},
		Usage: &normalize.Usage{PromptTokens: 9, CompletionTokens: 3, TotalTokens: 12},
	}
	fmt.Printf("%s\n\n", messages.AppendResponse(nil, resp, "claude-haiku-4-5"))
	s := messages.NewStream("claude-haiku-4-5")
	var out []byte
	for _, c := range normalize.Replay(resp, true) {
		out = s.Chunk(out, &c)
	}
	os.Stdout.Write(s.End(out, resp))
	// Output:
	// {"id":"msg_chatcmpl-1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}}
	//
	// event: message_start
	// data: {"type":"message_start","message":{"id":"msg_chatcmpl-1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}
	//
	// event: content_block_start
	// data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}
	//
	// event: ping
	// data: {"type":"ping"}
	//
	// event: content_block_delta
	// data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello!"}}
	//
	// event: content_block_stop
	// data: {"type":"content_block_stop","index":0}
	//
	// event: message_delta
	// data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":9,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}}
	//
	// event: message_stop
	// data: {"type":"message_stop"}
}
