package gateway

import (
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/providers/anthropic"
)

// The anthropic-beta header reaches Anthropic as the client sent it
// (names sorted, without repeats), and requests with different betas
// never share an entry: a beta can change the answer. The same betas in
// another order or spelling do share one.
func TestAnthropicBetasAreSentAndKeyed(t *testing.T) {
	answer, err := os.ReadFile("../providers/anthropic/testdata/messages.nonstream.response.json")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string // each call's anthropic-beta header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Anthropic-Beta"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	}))
	t.Cleanup(up.Close)
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Providers["anthropic"] = configs.Provider{Type: "anthropic", BaseURL: up.URL, APIKey: "sk-ant-test"}
		d.Providers["anthropic"] = anthropic.New(anthropic.Options{BaseURL: up.URL, APIKey: "sk-ant-test"})
	})
	body := `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Which betas?"}]}`
	for i, c := range []struct {
		beta, status string
		calls        int
	}{
		{"", "MISS", 1},
		{"output-128k-2025-02-19", "MISS", 2},
		{"context-1m-2025-08-07, output-128k-2025-02-19", "MISS", 3},
		{"output-128k-2025-02-19,context-1m-2025-08-07,output-128k-2025-02-19", "HIT", 3},
		{"context-1m-2025-08-07", "MISS", 4},
		{"", "HIT", 4},
		{"output-128k-2025-02-19", "HIT", 4},
	} {
		var h []string
		if c.beta != "" {
			h = []string{"anthropic-beta", c.beta}
		}
		code, status, b := postTo(t, g.url, "/v1/messages", body, h...)
		if code != 200 || status != c.status {
			t.Fatalf("%d: anthropic-beta %q: %d %s %s, want 200 %s", i, c.beta, code, status, b, c.status)
		}
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n != c.calls {
			t.Fatalf("%d: anthropic-beta %q: %d upstream calls, want %d", i, c.beta, n, c.calls)
		}
	}
	want := []string{"", "output-128k-2025-02-19", "context-1m-2025-08-07,output-128k-2025-02-19", "context-1m-2025-08-07"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d sent anthropic-beta %q, want %q", i, got[i], want[i])
		}
	}
	if code, _, b := postTo(t, g.url, "/v1/messages", body, "anthropic-beta", "bad\xe9name"); code != 400 {
		t.Errorf("a malformed anthropic-beta: %d %s, want 400", code, b)
	}
}
