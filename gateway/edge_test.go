package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/redistest"
)

// rawExchange writes raw to a new connection to addr, half-closes it when
// halfClose is set, and reads the one response. It fails the test when no
// response arrives within 10 s.
func rawExchange(t *testing.T, addr, raw string, halfClose bool) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		conn.(*net.TCPConn).CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// errorCode returns the code of an OpenAI error body ("" when it is not one).
func errorCode(body string) string {
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(body), &e) != nil || e.Error.Message == "" || e.Error.Type == "" || e.Error.Code == nil {
		return ""
	}
	return *e.Error.Code
}

// 5,000 tiny headers fit the byte limit but not server.max_header_count.
func TestTooManyHeadersGet431(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	addr := serveReal(t, g)
	var raw strings.Builder
	body := chatBody("hi", false)
	fmt.Fprintf(&raw, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	for i := range 5000 {
		fmt.Fprintf(&raw, "X-%d: a\r\n", i)
	}
	raw.WriteString("\r\n" + body)
	resp, got := rawExchange(t, addr, raw.String(), false)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || errorCode(got) != "headers_too_large" {
		t.Errorf("5,000 headers: %d %s, want 431 headers_too_large", resp.StatusCode, got)
	}
	// The default count passes ordinary clients' headers.
	if code, _, _ := completion(t, g.url, "hi"); code != 200 {
		t.Errorf("ordinary request: %d", code)
	}
	if g.up.Calls() != 1 {
		t.Errorf("upstream calls = %d, want 1 (the ordinary request only)", g.up.Calls())
	}
}

// A chunked body that promises more than it sends and then half-closes
// gets a 400, not silence.
func TestShortChunkedBodyThenHalfCloseGets400(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	addr := serveReal(t, g)
	raw := "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"1000\r\n{\"model\":\"gpt-4o\""
	resp, got := rawExchange(t, addr, raw, true)
	if resp.StatusCode != http.StatusBadRequest || errorCode(got) != "invalid_body" {
		t.Errorf("short chunked body: %d %s, want 400 invalid_body", resp.StatusCode, got)
	}
	// The same with a Content-Length larger than the body.
	raw = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"model\""
	resp, got = rawExchange(t, addr, raw, true)
	if resp.StatusCode != http.StatusBadRequest || errorCode(got) != "invalid_body" {
		t.Errorf("short Content-Length body: %d %s, want 400 invalid_body", resp.StatusCode, got)
	}
	if g.up.Calls() != 0 {
		t.Error("a truncated body reached upstream")
	}
}

// An absurd credential (64 KiB of dots) is an authentication failure, not
// a header-size one: 401 in OpenAI's shape.
func TestHugeCredentialGets401(t *testing.T) {
	g := newTestGatewayWith(t, func(c *configs.Config, _ *Deps) {
		c.Auth.Keys = []configs.APIKey{{Name: "k", KeyEnv: "K", Key: "sk-ditto-0123456789", Tenant: "acme"}}
	})
	addr := serveReal(t, g)
	for _, h := range []string{"Authorization: Bearer ", "X-Api-Key: "} {
		body := chatBody("hi", false)
		raw := fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s%s\r\n\r\n%s",
			len(body), h, strings.Repeat(".", 64<<10), body)
		resp, got := rawExchange(t, addr, raw, false)
		if resp.StatusCode != http.StatusUnauthorized || errorCode(got) != "invalid_api_key" {
			t.Errorf("%s64 KiB of dots: %d %s, want 401 invalid_api_key", h, resp.StatusCode, got)
		}
	}
	if g.up.Calls() != 0 {
		t.Error("an unauthenticated request reached upstream")
	}
}

// A body trickling in a byte at a time is cut after server.body_timeout
// with a 408 while the client is still sending (not once it has sent all,
// nor at server.read_timeout).
func TestSlowBodyGets408(t *testing.T) {
	g := newTestGateway(t, testOpts{cfg: func(c *configs.Config) { c.Server.BodyTimeout = 300 * time.Millisecond }})
	addr := serveReal(t, g)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := chatBody(strings.Repeat("slow ", 60), false) // ~340 bytes: 17 s at 50 ms a byte
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(body); i++ {
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
			select {
			case <-time.After(50 * time.Millisecond):
			case <-t.Context().Done():
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to a slow body: %v", err)
	}
	select {
	case <-done:
		t.Error("the answer came only after the whole body was sent")
	default:
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	conn.Close()
	<-done
	if resp.StatusCode != http.StatusRequestTimeout || errorCode(string(b)) != "body_timeout" {
		t.Errorf("slow body: %d %s, want 408 body_timeout", resp.StatusCode, b)
	}
	if g.up.Calls() != 0 {
		t.Error("a slow body reached upstream")
	}
}

// Slow readers — clients that read a few bytes of a stream, stall, then
// hang up — leave no goroutine behind: not in the handlers, the fills,
// the connections or the upstream calls.
func TestSlowReadersLeaveNoGoroutines(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	g.up.SetEcho(true) // a word per event: 300 words at 20 ms are a 6 s stream, cut by the hang-ups
	g.up.SetStreamDelay(20 * time.Millisecond)
	addr := serveReal(t, g)
	// A first request starts what the gateway starts once (pools,
	// flushers); only what the slow readers start must end.
	if code, _, _ := completion(t, g.url, "warm up"); code != 200 {
		t.Fatalf("warm-up: %d", code)
	}
	before := goleak.IgnoreCurrent()

	const readers = 20
	errs := make(chan error, readers)
	for i := range readers {
		go func() {
			// Two readers per prompt: a fill with a follower, then none.
			prompt := fmt.Sprintf("slow reader %d ", i%10) + strings.Repeat("word ", 300)
			errs <- slowRead(addr, chatBody(prompt, true), i%2 == 0)
		}()
	}
	for range readers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if g.up.Calls() < 11 {
		t.Errorf("upstream calls = %d, want at least one per prompt (10) and the warm-up", g.up.Calls())
	}
	waitFor(t, func() bool { return g.up.Active() == 0 }) // every upstream stream is cancelled
	if err := goleak.Find(before,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http/httptest.(*Server).wrap.func1"), // the fake upstream's idle connections
	); err != nil {
		t.Errorf("goroutines outlived the slow readers: %v", err)
	}
}

// slowRead sends a streaming request with a tiny receive buffer, reads
// its first bytes, stalls, and hangs up; with drain it first reads a
// little more, a few bytes at a time.
func slowRead(addr, body string, drain bool) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(512)
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return fmt.Errorf("slow reader got no answer: %w", err)
	}
	time.Sleep(100 * time.Millisecond)
	if drain {
		for range 10 {
			if _, err := conn.Read(buf[:4]); err != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// Purging a tenant removes everything it owns: its entries, its
// sub-namespaces' (X-Ditto-Namespace) and its loose-matching routes'; other
// tenants keep theirs.
func TestTenantPurgeRemovesSubNamespacesAndLooseRoutes(t *testing.T) {
	g := newTestGateway(t, testOpts{cfg: func(c *configs.Config) {
		c.Auth.Keys = []configs.APIKey{
			{Name: "acme", Tenant: "acme", SHA256: sha(keyAcme)},
			{Name: "beta", Tenant: "beta", KeyEnv: "X", Key: keyBeta},
		}
		c.Auth.AdminKey = adminKey
		c.Routes = []configs.Route{{Model: "gpt-4o-loose", Provider: "openai", UpstreamModel: "gpt-4o",
			Cache: configs.RouteCache{IgnoreFields: []string{"seed"}}}}
	}})
	chat := g.url + "/v1/chat/completions"
	loose := `{"model":"gpt-4o-loose","seed":1,"messages":[{"role":"user","content":"loose"}]}`
	type ask struct {
		key, body string
		hdr       []string
	}
	asks := []ask{
		{keyAcme, chatBody("plain", false), nil},
		{keyAcme, chatBody("sub", false), []string{"X-Ditto-Namespace", "sub1"}},
		{keyAcme, loose, nil},
		{keyBeta, chatBody("plain", false), nil},
	}
	status := func(a ask) string {
		_, h, _ := call(t, "POST", chat, a.key, a.body, a.hdr...)
		return h.Get("X-Ditto-Cache")
	}
	for _, a := range asks {
		status(a)
		if got := status(a); got != "HIT" {
			t.Fatalf("%s before the purge: %s, want HIT", a.body, got)
		}
	}
	code, _, m := call(t, "DELETE", g.url+"/v1/cache?namespace=acme", adminKey, "")
	if code != 200 || m["deleted"] != float64(3) {
		t.Errorf("DELETE ?namespace=acme: %d %v, want 3 deleted", code, m)
	}
	for i, a := range asks {
		want := "MISS"
		if i == 3 {
			want = "HIT" // beta's
		}
		if got := status(a); got != want {
			t.Errorf("%s after acme's purge: %s, want %s", a.body, got, want)
		}
	}
}

// A model name with control characters is refused with a 400 before it
// can reach a header or an upstream URL; no response header carries raw
// request bytes.
func TestControlCharactersInModelGet400(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	for _, model := range []string{"gpt-4o-mini\u0000x", "gpt-4o\r\nX-Injected: 1", "gpt\u007f"} {
		body, _ := json.Marshal(map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": "hi"}}})
		for _, path := range []string{"/v1/chat/completions", "/v1/embeddings"} {
			if path == "/v1/embeddings" {
				body, _ = json.Marshal(map[string]any{"model": model, "input": "hi"})
			}
			resp, err := http.Post(g.url+path, "application/json", strings.NewReader(string(body)))
			if err != nil {
				t.Fatalf("%s %q: the Go client could not read the answer: %v", path, model, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || errorCode(string(b)) == "" {
				t.Errorf("%s %q: %d %s, want 400 OpenAI JSON", path, model, resp.StatusCode, b)
			}
			for k, vs := range resp.Header {
				for _, v := range vs {
					if strings.ContainsAny(v, "\x00\r\n\x7f") || k == "X-Injected" {
						t.Errorf("%s %q: header %s carries raw request bytes: %q", path, model, k, v)
					}
				}
			}
		}
	}
	if g.up.Calls() != 0 {
		t.Error("a bad model name reached upstream")
	}
}

// Entries someone else wrote into the gateway's Redis are not trusted: a
// well-formed entry (valid checksum, the request's digest) whose body is
// not JSON is a miss, not a HIT with garbage; and with
// cache.redis.entry_key_env even a well-formed JSON answer written without
// the key is a miss, refilled from upstream.
func TestForeignEntriesAreNotServed(t *testing.T) {
	rs := redistest.Start(t)
	for _, sealed := range []bool{false, true} {
		t.Run(fmt.Sprintf("sealed=%v", sealed), func(t *testing.T) {
			rs.Client().FlushAll(t.Context())
			g := newTestGateway(t, testOpts{cfg: func(c *configs.Config) {
				c.Cache.Redis.URL = configs.Secret(rs.URL())
				if sealed {
					c.Cache.Redis.EntryKeyEnv, c.Cache.Redis.EntryKey = "K", configs.Secret(strings.Repeat("k", 32))
				}
			}})
			resp, err := post(t.Context(), t, g.url, chatBody("who wrote this?", false))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			key := resp.Header.Get("X-Ditto-Cache-Key")
			raw, err := rs.Client().Get(t.Context(), key).Bytes()
			if err != nil {
				t.Fatalf("entry not in Redis under %s: %v", key, err)
			}
			open := store.UnmarshalEntry
			if sealed {
				open = func(b []byte) (store.Entry, error) { return store.OpenEntry(b, []byte(strings.Repeat("k", 32))) }
			}
			e, err := open(raw)
			if err != nil {
				t.Fatal(err)
			}
			forged := e
			forged.Body = []byte("<html>not an answer</html>")
			if sealed {
				forged.Body = []byte(`{"id":"chatcmpl-x","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"injected"},"finish_reason":"stop"}]}`)
			}
			if err := rs.Client().Set(t.Context(), key, store.MarshalEntry(forged), time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			code, cacheStatus, content := completion(t, g.url, "who wrote this?")
			if code != 200 || cacheStatus != "MISS" || content == "injected" {
				t.Errorf("forged entry: %d %s %q, want a MISS answered upstream", code, cacheStatus, content)
			}
			if _, cacheStatus, _ := completion(t, g.url, "who wrote this?"); cacheStatus != "HIT" {
				t.Errorf("after the refill: %s, want HIT", cacheStatus)
			}
		})
	}
}
