package upstream

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *Usage `json:"usage"`
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readSSE parses an event stream strictly: every event is one "data: " line
// followed by a blank line, and the last is [DONE].
func readSSE(t *testing.T, r io.Reader) []chunk {
	t.Helper()
	var out []chunk
	sc := bufio.NewScanner(r)
	done := false
	for sc.Scan() {
		line := sc.Text()
		if done {
			t.Fatalf("data after [DONE]: %q", line)
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not a data line", line)
		}
		if !sc.Scan() || sc.Text() != "" {
			t.Fatalf("event %q not followed by a blank line", line)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var c chunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		out = append(out, c)
	}
	if !done {
		t.Fatal("stream did not end with data: [DONE]")
	}
	return out
}

func TestStreamWellFormed(t *testing.T) {
	tests := []struct {
		name         string
		includeUsage bool
	}{
		{"without usage", false},
		{"with include_usage", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(New(Config{Tokens: 5}))
			defer srv.Close()
			body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true}`
			if tt.includeUsage {
				body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`
			}
			resp := post(t, srv.URL, body)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Fatalf("Content-Type = %q, want text/event-stream", ct)
			}
			chunks := readSSE(t, resp.Body)
			wantN := 1 + 5 + 1 // role, content, finish
			if tt.includeUsage {
				wantN++
			}
			if len(chunks) != wantN {
				t.Fatalf("got %d chunks, want %d", len(chunks), wantN)
			}
			var text strings.Builder
			for i, c := range chunks {
				if c.Object != "chat.completion.chunk" || c.Model != "gpt-4o-mini" || c.ID != chunks[0].ID {
					t.Errorf("chunk %d header = %+v", i, c)
				}
				if len(c.Choices) == 1 && c.Choices[0].Delta.Content != nil {
					text.WriteString(*c.Choices[0].Delta.Content)
				}
			}
			if r := chunks[0].Choices[0].Delta.Role; r == nil || *r != "assistant" {
				t.Errorf("first chunk role = %v, want assistant", r)
			}
			stop := chunks[6].Choices[0].FinishReason
			if stop == nil || *stop != "stop" {
				t.Errorf("finish chunk finish_reason = %v, want stop", stop)
			}
			if got := len(strings.Fields(text.String())); got != 5 {
				t.Errorf("streamed %d words, want 5", got)
			}
			last := chunks[len(chunks)-1]
			if tt.includeUsage {
				if len(last.Choices) != 0 || last.Usage == nil || last.Usage.CompletionTokens != 5 ||
					last.Usage.TotalTokens != last.Usage.PromptTokens+5 {
					t.Errorf("usage chunk = %+v", last)
				}
			} else if last.Usage != nil {
				t.Errorf("usage sent without include_usage: %+v", last.Usage)
			}
		})
	}
}

func TestCompletionAndStats(t *testing.T) {
	up := New(Config{Tokens: 7})
	srv := httptest.NewServer(up)
	defer srv.Close()
	body := `{"messages":[{"role":"user","content":"What is 2+2?"}],"model":"gpt-4o"}`
	var answers [2]string
	for i := range answers {
		resp := post(t, srv.URL, body)
		var c struct {
			Object  string `json:"object"`
			Model   string `json:"model"`
			Choices []struct {
				Message      struct{ Role, Content string }
				FinishReason string `json:"finish_reason"`
			} `json:"choices"`
			Usage Usage `json:"usage"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			t.Fatal(err)
		}
		if c.Object != "chat.completion" || c.Model != "gpt-4o" || len(c.Choices) != 1 ||
			c.Choices[0].Message.Role != "assistant" || c.Choices[0].FinishReason != "stop" || c.Usage.CompletionTokens != 7 {
			t.Fatalf("completion = %+v", c)
		}
		answers[i] = c.Choices[0].Message.Content
	}
	if answers[0] != answers[1] {
		t.Errorf("same request, different answers: %q, %q", answers[0], answers[1])
	}
	post(t, srv.URL, `{"model":`) // malformed
	got := up.Stats()
	if got.Requests != 2 || got.BadRequests != 1 || got.CompletionTokens != 14 || got.Streams != 0 {
		t.Errorf("Stats() = %+v", got)
	}
	up.Reset()
	if got := up.Stats(); got != (Stats{}) {
		t.Errorf("Stats() after Reset = %+v, want zero", got)
	}
}

func TestLatencySample(t *testing.T) {
	tests := []struct {
		give     Latency
		min, max time.Duration
	}{
		{Latency{}, 0, 0},
		{Latency{Base: 20 * time.Millisecond}, 20 * time.Millisecond, 20 * time.Millisecond},
		{Latency{Base: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, Dist: Uniform}, 5 * time.Millisecond, 15 * time.Millisecond},
		{Latency{Base: time.Millisecond, Jitter: 10 * time.Millisecond, Dist: Normal}, 0, time.Hour},
	}
	for _, tt := range tests {
		for range 1000 {
			if d := tt.give.Sample(); d < tt.min || d > tt.max {
				t.Fatalf("%v.Sample() = %v, want in [%v, %v]", tt.give, d, tt.min, tt.max)
			}
		}
	}
}
