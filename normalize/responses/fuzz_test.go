package responses_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/responses"
)

// FuzzDecode: Parse and Decode never panic; decoding twice gives identical
// canonical bytes; a portable request's upstream body decodes back to the
// same canonical form; the echo always renders valid JSON.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/requests/*.json")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"model":"m","input":[{"role":"assistant","content":[{"type":"output_text","text":"a"},{"type":"refusal","refusal":"b"}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}]}`,
		`{"model":"m","input":[{"type":"item_reference","id":"msg_ditto_00112233445566778899aabbccddeeff"},{"id":"fc_ditto_00112233445566778899aabbccddeeff_0"}]}`,
		`{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"n","schema":{"properties":{"b":{},"a":{}}}}},"tools":[{"type":"function","name":"f","parameters":{"type":"object"}},{"type":"custom","name":"g"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := responses.Parse(body)
		if err != nil {
			return
		}
		records := testRecords(t, p.Needs())
		r1, err1 := p.Decode(records)
		r2, err2 := p.Decode(records)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("Decode is not deterministic: %v, %v", err1, err2)
		}
		answer := &normalize.Response{ID: "x", Choices: []normalize.Choice{{Message: normalize.Message{Role: "assistant", Content: []normalize.Part{{Type: "text", Text: "ok"}}}, FinishReason: "stop"}}}
		if out := responses.AppendResponse(nil, answer, p.Echo); !json.Valid(out) {
			t.Fatalf("AppendResponse wrote invalid JSON: %s", out)
		}
		if err1 != nil {
			return
		}
		c1, c2 := normalize.Canonical(r1), normalize.Canonical(r2)
		if !bytes.Equal(c1, c2) {
			t.Fatalf("canonical forms differ:\n%s\n%s", c1, c2)
		}
		portable, err := responses.Portable(r1)
		if err != nil {
			return
		}
		upstream := normalize.AppendOpenAIRequest(nil, portable, "m", r1.Stream)
		again, err := normalize.DecodeOpenAI(upstream)
		if err != nil {
			t.Fatalf("upstream body does not decode: %v\n%s", err, upstream)
		}
		if got, want := normalize.Canonical(again), normalize.Canonical(portable); !bytes.Equal(got, want) {
			t.Fatalf("upstream body is not a fixed point:\n got %s\nwant %s", got, want)
		}
		if rec, err := responses.ParseRecord(responses.NewRecord(r1, answer, p.Echo)); err != nil {
			t.Fatalf("record does not round-trip: %v", err)
		} else if len(rec.Messages) == 0 {
			t.Fatal("empty record")
		}
	})
}

// chunksFrom turns fuzz bytes into a chunk sequence: each byte picks an
// operation, the following bytes feed it.
func chunksFrom(b []byte) []normalize.Chunk {
	var out []normalize.Chunk
	text := func(i int) string { return string(b[i:min(i+3, len(b))]) }
	for i := 0; i < len(b); i++ {
		c := normalize.Chunk{ID: "chatcmpl-f", Created: 1, Model: "m"}
		var d normalize.Delta
		idx := 0
		switch b[i] % 9 {
		case 0:
			s := text(i + 1)
			d.Content = &s
		case 1:
			s := text(i + 1)
			d.Refusal = &s
		case 2:
			d.Extra = []normalize.Field{{Name: "reasoning_content", Value: []byte(strconv.Quote(text(i + 1)))}}
		case 3, 4:
			d.ToolCalls = []normalize.ToolCallDelta{{Index: int(b[i] % 3), ID: "call", Name: "f", Arguments: text(i + 1)}}
		case 5:
			c.Choices = []normalize.ChunkChoice{{FinishReason: "length"}}
			out = append(out, c)
			continue
		case 6:
			c.Usage = &normalize.Usage{PromptTokens: 1, CompletionTokens: 2}
			out = append(out, c)
			continue
		case 7:
			idx = 1
			s := "other choice"
			d.Content = &s
		case 8:
			s := ""
			d.Content = &s
			d.Role = "assistant"
		}
		c.Choices = []normalize.ChunkChoice{{Index: idx, Delta: d}}
		out = append(out, c)
	}
	return out
}

// FuzzStream: arbitrary chunk sequences never panic, every frame is an SSE
// event with a JSON object whose type names it, and sequence numbers count
// from 0 by 1; nothing follows the terminal event.
func FuzzStream(f *testing.F) {
	f.Add([]byte{2, 'a', 'b', 0, 'c', 3, 'x', 4, 'y', 5, 6}, false)
	f.Add([]byte{0, 'h', 1, 'n', 0, 'i', 3, '{', 4, '}', 3, '1'}, true)
	f.Add([]byte{7, 8, 3, 2}, false)
	f.Fuzz(func(t *testing.T, b []byte, fail bool) {
		chunks := chunksFrom(b)
		s := responses.NewStream(nil)
		var out []byte
		var asm normalize.Assembler
		for i := range chunks {
			out = s.Chunk(out, &chunks[i])
			asm.Add(&chunks[i])
		}
		resp, err := asm.Response()
		if err != nil {
			resp = &normalize.Response{ID: "chatcmpl-f"}
		}
		if fail {
			out = s.Fail(out, 502, "server_error", "", "upstream reset")
		} else {
			out = s.End(out, resp)
		}
		if more := s.End(nil, resp); len(more) > 0 {
			t.Fatalf("End after the terminal event appended %q", more)
		}
		if !bytes.HasSuffix(out, []byte("\n\n")) {
			t.Fatalf("stream does not end with a frame: %q", out)
		}
		frames := strings.Split(strings.TrimSuffix(string(out), "\n\n"), "\n\n")
		for i, fr := range frames {
			name, data, ok := strings.Cut(fr, "\ndata: ")
			if !ok || !strings.HasPrefix(name, "event: ") || strings.Contains(data, "\n") {
				t.Fatalf("frame %d malformed: %q", i, fr)
			}
			var v struct {
				Type string
				Seq  *int `json:"sequence_number"`
			}
			if err := json.Unmarshal([]byte(data), &v); err != nil {
				t.Fatalf("frame %d: %v: %s", i, err, data)
			}
			if v.Type != strings.TrimPrefix(name, "event: ") || v.Seq == nil || *v.Seq != i {
				t.Fatalf("frame %d: type %q seq %v", i, v.Type, v.Seq)
			}
		}
		last := frames[len(frames)-1]
		want := "event: response.completed"
		switch {
		case fail:
			want = "event: error"
		case incomplete(chunks, resp):
			want = "event: response.incomplete"
		}
		if !strings.HasPrefix(last, want) {
			t.Fatalf("last frame %q, want %s", last[:min(len(last), 40)], want)
		}
	})
}

// incomplete: the answer's finish reason wins; the stream's own is used
// when the answer has none.
func incomplete(chunks []normalize.Chunk, resp *normalize.Response) bool {
	for _, c := range resp.Choices {
		if c.Index == 0 && c.FinishReason != "" {
			return c.FinishReason == "length"
		}
	}
	for _, c := range chunks {
		for _, cc := range c.Choices {
			if cc.Index == 0 && cc.FinishReason == "length" {
				return true
			}
		}
	}
	return false
}
