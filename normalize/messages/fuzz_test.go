package messages_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/messages"
)

// FuzzDecode checks Decode's invariants on arbitrary bodies, seeded with
// the request corpus: no panic; failures are *normalize.Error wrapping
// ErrInvalid; decoding is deterministic; the canonical form is valid JSON
// and a fixed point of the chat body sent to OpenAI-compatible upstreams.
func FuzzDecode(f *testing.F) {
	names, bodies := files(f, "requests", ".json")
	for _, n := range names {
		f.Add(bodies[n])
	}
	for _, s := range []string{
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"image","source":{"type":"url","url":"x"}}]},{"type":"text","text":"t"}]}]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{"x":[1,2.5e3,null]}},{"type":"thinking","thinking":"","signature":"s"}]}],"tool_choice":{"type":"tool","name":"f"}}`,
		`{"model":"m","max_tokens":1,"system":[{"type":"text","text":"\u2028"}],"messages":[{"role":"user","content":""}],"stop_sequences":["a","b","c","d","e"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := messages.Decode(body)
		if err != nil {
			var e *normalize.Error
			if !errors.As(err, &e) || !errors.Is(err, normalize.ErrInvalid) {
				t.Fatalf("Decode error %v is not a *normalize.Error wrapping ErrInvalid", err)
			}
			return
		}
		canon := normalize.Canonical(req)
		if !json.Valid(canon) {
			t.Fatalf("Canonical is not JSON: %s", canon)
		}
		again, err := messages.Decode(body)
		if err != nil || !bytes.Equal(normalize.Canonical(again), canon) {
			t.Fatalf("Decode is not deterministic: %v", err)
		}
		if len(req.Params.Stop) > normalize.MaxStop {
			return
		}
		wire := normalize.AppendOpenAIRequest(nil, req, req.Model, req.Stream)
		back, err := normalize.DecodeOpenAI(wire)
		if err != nil {
			t.Fatalf("upstream body does not decode: %v\nbody: %s\nwire: %s", err, body, wire)
		}
		if c := normalize.Canonical(back); !bytes.Equal(c, canon) {
			t.Fatalf("canonical form is not a fixed point:\n%s\n%s", canon, c)
		}
	})
}

// FuzzStream feeds a Stream arbitrary chunk sequences built from the
// fuzzer's bytes (roles, content, refusal and reasoning deltas, tool-call
// pieces for any call index, thinking blocks valid or not, finish and
// usage chunks, other choices, nil) and ends it with the assembled answer
// or a failure: the events must always be well formed.
func FuzzStream(f *testing.F) {
	f.Add([]byte{0, 1, 'h', 'i', 3, 0, 'a', 4, 2, 'x', 8, 9})
	f.Add([]byte{2, 5, 'r', 1, 1, 'b', 5, 1, '{', 3, 1, '}', 6, 7, 10})
	f.Add([]byte{3, 0, 'a', 3, 1, 'b', 3, 0, 'c', 5, 0, 6, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		s := messages.NewStream("m")
		var asm normalize.Assembler
		var out []byte
		failed := false
		str := func(i int) (string, int) {
			if i >= len(ops) {
				return "", i
			}
			n := int(ops[i] % 8)
			end := min(i+1+n, len(ops))
			return string(ops[i+1 : end]), end
		}
		for i := 0; i < len(ops) && !failed; {
			op := ops[i] % 12
			i++
			c := &normalize.Chunk{ID: "id", Model: "m", Choices: []normalize.ChunkChoice{{}}}
			d := &c.Choices[0].Delta
			var txt string
			switch op {
			case 0:
				d.Role = normalize.RoleAssistant
			case 1:
				txt, i = str(i)
				d.Content = &txt
			case 2:
				txt, i = str(i)
				d.Extra = []normalize.Field{{Name: messages.ReasoningField, Value: []byte(strconv.Quote(txt))}}
			case 3, 4:
				var idx byte
				if i < len(ops) {
					idx = ops[i] % 3
					i++
				}
				txt, i = str(i)
				tc := normalize.ToolCallDelta{Index: int(idx), Arguments: txt}
				if op == 3 {
					tc.ID, tc.Name, tc.Type = "call_"+strconv.Itoa(int(idx)), "f", "function"
				}
				d.ToolCalls = []normalize.ToolCallDelta{tc}
			case 5:
				txt, i = str(i)
				v, _ := json.Marshal([]any{map[string]string{"type": "thinking", "thinking": txt, "signature": "sig"}, map[string]string{"type": "redacted_thinking", "data": txt}})
				if len(txt) > 0 && txt[0]%2 == 1 {
					v = []byte(txt) // not JSON, or not an array
				}
				d.Extra = []normalize.Field{{Name: messages.ThinkingBlocksField, Value: v}}
			case 6:
				c.Choices[0].FinishReason = []string{"stop", "length", "tool_calls", "content_filter"}[i%4]
			case 7:
				c.Choices = nil
				c.Usage = &normalize.Usage{PromptTokens: i, CompletionTokens: 2, TotalTokens: i + 2}
			case 8:
				c = nil
			case 9:
				c.Choices[0].Index = 1
				txt, i = str(i)
				d.Content = &txt
			case 10:
				out = s.Fail(out, 529, "server_error", "overloaded")
				failed = true
				continue
			case 11:
				txt, i = str(i)
				d.Refusal = &txt
			}
			if c != nil {
				asm.Add(c)
			}
			out = s.Chunk(out, c)
		}
		if !failed {
			resp, err := asm.Response()
			if err != nil {
				resp = &normalize.Response{ID: "id"}
			}
			out = s.End(out, resp)
			// Nothing after End.
			if again := s.Chunk(nil, &normalize.Chunk{Choices: []normalize.ChunkChoice{{}}}); len(again) != 0 {
				t.Fatalf("Chunk after End appended %q", again)
			}
		}
		if len(out) == 0 {
			if !failed {
				t.Fatal("End appended nothing")
			}
		}
		evs, err := parseEvents(out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(evs) > 0 && evs[0].name == "error" {
			return // failed before the first chunk
		}
		if _, err := accumulate(evs, false); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}
