package workload

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrompts(t *testing.T) {
	ps, err := Prompts()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for i, p := range ps {
		if strings.TrimSpace(p.Text) == "" {
			t.Errorf("prompt %d (%s) is empty", i, p.Source)
		}
		count[p.Source]++
	}
	want := map[string]int{"gsm8k": 150, "mt_bench": 80, "awesome-chatgpt-prompts": 100}
	if diff := cmp.Diff(want, count); diff != "" {
		t.Errorf("prompts per source (-want +got):\n%s", diff)
	}
}

func TestZipfDeterministic(t *testing.T) {
	draw := func(seed int64) []int {
		z := NewZipf(seed, 1.1, 330)
		out := make([]int, 2000)
		for i := range out {
			out[i] = z.Next()
		}
		return out
	}
	a, b := draw(42), draw(42)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different sequences:\n%s", diff)
	}
	if cmp.Equal(a, draw(43)) {
		t.Error("different seeds gave the same sequence")
	}
	freq := map[int]int{}
	for _, i := range a {
		if i < 0 || i >= 330 {
			t.Fatalf("index %d out of range", i)
		}
		freq[i]++
	}
	top := 0
	for _, n := range freq {
		top = max(top, n)
	}
	// With s = 1.1 over 330 items the top rank has P ≈ 0.2; uniform would give ≈ 6 of 2000.
	if top < 200 {
		t.Errorf("most frequent index drawn %d times of 2000, want a heavy head (≥200)", top)
	}
}

// logical decodes a body and undoes every spelling difference, giving what
// the request means.
type logicalReq struct {
	Model, Prompt string
	Stop          []string
	Stream        bool
	IncludeUsage  bool
}

func decodeLogical(t *testing.T, body []byte) logicalReq {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("invalid JSON %s: %v", body, err)
	}
	var out logicalReq
	defaults := map[string]string{"temperature": "1", "top_p": "1", "n": "1", "presence_penalty": "0", "frequency_penalty": "0", "stream": "false"}
	for k, v := range raw {
		switch k {
		case "model":
			json.Unmarshal(v, &out.Model)
		case "messages":
			var msgs []struct {
				Role    string
				Content json.RawMessage
			}
			if err := json.Unmarshal(v, &msgs); err != nil || len(msgs) != 1 || msgs[0].Role != "user" {
				t.Fatalf("messages = %s", v)
			}
			if err := json.Unmarshal(msgs[0].Content, &out.Prompt); err != nil {
				var parts []struct{ Type, Text string }
				if err := json.Unmarshal(msgs[0].Content, &parts); err != nil || len(parts) != 1 || parts[0].Type != "text" {
					t.Fatalf("content = %s", msgs[0].Content)
				}
				out.Prompt = parts[0].Text
			}
		case "stop":
			var s string
			if json.Unmarshal(v, &s) == nil {
				out.Stop = []string{s}
			} else if err := json.Unmarshal(v, &out.Stop); err != nil {
				t.Fatalf("stop = %s", v)
			}
		case "stream":
			json.Unmarshal(v, &out.Stream)
		case "stream_options":
			var o struct {
				IncludeUsage bool `json:"include_usage"`
			}
			json.Unmarshal(v, &o)
			out.IncludeUsage = o.IncludeUsage
		default:
			if d, ok := defaults[k]; !ok || string(v) != d {
				t.Errorf("unexpected field %s=%s", k, v)
			}
		}
	}
	return out
}

func TestSpellingsSameLogicalRequest(t *testing.T) {
	ps, err := Prompts()
	if err != nil {
		t.Fatal(err)
	}
	extra := []string{"emoji 😀 <b>&</b>\u2028 \"quoted\"\t\\ \x01", "ascii only"}
	var texts []string
	for _, p := range ps {
		texts = append(texts, p.Text)
	}
	texts = append(texts, extra...)
	for _, text := range texts {
		for _, c := range []Chat{
			{Model: "gpt-4o-mini", Prompt: text, Stop: "###"},
			{Model: "gpt-4o-mini", Prompt: text},
			{Model: "gpt-4o", Prompt: text, Stop: "\n\n", Stream: true, IncludeUsage: true},
		} {
			want := logicalReq{Model: c.Model, Prompt: c.Prompt, Stream: c.Stream, IncludeUsage: c.IncludeUsage}
			if c.Stop != "" {
				want.Stop = []string{c.Stop}
			}
			seen := map[string]string{}
			for _, s := range Spellings {
				body := s.Encode(c)
				got := decodeLogical(t, body)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("%s spelling of %.40q (-want +got):\n%s", s.Name, text, diff)
				}
				if other, dup := seen[string(body)]; dup {
					t.Errorf("%s and %s spell %.40q with the same bytes", other, s.Name, text)
				}
				seen[string(body)] = s.Name
			}
		}
	}
}

func TestUnique(t *testing.T) {
	next := Unique(Chat{Model: "gpt-4o-mini", Prompt: "Say hi"}, "run1")
	seen := map[string]bool{}
	for i := range int64(100) {
		b := next(i)
		got := decodeLogical(t, b)
		if want := fmt.Sprintf("Say hi #run1-%d", i); got.Prompt != want {
			t.Fatalf("prompt = %q, want %q", got.Prompt, want)
		}
		if seen[string(b)] {
			t.Fatalf("body %s repeated", b)
		}
		seen[string(b)] = true
	}
}

func TestMixDeterministicAndIdealHits(t *testing.T) {
	ps, err := Prompts()
	if err != nil {
		t.Fatal(err)
	}
	cfg := MixConfig{Seed: 7, S: 1.1, Requests: 3000, Model: "gpt-4o-mini", Stop: "###"}
	a, b := Mix(ps, cfg), Mix(ps, cfg)
	for i := range a {
		if string(a[i].Body) != string(b[i].Body) {
			t.Fatalf("request %d differs between two runs with one seed", i)
		}
	}
	logical, exact := IdealHits(a)
	if logical <= exact || exact <= 0 || logical >= len(a) {
		t.Errorf("IdealHits = %d logical, %d exact of %d; want 0 < exact < logical < n", logical, exact, len(a))
	}
	spellings := map[int]bool{}
	for _, it := range a {
		spellings[it.Spelling] = true
	}
	if len(spellings) != len(Spellings) {
		t.Errorf("mix used %d spellings, want all %d", len(spellings), len(Spellings))
	}
}

func TestPriceCost(t *testing.T) {
	p := Prices["gpt-4o-mini"]
	if got, want := p.Cost(1_000_000, 1_000_000), 0.75; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("Cost(1M, 1M) = %v, want %v", got, want)
	}
}
