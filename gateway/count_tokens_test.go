package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/providers/anthropic"
)

// POST /v1/messages/count_tokens (Claude Code calls it every turn) goes to
// Anthropic with the route's upstream model and the client's betas, and
// its count is cached: the same body again is a HIT with no call. Other
// betas are another count. Anthropic's errors pass through in its shape
// and are not cached; a model served by another provider is a 404, on
// which Claude Code counts locally.
func TestCountTokens(t *testing.T) {
	var mu sync.Mutex
	type call struct{ path, model, beta, key string }
	var calls []call
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Model    string            `json:"model"`
			Messages []json.RawMessage `json:"messages"`
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		mu.Lock()
		calls = append(calls, call{r.URL.Path, body.Model, r.Header.Get("Anthropic-Beta"), r.Header.Get("X-Api-Key")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(string(b), "make it fail") {
			w.WriteHeader(400)
			io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"messages.0.content: Input should be a valid list"},"request_id":"req_011"}`)
			return
		}
		io.WriteString(w, `{"input_tokens":`+strings.Repeat("1", len(body.Messages))+`4}`)
	}))
	t.Cleanup(up.Close)
	seen := func() []call { mu.Lock(); defer mu.Unlock(); return append([]call(nil), calls...) }
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Providers["anthropic"] = configs.Provider{Type: "anthropic", BaseURL: up.URL, APIKey: "sk-ant-test"}
		c.Routes = append(c.Routes, configs.Route{Model: "claude-fast", Provider: "anthropic", UpstreamModel: "claude-haiku-4-5"})
		d.Providers["anthropic"] = anthropic.New(anthropic.Options{BaseURL: up.URL, APIKey: "sk-ant-test"})
	})
	body := `{"model":"claude-fast","system":[{"type":"text","text":"You are Claude Code."}],"messages":[{"role":"user","content":"How many tokens?"}],"tools":[]}`
	const path = "/v1/messages/count_tokens"
	for i, c := range []struct {
		body, beta, status, answer string
		calls                      int
	}{
		{body, "", "MISS", `{"input_tokens":14}`, 1},
		{body, "", "HIT", `{"input_tokens":14}`, 1},
		{body, "context-1m-2025-08-07", "MISS", `{"input_tokens":14}`, 2},
		{body, "context-1m-2025-08-07", "HIT", `{"input_tokens":14}`, 2},
	} {
		var h []string
		if c.beta != "" {
			h = []string{"anthropic-beta", c.beta}
		}
		code, status, b := postTo(t, g.url, path, c.body, h...)
		if code != 200 || status != c.status || string(b) != c.answer {
			t.Fatalf("%d: %d %s %s, want 200 %s %s", i, code, status, b, c.status, c.answer)
		}
		if n := len(seen()); n != c.calls {
			t.Fatalf("%d: %d upstream calls, want %d", i, n, c.calls)
		}
	}
	got := seen()
	if c := got[0]; c.path != "/v1/messages/count_tokens" || c.model != "claude-haiku-4-5" || c.beta != "" || c.key != "sk-ant-test" {
		t.Errorf("first call %+v, want the count endpoint, the upstream model, no beta, the gateway's key", c)
	}
	if c := got[1]; c.beta != "context-1m-2025-08-07" {
		t.Errorf("second call sent anthropic-beta %q", c.beta)
	}
	// Anthropic's error, in its shape, twice: not cached.
	failing := strings.Replace(body, "How many tokens?", "make it fail", 1)
	for range 2 {
		code, _, b := postTo(t, g.url, path, failing)
		var e struct {
			Type  string `json:"type"`
			Error struct{ Type, Message string }
		}
		if code != 400 || json.Unmarshal(b, &e) != nil || e.Type != "error" || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, "valid list") {
			t.Errorf("upstream 400: %d %s, want Anthropic's error", code, b)
		}
	}
	if len(seen()) != 4 {
		t.Errorf("%d upstream calls after two failing counts, want 4 (errors are never cached)", len(calls))
	}
	// A model another provider serves: 404 in Anthropic's shape, no call.
	code, _, b := postTo(t, g.url, path, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	if code != 404 || !strings.Contains(string(b), `"type":"error"`) || !strings.Contains(string(b), "not_found_error") {
		t.Errorf("count for an OpenAI model: %d %s, want Anthropic's 404", code, b)
	}
	code, _, b = postTo(t, g.url, path, `{"messages":[{"role":"user","content":"hi"}]}`)
	if code != 400 || !strings.Contains(string(b), "model: Field required") {
		t.Errorf("count without a model: %d %s, want 400 model: Field required", code, b)
	}
	if code, _, b = postTo(t, g.url, path, `[1]`); code != 400 {
		t.Errorf("count of a non-object: %d %s, want 400", code, b)
	}
	if len(seen()) != 4 {
		t.Errorf("%d upstream calls, want 4", len(calls))
	}
}
