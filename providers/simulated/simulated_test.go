package simulated

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/providertest"
)

func decode(t *testing.T, body string) *normalize.Request {
	t.Helper()
	r, err := normalize.DecodeOpenAI([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(r *normalize.Response) string {
	c := *r
	c.Created = 0
	return string(normalize.AppendOpenAIResponse(nil, &c))
}

func TestDeterministic(t *testing.T) {
	c := New(Options{})
	a, err := c.Complete(t.Context(), decode(t, `{"model":"sim","messages":[{"role":"user","content":"hi"}],"stop":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	// Same canonical request, spelled differently.
	b, err := c.Complete(t.Context(), decode(t, `{"stop":["x"],"messages":[{"content":[{"type":"text","text":"hi"}],"role":"user"}],"model":"sim","stream":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if render(a) != render(b) {
		t.Errorf("equal requests, different answers:\n%s\n%s", render(a), render(b))
	}
	other, _ := c.Complete(t.Context(), decode(t, `{"model":"sim","messages":[{"role":"user","content":"hello"}]}`))
	if other.Choices[0].Message.Text() == a.Choices[0].Message.Text() {
		t.Error("different requests got the same answer")
	}
	seeded, _ := New(Options{Seed: 7}).Complete(t.Context(), decode(t, `{"model":"sim","messages":[{"role":"user","content":"hi"}],"stop":"x"}`))
	if seeded.Choices[0].Message.Text() == a.Choices[0].Message.Text() {
		t.Error("a different seed gave the same answer")
	}
	if a.Model != "sim" || a.ID == "" || a.Choices[0].FinishReason != "stop" {
		t.Errorf("response head = %q %q %q", a.Model, a.ID, a.Choices[0].FinishReason)
	}
	u := a.Usage
	if u.PromptTokens < 1 || u.CompletionTokens != max(1, len(a.Choices[0].Message.Text())/4) || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("usage = %+v", *u)
	}
}

func TestStreamMatchesComplete(t *testing.T) {
	tests := []struct {
		name   string
		give   string
		chunks int
	}{
		{"text", `{"model":"sim","messages":[{"role":"user","content":"tell me"}]}`, 5},
		{"n=2", `{"model":"sim","n":2,"messages":[{"role":"user","content":"two"}]}`, 3},
		{"length", `{"model":"sim","max_tokens":3,"messages":[{"role":"user","content":"short"}]}`, 8},
		{"tool", `{"model":"sim","messages":[{"role":"user","content":"call"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}`, 8},
		{"named tool", `{"model":"sim","messages":[{"role":"user","content":"call"}],"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}`, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{ChunkCount: tt.chunks})
			req := decode(t, tt.give)
			want, err := c.Complete(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Stream(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			chunks, err := providertest.Collect(t, st)
			if err != nil {
				t.Fatal(err)
			}
			var a normalize.Assembler
			content := 0
			for i := range chunks {
				a.Add(&chunks[i])
				for _, cc := range chunks[i].Choices {
					if cc.Delta.Content != nil && cc.Index == 0 {
						content++
					}
				}
			}
			got, err := a.Response()
			if err != nil {
				t.Fatal(err)
			}
			if render(got) != render(want) {
				t.Errorf("streamed %s\ncomplete %s", render(got), render(want))
			}
			if last := chunks[len(chunks)-1]; len(last.Choices) != 0 || last.Usage == nil {
				t.Error("stream does not end with a usage-only chunk")
			}
			if len(want.Choices[0].Message.ToolCalls) == 0 {
				words := len(strings.Fields(want.Choices[0].Message.Text()))
				if wantChunks := min(tt.chunks, words); content != wantChunks {
					t.Errorf("%d content chunks, want %d", content, wantChunks)
				}
			}
		})
	}
}

func TestMaxTokens(t *testing.T) {
	r, err := New(Options{}).Complete(t.Context(), decode(t, `{"model":"sim","max_tokens":2,"messages":[{"role":"user","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Choices[0].FinishReason != "length" || r.Usage.CompletionTokens > 2 {
		t.Errorf("finish %q, completion tokens %d; want length and at most 2", r.Choices[0].FinishReason, r.Usage.CompletionTokens)
	}
}

func TestCancel(t *testing.T) {
	req := decode(t, `{"model":"sim","messages":[{"role":"user","content":"x"}]}`)
	slow := New(Options{Latency: time.Hour})

	ctx, cancel := context.WithCancel(t.Context())
	go cancel()
	if _, err := slow.Complete(ctx, req); !errors.Is(err, context.Canceled) {
		t.Errorf("Complete after cancel = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	go cancel()
	if _, err := slow.Stream(ctx, req); !errors.Is(err, context.Canceled) {
		t.Errorf("Stream after cancel = %v, want context.Canceled", err)
	}

	// Mid-stream: the first chunk comes at once, the next after an hour.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	st, err := New(Options{ChunkDelay: time.Hour}).Stream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	go cancel()
	if _, err := st.Recv(); !errors.Is(err, context.Canceled) {
		t.Errorf("Recv after cancel = %v, want context.Canceled", err)
	}
	if _, err := st.Recv(); err == nil || err == io.EOF {
		t.Errorf("Recv after an error = %v, want the error again", err)
	}
}

func TestJitterDeterministic(t *testing.T) {
	c := New(Options{Latency: time.Millisecond, Jitter: time.Second})
	req := decode(t, `{"model":"sim","messages":[{"role":"user","content":"x"}]}`)
	a, b := c.answer(req), c.answer(req)
	if a.latency != b.latency || a.latency < time.Millisecond || a.latency >= time.Millisecond+time.Second {
		t.Errorf("latencies %v and %v, want equal and within [1ms, 1.001s)", a.latency, b.latency)
	}
}

func TestSplit(t *testing.T) {
	for _, s := range []string{"", "one", "one two", "a b c d e f g h i j"} {
		for n := 1; n <= 12; n++ {
			parts := split(s, n)
			if strings.Join(parts, "") != s || len(parts) > n || len(parts) == 0 {
				t.Errorf("split(%q, %d) = %q", s, n, parts)
			}
		}
	}
}

func BenchmarkComplete(b *testing.B) {
	c := New(Options{})
	req := &normalize.Request{Model: "sim", Messages: []normalize.Message{{Role: "user", Content: []normalize.Part{{Type: "text", Text: "benchmark"}}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Complete(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
