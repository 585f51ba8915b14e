package normalize_test

import (
	"testing"

	"github.com/dittocache/ditto/normalize"
)

// A streamed legacy completion carries one logprobs piece per chunk; the
// assembled answer has them joined, as the non-streamed answer has them.
func TestAssembleLegacyLogprobs(t *testing.T) {
	pieces := []string{
		`{"tokens":["I"],"token_logprobs":[-0.5],"top_logprobs":[{"I":-0.5,"As":-3.3}],"text_offset":[38]}`,
		`{"tokens":[" am"],"token_logprobs":[-0.8],"top_logprobs":[{" am":-0.8}],"text_offset":[39]}`,
		`{"tokens":[],"token_logprobs":[],"top_logprobs":[],"text_offset":[]}`,
	}
	var a normalize.Assembler
	for i, p := range pieces {
		c := &normalize.Chunk{ID: "cmpl-1", Choices: []normalize.ChunkChoice{{Logprobs: []byte(p)}}}
		if i == len(pieces)-1 {
			c.Choices[0].FinishReason = "length"
		}
		a.Add(c)
	}
	r, err := a.Response()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"tokens":["I"," am"],"token_logprobs":[-0.5,-0.8],"top_logprobs":[{"I":-0.5,"As":-3.3},{" am":-0.8}],"text_offset":[38,39]}`
	if got := string(r.Choices[0].Logprobs); got != want {
		t.Errorf("assembled logprobs = %s, want %s", got, want)
	}
}
