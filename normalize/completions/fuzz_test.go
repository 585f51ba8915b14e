package completions_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/completions"
)

// FuzzDecode checks Decode's invariants on arbitrary bodies: no panic;
// failures are *normalize.Error wrapping ErrInvalid; decoding is
// deterministic; the canonical form is valid JSON, in the completions
// dialect; Portable either fails with a *normalize.Error or gives a
// portable request without modifying the original.
func FuzzDecode(f *testing.F) {
	names, bodies := files(f, "requests", ".json")
	for _, n := range names {
		f.Add(bodies[n])
	}
	f.Add([]byte(`{"model":"m","prompt":[[1],[2,3]],"best_of":2,"n":2,"max_tokens":16}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := completions.Decode(body)
		if err != nil {
			var e *normalize.Error
			if !errors.As(err, &e) || !errors.Is(err, normalize.ErrInvalid) {
				t.Fatalf("Decode error %v is not a *normalize.Error", err)
			}
			return
		}
		c := normalize.Canonical(r)
		if !json.Valid(c) || r.Dialect != completions.Dialect {
			t.Fatalf("Canonical = %s, dialect %q", c, r.Dialect)
		}
		again, err := completions.Decode(body)
		if err != nil || !bytes.Equal(normalize.Canonical(again), c) {
			t.Fatalf("Decode is not deterministic: %v", err)
		}
		p, err := completions.Portable(r)
		if err != nil {
			var e *normalize.Error
			if !errors.As(err, &e) {
				t.Fatalf("Portable error %v is not a *normalize.Error", err)
			}
		} else if p.Dialect != "" || len(p.Messages) != 1 || p.Params.MaxTokens == nil {
			t.Fatalf("Portable = %s", normalize.Canonical(p))
		}
		if !bytes.Equal(normalize.Canonical(r), c) {
			t.Fatal("Portable modified the request")
		}
	})
}

// FuzzStream feeds a Stream arbitrary chunk sequences: the frames must
// always be well formed and end with [DONE] (or an error event).
func FuzzStream(f *testing.F) {
	f.Add([]byte("a\x01bc\x02\x03"), true)
	f.Add([]byte("\x00\x04x\x05"), false)
	f.Fuzz(func(t *testing.T, ops []byte, usage bool) {
		s := completions.NewStream("m", usage)
		var out []byte
		failed := false
		for i, op := range ops {
			c := &normalize.Chunk{ID: "cmpl-1", Choices: []normalize.ChunkChoice{{Index: int(op % 3)}}}
			txt := string(ops[i:min(i+int(op%5), len(ops))])
			switch op % 7 {
			case 0:
				c.Choices[0].Delta.Role = "assistant"
			case 1:
				c.Choices[0].Delta.Content = &txt
			case 2:
				c.Choices[0].FinishReason = "stop"
			case 3:
				c.Choices, c.Usage = nil, &normalize.Usage{PromptTokens: i}
			case 4:
				c.Choices[0].Logprobs = []byte(`{"tokens":["x"],"token_logprobs":[-1],"top_logprobs":[null],"text_offset":[0]}`)
			case 5:
				c = nil
			case 6:
				if op%2 == 0 {
					out = s.Fail(out, 502, "", txt)
					failed = true
				}
			}
			if failed {
				break
			}
			out = s.Chunk(out, c)
		}
		if !failed {
			out = s.End(out, &normalize.Response{ID: "cmpl-1", Usage: &normalize.Usage{TotalTokens: 1}})
		}
		frames := strings.Split(string(out), "\n\n")
		if frames[len(frames)-1] != "" {
			t.Fatalf("unterminated frame in %q", out)
		}
		frames = frames[:len(frames)-1]
		for i, fr := range frames {
			data, ok := strings.CutPrefix(fr, "data: ")
			if !ok {
				t.Fatalf("frame %q", fr)
			}
			if i == len(frames)-1 && (data == "[DONE]" || failed) {
				if failed && !strings.HasPrefix(data, `{"error":`) {
					t.Fatalf("last frame %q, want an error", fr)
				}
				continue
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(data), &v); err != nil || v["object"] != "text_completion" {
				t.Fatalf("frame %q: %v", fr, err)
			}
		}
	})
}
