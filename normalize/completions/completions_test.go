package completions_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/completions"
)

var update = flag.Bool("update", false, "rewrite testdata/canonical/*.golden and testdata/rendered/*")

func decode(t testing.TB, body string) *normalize.Request {
	t.Helper()
	r, err := completions.Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode(%s) = %v", body, err)
	}
	return r
}

func TestDecode(t *testing.T) {
	tests := []struct {
		give string
		want string // canonical form
	}{{
		give: `{"model":"m","prompt":"Once upon"}`,
		want: `{"messages":[{"role":"user","content":"Once upon"}],"dialect":"completions","dialect_fields":{"prompt":"Once upon"}}`,
	}, {
		give: `{"model":"m","prompt":["a","b"],"echo":true,"logprobs":0,"best_of":4,"n":2,"suffix":"z","max_tokens":0}`,
		want: `{"messages":[],"max_tokens":0,"n":2,"dialect":"completions","dialect_fields":{"best_of":4,"echo":true,"logprobs":0,"prompt":["a","b"],"suffix":"z"}}`,
	}, {
		give: `{"model":"m","prompt":[1,2.0,3e0]}`,
		want: `{"messages":[],"dialect":"completions","dialect_fields":{"prompt":[1,2,3]}}`,
	}, {
		give: `{"model":"m","prompt":[[1,2],[3]],"top_k":5,"stop":"\n","temperature":0.5}`,
		want: `{"messages":[],"stop":["\n"],"temperature":0.5,"extra":{"top_k":5},"dialect":"completions","dialect_fields":{"prompt":[[1,2],[3]]}}`,
	}}
	for _, tt := range tests {
		if got := string(normalize.Canonical(decode(t, tt.give))); got != tt.want {
			t.Errorf("Canonical(Decode(%s)) =\n%s\nwant\n%s", tt.give, got, tt.want)
		}
	}
}

// TestEquivalence lists spellings that share a key, and requests that must
// not.
func TestEquivalence(t *testing.T) {
	const base = `{"model":"m","prompt":"Hello"}`
	same := []string{
		`{"model":"m","prompt":["Hello"]}`,
		`{"model":"m","prompt":"Hello","max_tokens":16}`,
		`{"model":"m","prompt":"Hello","echo":false,"best_of":1,"logprobs":null,"suffix":null,"temperature":1,"top_p":1,"n":1}`,
		`{"model":"other-alias","prompt":"Hello","stream":true,"stream_options":{"include_usage":true},"user":"u"}`,
		`{"prompt":"Hel\u006co","model":"m","presence_penalty":0,"frequency_penalty":0.0}`,
	}
	want := string(normalize.Canonical(decode(t, base)))
	for _, s := range same {
		if got := string(normalize.Canonical(decode(t, s))); got != want {
			t.Errorf("Canonical(%s) =\n%s\nwant (as %s)\n%s", s, got, base, want)
		}
	}
	if a, b := normalize.Canonical(decode(t, `{"model":"m","prompt":[[7,8]]}`)), normalize.Canonical(decode(t, `{"model":"m","prompt":[7,8]}`)); !bytes.Equal(a, b) {
		t.Errorf("a batch of one token array %s differs from the array %s", a, b)
	}
	differ := map[string]string{
		"echo":         `{"model":"m","prompt":"Hello","echo":true}`,
		"suffix":       `{"model":"m","prompt":"Hello","suffix":""}`,
		"logprobs 0":   `{"model":"m","prompt":"Hello","logprobs":0}`,
		"logprobs 1":   `{"model":"m","prompt":"Hello","logprobs":1}`,
		"best_of":      `{"model":"m","prompt":"Hello","best_of":2}`,
		"max_tokens 0": `{"model":"m","prompt":"Hello","max_tokens":0}`,
		"max_tokens":   `{"model":"m","prompt":"Hello","max_tokens":17}`,
		"batch":        `{"model":"m","prompt":["Hello","Hello"]}`,
		"tokens":       `{"model":"m","prompt":[15496]}`,
		"trailing":     `{"model":"m","prompt":"Hello "}`,
		"top_k":        `{"model":"m","prompt":"Hello","top_k":1}`,
	}
	seen := map[string]string{want: "base"}
	for name, body := range differ {
		c := string(normalize.Canonical(decode(t, body)))
		if prev, dup := seen[c]; dup {
			t.Errorf("%s and %s share the canonical form %s", name, prev, c)
		}
		seen[c] = name
	}
	// A raw prompt is not a chat turn.
	chat, err := normalize.DecodeOpenAI([]byte(`{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"Hello"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := string(normalize.Canonical(chat)); seen[c] != "" {
		t.Errorf("a chat request shares the canonical form of completions %s: %s", seen[c], c)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct{ give, param string }{
		{`{"prompt":"x"}`, "model"},
		{`{"model":"m"}`, "prompt"},
		{`{"model":"m","prompt":null}`, "prompt"},
		{`{"model":"m","prompt":[]}`, "prompt"},
		{`{"model":"m","prompt":[[]]}`, "prompt.0"},
		{`{"model":"m","prompt":["a",1]}`, "prompt.1"},
		{`{"model":"m","prompt":[1,"a"]}`, "prompt.1"},
		{`{"model":"m","prompt":[1,-2]}`, "prompt.1"},
		{`{"model":"m","prompt":[1.5]}`, "prompt.0"},
		{`{"model":"m","prompt":[[1],2]}`, "prompt.1"},
		{`{"model":"m","prompt":{"text":"x"}}`, "prompt"},
		{`{"model":"m","prompt":"x","echo":"yes"}`, "echo"},
		{`{"model":"m","prompt":"x","suffix":3}`, "suffix"},
		{`{"model":"m","prompt":"x","logprobs":6}`, "logprobs"},
		{`{"model":"m","prompt":"x","logprobs":true}`, "logprobs"},
		{`{"model":"m","prompt":"x","best_of":21}`, "best_of"},
		{`{"model":"m","prompt":"x","best_of":0}`, "best_of"},
		{`{"model":"m","prompt":"x","best_of":2,"n":3}`, "best_of"},
		{`{"model":"m","prompt":"x","max_tokens":-1}`, "max_tokens"},
		{`{"model":"m","prompt":"x","n":0}`, "n"},
		{`{"model":"m","prompt":"x","temperature":"hot"}`, "temperature"},
		{`{"model":"m","prompt":"x","stop":["a","b","c","d","e"]}`, "stop"},
		{`{"model":"m","prompt":"x","messages":[]}`, "messages"},
		{`{"model":"m","prompt":"x","tools":[]}`, "tools"},
		{`{"model":"m","prompt":"x","prompt":"y"}`, "prompt"},
		{`{"model":"m","prompt":"x","x":{"a":1,"a":1}}`, "x"},
		{`{"model":"m","prompt":"\q"}`, ""},
		{`[]`, ""},
	}
	for _, tt := range tests {
		_, err := completions.Decode([]byte(tt.give))
		var e *normalize.Error
		if !errors.As(err, &e) || !errors.Is(err, normalize.ErrInvalid) {
			t.Errorf("Decode(%s) = %v, want a *normalize.Error", tt.give, err)
			continue
		}
		if e.Param != tt.param {
			t.Errorf("Decode(%s) = %v; param %q, want %q", tt.give, err, e.Param, tt.param)
		}
	}
}

func TestPortable(t *testing.T) {
	r := decode(t, `{"model":"claude-haiku-4-5","prompt":"The capital of France is","temperature":0,"stop":["."]}`)
	before := string(normalize.Canonical(r))
	p, err := completions.Portable(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(normalize.Canonical(r)); got != before {
		t.Errorf("Portable modified its argument: %s, was %s", got, before)
	}
	want := `{"messages":[{"role":"user","content":"The capital of France is"}],"max_tokens":16,"stop":["."],"temperature":0}`
	if got := string(normalize.Canonical(p)); got != want || p.Dialect != "" || p.Model != "claude-haiku-4-5" {
		t.Errorf("Portable = %s (dialect %q, model %q), want %s", got, p.Dialect, p.Model, want)
	}
	if p2, err := completions.Portable(p); err != nil || p2 != p {
		t.Errorf("Portable(portable) = %p, %v; want the same request", p2, err)
	}
	for give, param := range map[string]string{
		`{"model":"m","prompt":["a","b"]}`:          "prompt",
		`{"model":"m","prompt":[1,2]}`:              "prompt",
		`{"model":"m","prompt":"a","echo":true}`:    "echo",
		`{"model":"m","prompt":"a","suffix":"b"}`:   "suffix",
		`{"model":"m","prompt":"a","best_of":2}`:    "best_of",
		`{"model":"m","prompt":"a","logprobs":0}`:   "logprobs",
		`{"model":"m","prompt":"a","max_tokens":5}`: "",
	} {
		_, err := completions.Portable(decode(t, give))
		var e *normalize.Error
		switch {
		case param == "" && err != nil:
			t.Errorf("Portable(%s) = %v", give, err)
		case param != "" && (!errors.As(err, &e) || e.Param != param):
			t.Errorf("Portable(%s) = %v, want an error naming %s", give, err, param)
		}
	}
	other := *r
	other.Dialect = "responses"
	if _, err := completions.Portable(&other); err == nil {
		t.Error("Portable accepted a responses request")
	}
}

// files returns testdata/dir/*ext by name without the extension.
func files(t testing.TB, dir, ext string) (names []string, data map[string][]byte) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no testdata/%s/*%s: %v", dir, ext, err)
	}
	data = map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n := strings.TrimSuffix(filepath.Base(p), ext)
		names = append(names, n)
		data[n] = b
	}
	return names, data
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	path = filepath.Join("testdata", path)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant\n%s", path, got, want)
	}
}

// TestDecodeGolden pins the canonical form of the request corpus and
// checks decoding is deterministic.
func TestDecodeGolden(t *testing.T) {
	names, bodies := files(t, "requests", ".json")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			r := decode(t, string(bodies[name]))
			c := normalize.Canonical(r)
			golden(t, filepath.Join("canonical", name+".golden"), append(c, '\n'))
			if again := normalize.Canonical(decode(t, string(bodies[name]))); !bytes.Equal(again, c) {
				t.Errorf("second decode = %s", again)
			}
		})
	}
}

// TestRenderGolden renders the stored answers as text_completion objects
// and replayed streams (with and without usage), and checks that the
// stream's text and finish reasons add up to the object's.
func TestRenderGolden(t *testing.T) {
	names, bodies := files(t, "answers", ".json")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			resp, err := normalize.ParseOpenAIResponse(bodies[name])
			if err != nil {
				t.Fatal(err)
			}
			body := completions.AppendResponse(nil, resp, "client-model")
			golden(t, filepath.Join("rendered", name+".json"), append(body, '\n'))
			var obj textCompletion
			if err := json.Unmarshal(body, &obj); err != nil {
				t.Fatalf("AppendResponse is not JSON: %v\n%s", err, body)
			}
			for _, usage := range []bool{true, false} {
				s := completions.NewStream("client-model", usage)
				var sse []byte
				for _, c := range normalize.Replay(resp, usage) {
					sse = s.Chunk(sse, &c)
				}
				sse = s.End(sse, resp)
				if usage {
					golden(t, filepath.Join("rendered", name+".sse"), sse)
				}
				got := accumulate(t, sse, usage)
				for i := range obj.Choices {
					obj.Choices[i].Logprobs = nil // pieces are checked by the adapter's tests
				}
				if !usage {
					obj.Usage = nil
				}
				if g, w := mustJSON(got), mustJSON(obj); g != w {
					t.Errorf("accumulated stream (usage %v) =\n%s\nwant\n%s", usage, g, w)
				}
			}
		})
	}
}

type textCompletion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Text         string          `json:"text"`
		Index        int             `json:"index"`
		Logprobs     json.RawMessage `json:"logprobs,omitempty"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage *normalize.Usage `json:"usage,omitempty"`
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// accumulate checks the frames of a rendered stream (each "data: JSON\n\n",
// text_completion chunks, then [DONE]) and joins them as a client does.
func accumulate(t *testing.T, sse []byte, wantUsage bool) textCompletion {
	t.Helper()
	var out textCompletion
	frames := strings.Split(string(sse), "\n\n")
	if len(frames) < 2 || frames[len(frames)-1] != "" || frames[len(frames)-2] != "data: [DONE]" {
		t.Fatalf("stream does not end with data: [DONE]:\n%s", sse)
	}
	sawUsage := false
	for _, f := range frames[:len(frames)-2] {
		data, ok := strings.CutPrefix(f, "data: ")
		if !ok || strings.Contains(data, "\n") {
			t.Fatalf("malformed frame %q", f)
		}
		var c textCompletion
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("frame %q: %v", f, err)
		}
		if c.Object != "text_completion" || (out.ID != "" && c.ID != out.ID) {
			t.Fatalf("frame %q: object %q id %q (first id %q)", f, c.Object, c.ID, out.ID)
		}
		out.ID, out.Object, out.Model = c.ID, c.Object, c.Model
		if c.Usage != nil {
			if len(c.Choices) != 0 || sawUsage {
				t.Fatalf("usage frame %q", f)
			}
			sawUsage = true
			out.Usage = c.Usage
		}
		for _, cc := range c.Choices {
			for len(out.Choices) <= cc.Index {
				out.Choices = append(out.Choices, cc)
				out.Choices[len(out.Choices)-1].Text, out.Choices[len(out.Choices)-1].FinishReason = "", nil
				out.Choices[len(out.Choices)-1].Index = len(out.Choices) - 1
			}
			o := &out.Choices[cc.Index]
			o.Text += cc.Text
			if cc.FinishReason != nil {
				o.FinishReason = cc.FinishReason
			}
		}
	}
	if sawUsage != wantUsage {
		t.Errorf("usage frame sent %v, want %v", sawUsage, wantUsage)
	}
	for i := range out.Choices {
		out.Choices[i].Logprobs = nil
	}
	return out
}
