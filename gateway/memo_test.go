package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/fakeopenai"
)

// memoSize is the number of remembered request bodies, after pending
// maintenance.
func (g *testGateway) memoSize() int {
	g.memo.c.CleanUp()
	return g.memo.c.EstimatedSize()
}

// The memo only admits bodies that got a HIT, and a remembered body is
// looked up again every time: it names a key, never an answer.
func TestRequestMemoIsAdmittedOnHitAndNeverAnswers(t *testing.T) {
	g := authedGateway(t, nil)
	g.up.SetEcho(true)
	chat := g.url + "/v1/chat/completions"
	ask := func(prompt string) (string, string) {
		t.Helper()
		code, h, m := call(t, "POST", chat, keyAcme, chatBody(prompt, false))
		content := ""
		if ch, ok := m["choices"].([]any); ok && len(ch) == 1 {
			content, _ = ch[0].(map[string]any)["message"].(map[string]any)["content"].(string)
		}
		if code != 200 {
			t.Fatalf("%q: status %d %v", prompt, code, m)
		}
		return h.Get("X-Ditto-Cache"), content
	}
	want := fakeopenai.EchoAnswer("memo me")
	for i, status := range []string{"MISS", "HIT", "HIT"} {
		got, content := ask("memo me")
		if got != status || content != want {
			t.Fatalf("request %d: %s %q, want %s %q", i, got, content, status, want)
		}
		if size, wantSize := g.memoSize(), min(i, 1); size != wantSize {
			t.Fatalf("after request %d (%s) the memo holds %d bodies, want %d", i, got, size, wantSize)
		}
	}
	if status, _ := ask("unique prompt"); status != "MISS" || g.memoSize() != 1 {
		t.Fatalf("a miss was admitted: status %s, memo %d", status, g.memoSize())
	}

	// Purged from the store: the remembered body is a miss again and reaches
	// the provider.
	if code, _, m := call(t, "DELETE", g.url+"/v1/cache?all=true", adminKey, ""); code != http.StatusOK {
		t.Fatalf("purge: %d %v", code, m)
	}
	calls := g.up.Calls()
	if status, content := ask("memo me"); status != "MISS" || content != want {
		t.Fatalf("after purge: %s %q, want a MISS", status, content)
	}
	if g.up.Calls() != calls+1 {
		t.Fatalf("upstream calls %d, want %d", g.up.Calls(), calls+1)
	}
}

// Tenants and sub-namespaces never share a remembered body's key, even for
// identical bytes.
func TestRequestMemoKeepsTenantsApart(t *testing.T) {
	g := authedGateway(t, nil)
	chat := g.url + "/v1/chat/completions"
	body := chatBody("same bytes for everyone", false)
	steps := []struct{ token, ns, want string }{
		{keyAcme, "", "MISS"}, {keyAcme, "", "HIT"}, {keyAcme, "", "HIT"}, // acme's body is remembered
		{keyBeta, "", "MISS"}, {keyBeta, "", "HIT"},
		{keyAcme, "team1", "MISS"}, {keyAcme, "team1", "HIT"}, {keyAcme, "team1", "HIT"},
		{keyAcme, "", "HIT"},
	}
	keys := map[string]string{}
	for i, st := range steps {
		var hdr []string
		if st.ns != "" {
			hdr = []string{"X-Ditto-Namespace", st.ns}
		}
		code, h, _ := call(t, "POST", chat, st.token, body, hdr...)
		if code != 200 || h.Get("X-Ditto-Cache") != st.want {
			t.Fatalf("step %d: %d %s, want %s", i, code, h.Get("X-Ditto-Cache"), st.want)
		}
		id := st.token + "/" + st.ns
		if k, ok := keys[id]; ok && k != h.Get("X-Ditto-Cache-Key") {
			t.Fatalf("step %d: key %s, earlier %s", i, h.Get("X-Ditto-Cache-Key"), k)
		}
		keys[id] = h.Get("X-Ditto-Cache-Key")
	}
	if len(keys) != 3 || keys[keyAcme+"/"] == keys[keyBeta+"/"] || keys[keyAcme+"/"] == keys[keyAcme+"/team1"] {
		t.Fatalf("keys %v: want three distinct", keys)
	}
	if g.up.Calls() != 3 {
		t.Fatalf("upstream calls %d, want 3", g.up.Calls())
	}
}

// A hash collision in the memo costs a decode, never another request's key.
func TestRequestMemoVerifiesEveryInput(t *testing.T) {
	m := newRequestMemo()
	e := &memoEntry{d: chat{}, body: []byte(`{"a":1}`), tenant: "acme", subNS: "x"}
	m.put(7, e)
	m.c.CleanUp()
	if m.get(7, chat{}, "acme", "x", []byte(`{"a":1}`)) != e {
		t.Fatal("exact inputs not found")
	}
	for _, in := range []struct {
		d                dialect
		tenant, ns, body string
	}{
		{chat{}, "beta", "x", `{"a":1}`}, {chat{}, "acme", "", `{"a":1}`}, {chat{}, "acme", "x", `{"a":2}`},
		{chat{}, "acme", "x", `{"a":1} `}, {otherDialect{}, "acme", "x", `{"a":1}`},
	} {
		if m.get(7, in.d, in.tenant, in.ns, []byte(in.body)) != nil {
			t.Errorf("%+v under the same hash was accepted", in)
		}
	}
	big := &memoEntry{body: make([]byte, memoMaxBody+1)}
	m.put(8, big)
	m.c.CleanUp()
	if _, ok := m.c.GetIfPresent(8); ok {
		t.Error("a body over memoMaxBody was kept")
	}
}

// Requests found in the memo share one decoded request; concurrent provider
// calls made with it (no-store bypasses, JSON and streams, on the plain
// route and through an alias whose upstream model differs) must only read
// it. The race detector (make test) watches this test.
func TestRequestMemoSharedRequestIsOnlyRead(t *testing.T) {
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Routes = append(c.Routes, configs.Route{Model: "house-model", Provider: "openai", UpstreamModel: "gpt-4o-mini"})
	})
	g.up.SetEcho(true)
	for _, model := range []string{"gpt-4o", "house-model"} {
		for _, stream := range []bool{false, true} {
			body := strings.Replace(chatBody("shared by many", stream), `"gpt-4o"`, `"`+model+`"`, 1)
			priming := []string{"MISS", "HIT", "HIT"}
			if stream {
				priming = priming[1:] // the JSON answer serves streams too
			}
			for i, want := range priming {
				code, h, _ := call(t, "POST", g.url+"/v1/chat/completions", "", body)
				if code != 200 || h.Get("X-Ditto-Cache") != want {
					t.Fatalf("%s stream=%v priming %d: %d %s, want %s", model, stream, i, code, h.Get("X-Ditto-Cache"), want)
				}
			}
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					req, _ := http.NewRequest("POST", g.url+"/v1/chat/completions", strings.NewReader(body))
					req.Header.Set("Cache-Control", "no-store")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					out, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					want := fakeopenai.EchoAnswer("shared by many")
					if stream {
						want = "data: [DONE]" // the echo arrives word by word
					}
					if resp.StatusCode != 200 || resp.Header.Get("X-Ditto-Cache") != "BYPASS" || !strings.Contains(string(out), want) {
						t.Errorf("%s stream=%v: %d %s %.200s", model, stream, resp.StatusCode, resp.Header.Get("X-Ditto-Cache"), out)
					}
				})
			}
			wg.Wait()
		}
	}
	if g.memoSize() != 4 {
		t.Errorf("memo holds %d bodies, want 4", g.memoSize())
	}
	for _, b := range g.up.Requests() {
		if !strings.Contains(string(b), `"model":"gpt-4o"`) && !strings.Contains(string(b), `"model":"gpt-4o-mini"`) {
			t.Errorf("upstream got %s", b)
		}
	}
}

// otherDialect is chat under another name: the memo must keep dialects
// apart even for identical bytes.
type otherDialect struct{ chat }

func (otherDialect) name() string { return "other" }

// A memoized request keeps the rendering of the entry it was last served,
// and uses it only for that entry: once the entry is replaced, every
// dialect renders the new answer, JSON and streams alike.
func TestRequestMemoRenderingFollowsTheEntry(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	cases := []struct{ name, path, body, prompt string }{
		{"responses", "/v1/responses", `{"model":"gpt-4o","input":"render me as a response"}`, "render me as a response"},
		{"chat stream", "/v1/chat/completions", chatBody("render me as chunks", true), "render me as chunks"},
		{"messages stream", "/v1/messages", `{"model":"gpt-4o","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"render me as events"}]}`, "render me as events"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			echo := fakeopenai.EchoAnswer(c.prompt)
			g.up.SetEcho(false)
			var hit []byte
			for i, want := range []string{"MISS", "HIT", "HIT"} { // the last from the memo's rendering
				code, status, b := postTo(t, g.url, c.path, c.body)
				if code != 200 || status != want || bytes.Contains(b, []byte(echo)) {
					t.Fatalf("request %d: %d %s %s, want %s without the echo", i, code, status, b, want)
				}
				if i == 1 {
					hit = b
				} else if i == 2 && !bytes.Equal(b, hit) {
					t.Fatalf("the memoized hit differs from the first hit:\n%s\nwant\n%s", b, hit)
				}
			}
			g.up.SetEcho(true)
			if code, status, b := postTo(t, g.url, c.path, c.body, "Cache-Control", "max-age=0"); code != 200 || status != "MISS" {
				t.Fatalf("refresh: %d %s %s", code, status, b)
			}
			for i := range 2 {
				code, status, b := postTo(t, g.url, c.path, c.body)
				if code != 200 || status != "HIT" || !bytes.Contains(b, []byte(echo)) {
					t.Fatalf("hit %d after the entry was replaced: %d %s %s, want the new answer %q", i, code, status, b, echo)
				}
			}
		})
	}
}
