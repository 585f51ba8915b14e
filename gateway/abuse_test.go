package gateway

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dittocache/ditto/configs"
)

// serveReal runs the gateway behind its own *http.Server (with the
// configured timeouts), as cmd/ditto does, and returns its address.
func serveReal(t *testing.T, g *testGateway) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := g.HTTPServer(ln.Addr().String())
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

func TestHeaderBombGets431(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	addr := serveReal(t, g)
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions", strings.NewReader(chatBody("hi", false)))
	for i := 0; i < 80; i++ { // 80 KB: over the 64 KiB limit
		req.Header.Set(fmt.Sprintf("X-Bomb-%d", i), strings.Repeat("a", 1000))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(string(body), `"code":"headers_too_large"`) {
		t.Errorf("80 KB of headers: %d %s, want 431 OpenAI JSON", resp.StatusCode, body)
	}
	// 300 KB (30 headers of 10 KB: within the header count) get the same
	// OpenAI JSON error.
	req, _ = http.NewRequest("POST", "http://"+addr+"/v1/chat/completions", strings.NewReader(chatBody("hi", false)))
	for i := range 30 {
		req.Header.Set(fmt.Sprintf("X-Bomb-%d", i), strings.Repeat("a", 10_000))
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(string(body), `"code":"headers_too_large"`) {
		t.Errorf("300 KB of headers: %d %s, want 431 OpenAI JSON", resp.StatusCode, body)
	}
	if g.up.Calls() != 0 {
		t.Error("header bomb reached upstream")
	}
}

func TestSlowlorisIsCut(t *testing.T) {
	g := newTestGateway(t, testOpts{cfg: func(c *configs.Config) { c.Server.ReadHeaderTimeout = 300 * time.Millisecond }})
	addr := serveReal(t, g)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
	// Never finish the headers; the server must hang up on its own.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open after 10s of incomplete headers")
	}
}

// TestFuzzedBodiesNeverPanic throws random and mutated bodies at the
// handler: every answer is JSON, 4xx for bad input, and nothing reaches a
// 5xx or the upstream with an invalid body.
func TestFuzzedBodiesNeverPanic(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	seeds := []string{
		chatBody("hi", false),
		chatBody("hi", true),
		`{"model":"gpt-4o","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"ok"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"x"}]}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","properties":{"b":{},"a":{}}}}}}`,
	}
	r := rand.New(rand.NewPCG(1, 2))
	mutate := func(s string) string {
		b := []byte(s)
		switch r.IntN(4) {
		case 0: // flip a byte
			b[r.IntN(len(b))] = byte(r.IntN(256))
		case 1: // truncate
			b = b[:r.IntN(len(b))]
		case 2: // duplicate a slice
			i := r.IntN(len(b))
			b = append(b[:i], append([]byte(s[i:min(len(s), i+r.IntN(20))]), b[i:]...)...)
		case 3: // swap a value type
			s = strings.Replace(s, `"hi"`, []string{`5`, `null`, `[]`, `{}`, `true`, `"\ud800"`}[r.IntN(6)], 1)
			b = []byte(s)
		}
		return string(b)
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	for i := 0; i < 400; i++ {
		body := mutate(seeds[i%len(seeds)])
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Scan()
		first := sc.Text()
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 && resp.StatusCode != 502 {
			t.Errorf("body %q: status %d", body, resp.StatusCode)
		}
		if resp.StatusCode >= 400 && !strings.HasPrefix(first, `{"error":{`) {
			t.Errorf("body %q: status %d with non-OpenAI error %q", body, resp.StatusCode, first)
		}
	}
}

// Bodies are limited whether or not they declare their length: a declared
// Content-Length over the limit is refused unread, a chunked body when it
// crosses the limit; both with OpenAI's 413.
func TestBodyLimitWithAndWithoutContentLength(t *testing.T) {
	g := newTestGateway(t, testOpts{cfg: func(c *configs.Config) { c.Server.MaxBodyBytes = 4096 }})
	big := chatBody(strings.Repeat("x", 5000), false)
	small := chatBody("chunked but small", false)
	for _, tc := range []struct {
		name    string
		body    string
		chunked bool
		want    int
	}{
		{"declared, too large", big, false, http.StatusRequestEntityTooLarge},
		{"chunked, too large", big, true, http.StatusRequestEntityTooLarge},
		{"chunked, small", small, true, http.StatusOK},
		{"declared, small", small, false, http.StatusOK},
	} {
		var body io.Reader = strings.NewReader(tc.body)
		if tc.chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		req, _ := http.NewRequest("POST", g.url+"/v1/chat/completions", body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || tc.want == 413 && !strings.Contains(string(out), `"code":"request_too_large"`) {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, out, tc.want)
		}
		if tc.chunked && req.ContentLength != 0 {
			t.Errorf("%s: the request declared a length", tc.name)
		}
	}
	if g.up.Calls() != 1 {
		t.Errorf("upstream calls %d, want 1 (the small body, once: the second is a hit)", g.up.Calls())
	}
}
