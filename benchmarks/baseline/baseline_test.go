package baseline

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dittocache/ditto/benchmarks/upstream"
	"github.com/dittocache/ditto/internal/redistest"
)

const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
const streamBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true}`

func call(t *testing.T, url, b string) (status, cache, text string) {
	t.Helper()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status, resp.Header.Get("X-Ditto-Cache"), string(out)
}

func checkCache(t *testing.T, h http.Handler, up *upstream.Server) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, b := range []string{body, streamBody} {
		_, c1, t1 := call(t, srv.URL, b)
		_, c2, t2 := call(t, srv.URL, b)
		if c1 != "MISS" || c2 != "HIT" || t1 != t2 {
			t.Errorf("%s: X-Ditto-Cache %q then %q, same body %v; want MISS, HIT, true", b, c1, c2, t1 == t2)
		}
	}
	if got := up.Stats().Requests; got != 2 {
		t.Errorf("upstream calls = %d, want 2", got)
	}
	if !strings.HasSuffix(strings.TrimSpace(func() string { _, _, s := call(t, srv.URL, streamBody); return s }()), "data: [DONE]") {
		t.Error("cached stream does not end with data: [DONE]")
	}
}

func TestMemory(t *testing.T) {
	up := upstream.New(upstream.Config{})
	us := httptest.NewServer(up)
	defer us.Close()
	checkCache(t, NewMemory(NewForwarder(us.URL, 0)), up)
}

func TestRedis(t *testing.T) {
	srv := redistest.Start(t)
	up := upstream.New(upstream.Config{})
	us := httptest.NewServer(up)
	defer us.Close()
	checkCache(t, NewRedis(NewForwarder(us.URL, 0), srv.Client(), "bench:"), up)
}

// TestCachedMissStreamsAsItComes: a streamed miss reaches the client
// event by event, not once the upstream has finished: the upstream here
// sends its last event only after the client has read the first.
func TestCachedMissStreamsAsItComes(t *testing.T) {
	const first, last = "data: {\"n\":1}\n\n", "data: [DONE]\n\n"
	for name, floor := range map[string]func(origin string) http.Handler{
		"memory":    func(o string) http.Handler { return NewMemory(NewForwarder(o, 0)) },
		"forwarder": func(o string) http.Handler { return NewForwarder(o, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			read := make(chan struct{}, 1) // the client has the first event
			us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, first)
				w.(http.Flusher).Flush()
				select {
				case <-read:
				case <-r.Context().Done():
					return
				case <-time.After(10 * time.Second):
				}
				io.WriteString(w, last)
			}))
			defer us.Close()
			srv := httptest.NewServer(floor(us.URL))
			defer srv.Close()
			got := make([]byte, len(first))
			var resp *http.Response
			done := make(chan error, 1)
			go func() {
				var err error
				resp, err = http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(streamBody))
				if err == nil {
					_, err = io.ReadFull(resp.Body, got)
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil || string(got) != first {
					t.Fatalf("first event %q, %v; want %q", got, err, first)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the first event did not arrive while the upstream was still streaming: the floor buffers streams")
			}
			defer resp.Body.Close()
			read <- struct{}{}
			if rest, _ := io.ReadAll(resp.Body); string(rest) != last {
				t.Errorf("rest of the stream %q, want %q", rest, last)
			}
		})
	}
}

func TestForwardersPassThrough(t *testing.T) {
	up := upstream.New(upstream.Config{Tokens: 4})
	us := httptest.NewServer(up)
	defer us.Close()
	rp, err := NewReverseProxy(us.URL)
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]http.Handler{"forwarder": NewForwarder(us.URL, 0), "reverseproxy": rp} {
		srv := httptest.NewServer(h)
		for _, b := range []string{body, streamBody} {
			status, _, text := call(t, srv.URL, b)
			if status != "200 OK" || !strings.Contains(text, `"model":"gpt-4o-mini"`) {
				t.Errorf("%s: %s %q", name, status, text)
			}
		}
		if status, _, _ := call(t, srv.URL, `{`); status != "400 Bad Request" {
			t.Errorf("%s: malformed body status %s, want upstream's 400", name, status)
		}
		srv.Close()
	}
	if got := up.Stats().Requests; got != 4 {
		t.Errorf("upstream calls = %d, want 4", got)
	}
}
