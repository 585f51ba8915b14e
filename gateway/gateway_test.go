package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/cache/store"
	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/fakeopenai"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/openai"
)

type testGateway struct {
	*Server
	up  *fakeopenai.Server
	url string
}

type testOpts struct {
	cfg    func(*configs.Config)
	store  cache.Store
	hasher cachekey.Hasher
}

func newTestGateway(t *testing.T, o testOpts) *testGateway {
	t.Helper()
	return newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		if o.cfg != nil {
			o.cfg(c)
		}
		d.Store, d.Hasher = o.store, o.hasher
	})
}

func newTestGatewayWith(t *testing.T, setup func(*configs.Config, *Deps)) *testGateway {
	t.Helper()
	up := fakeopenai.New(t)
	cfg := configs.Default()
	deps := Deps{
		Providers: map[string]providers.Provider{"openai": openai.New(openai.Options{BaseURL: up.BaseURL(), APIKey: "sk-test"})},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	setup(cfg, &deps)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return &testGateway{Server: srv, up: up, url: hs.URL}
}

func chatBody(prompt string, stream bool) string {
	b, _ := json.Marshal(map[string]any{
		"model":    "gpt-4o",
		"messages": []map[string]string{{"role": "user", "content": prompt}},
		"stream":   stream,
	})
	return string(b)
}

func post(ctx context.Context, t *testing.T, url, body string) (*http.Response, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return http.DefaultClient.Do(req)
}

// completion posts a non-streaming request and returns status, cache status and content.
func completion(t *testing.T, url, prompt string) (int, string, string) {
	t.Helper()
	resp, err := post(context.Background(), t, url, chatBody(prompt, false))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	json.NewDecoder(resp.Body).Decode(&c)
	content := ""
	if len(c.Choices) > 0 {
		content = c.Choices[0].Message.Content
	}
	return resp.StatusCode, resp.Header.Get("X-Ditto-Cache"), content
}

func TestCollidingKeysNeverServeTheWrongAnswer(t *testing.T) {
	zero := func([]byte) uint64 { return 0 } // every request has the same store key
	g := newTestGateway(t, testOpts{hasher: zero})
	g.up.SetEcho(true)
	prompts := []string{"first question", "second question", "third question"}
	for _, p := range prompts {
		_, status, content := completion(t, g.url, p)
		if status != "MISS" || content != fakeopenai.EchoAnswer(p) {
			t.Errorf("%q: status %s content %q, want MISS and its own answer", p, status, content)
		}
	}
	// The last one stored wins the slot; it is a hit for itself only.
	_, status, content := completion(t, g.url, "third question")
	if status != "HIT" || content != fakeopenai.EchoAnswer("third question") {
		t.Errorf("repeat: status %s content %q", status, content)
	}
	_, status, content = completion(t, g.url, "first question")
	if status != "MISS" || content != fakeopenai.EchoAnswer("first question") {
		t.Errorf("colliding request: status %s content %q, want MISS with its own answer", status, content)
	}
	if mismatches, _ := metricValue(scrape(t, g.url), "ditto_cache_digest_mismatches_total", nil); mismatches < 3 {
		t.Errorf("digest mismatches counted = %v, want at least 3", mismatches)
	}
}

// moveStore copies entries to another key to simulate a value served under
// the wrong key (the shared-pool mix-up class of bug).
type swapStore struct {
	*store.Memory
	mu   sync.Mutex
	last store.Entry
	set  bool
}

func (s *swapStore) Set(ctx context.Context, k cachekey.Key, e store.Entry, ttl time.Duration) error {
	s.mu.Lock()
	s.last, s.set = e, true
	s.mu.Unlock()
	return s.Memory.Set(ctx, k, e, ttl)
}

func (s *swapStore) Get(ctx context.Context, k cachekey.Key) (store.Entry, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set {
		return s.last, true, nil // always the most recent entry, whatever was asked
	}
	return store.Entry{}, false, nil
}

func TestEntryUnderWrongKeyIsAMiss(t *testing.T) {
	mem := store.NewMemory(1 << 20)
	t.Cleanup(func() { _ = mem.Close() }) // a store passed in Deps is the caller's to close
	g := newTestGateway(t, testOpts{store: &swapStore{Memory: mem}})
	g.up.SetEcho(true)
	completion(t, g.url, "alice's private question")
	_, status, content := completion(t, g.url, "bob's question")
	if status != "MISS" || content != fakeopenai.EchoAnswer("bob's question") {
		t.Fatalf("bob got status %s content %q: another request's entry was served", status, content)
	}
	_, status, _ = completion(t, g.url, "bob's question")
	if status != "HIT" {
		t.Errorf("bob's repeat: %s, want HIT (his own entry)", status)
	}
}

// failingStore fails every call, like a Redis that is down.
type failingStore struct{ gets, sets atomic.Int64 }

func (f *failingStore) Get(context.Context, cachekey.Key) (store.Entry, bool, error) {
	f.gets.Add(1)
	return store.Entry{}, false, errors.New("connection refused")
}

func (f *failingStore) Set(context.Context, cachekey.Key, store.Entry, time.Duration) error {
	f.sets.Add(1)
	return errors.New("connection refused")
}

func (f *failingStore) GetMany(context.Context, []cachekey.Key) ([]store.Result, error) {
	return nil, errors.New("connection refused")
}
func (f *failingStore) Delete(context.Context, cachekey.Key) error {
	return errors.New("connection refused")
}
func (f *failingStore) Purge(context.Context, string) (int, error) {
	return 0, errors.New("connection refused")
}
func (f *failingStore) Tag(context.Context, string, []string, cachekey.Key, time.Duration) error {
	return errors.New("connection refused")
}
func (f *failingStore) PurgeTag(context.Context, string, string) (int, error) {
	return 0, errors.New("connection refused")
}
func (f *failingStore) Lease(context.Context, cachekey.Key, time.Duration) (func(), bool, error) {
	return nil, false, errors.New("connection refused")
}
func (f *failingStore) LeaseGet(context.Context, cachekey.Key, time.Duration) (store.Held, store.Entry, bool, error) {
	return store.Held{}, store.Entry{}, false, errors.New("connection refused")
}
func (f *failingStore) GetOrLease(context.Context, cachekey.Key, time.Duration) (store.Entry, bool, store.Held, error) {
	f.gets.Add(1) // the lookup of a shared store
	return store.Entry{}, false, store.Held{}, errors.New("connection refused")
}
func (f *failingStore) SetRelease(context.Context, cachekey.Key, store.Entry, time.Duration, store.Held) error {
	f.sets.Add(1)
	return errors.New("connection refused")
}
func (f *failingStore) Ping(context.Context) error { return errors.New("connection refused") }
func (f *failingStore) Status() store.Status       { return store.Status{Kind: "redis", Shared: true} }
func (f *failingStore) Close() error               { return nil }

func TestStoreFailureFallsBackToProvider(t *testing.T) {
	fs := &failingStore{}
	g := newTestGateway(t, testOpts{store: fs})
	for i := 0; i < 3; i++ {
		code, status, content := completion(t, g.url, "hi")
		if code != 200 || status != "MISS" || content != fakeopenai.TextAnswer {
			t.Fatalf("request %d: %d %s %q", i, code, status, content)
		}
	}
	if fs.gets.Load() != 3 || fs.sets.Load() != 3 || g.up.Calls() != 3 {
		t.Errorf("gets %d sets %d upstream %d, want 3 each", fs.gets.Load(), fs.sets.Load(), g.up.Calls())
	}
	text := scrape(t, g.url)
	for _, op := range []string{"get", "set"} {
		if n, _ := metricValue(text, "ditto_store_errors_total", map[string]string{"ditto_store_operation": op}); n != 3 {
			t.Errorf("store %s errors counted = %v, want 3", op, n)
		}
	}
}

// waiters reports how many clients follow the flight for key.
func (g *testGateway) waiters(key cachekey.Key) int { return g.engine.Followers(key) }

// A leader that streams runs the call on a flight goroutine; a JSON leader
// runs it on its own goroutine (runHere). Either way its client leaving
// does not cut the answer short for followers.
func TestLeaderDisconnectDoesNotCancelFollowers(t *testing.T) {
	for _, stream := range []bool{true, false} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			g := newTestGateway(t, testOpts{})
			release := g.up.Block()
			arrived := g.up.Arrivals()

			leaderCtx, cancelLeader := context.WithCancel(context.Background())
			leaderDone := make(chan struct{})
			go func() {
				defer close(leaderDone)
				resp, err := post(leaderCtx, t, g.url, chatBody("What's the weather like in SF?", stream))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			<-arrived
			key := g.flightKeyFor(t, chatBody("What's the weather like in SF?", stream))

			type result struct {
				status, content string
			}
			follower := make(chan result, 1)
			go func() {
				_, status, content := completion(t, g.url, "What's the weather like in SF?")
				follower <- result{status, content}
			}()
			waitFor(t, func() bool { return g.waiters(key) == 2 })
			cancelLeader()
			<-leaderDone
			waitFor(t, func() bool { return g.waiters(key) == 1 })
			release()
			r := <-follower
			want := fakeopenai.TextAnswer
			if stream {
				want = fakeopenai.StreamTextAnswer
			}
			if r.status != "COALESCED" || r.content != want {
				t.Errorf("follower: %s %q, want COALESCED with the leader's answer", r.status, r.content)
			}
			if g.up.Calls() != 1 {
				t.Errorf("upstream calls = %d, want 1", g.up.Calls())
			}
			_, status, _ := completion(t, g.url, "What's the weather like in SF?")
			if status != "HIT" {
				t.Errorf("after the flight: %s, want HIT", status)
			}
		})
	}
}

func TestSoleClientDisconnectCancelsUpstreamAndStoresNothing(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	g.up.SetStreamDelay(50 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := post(ctx, t, g.url, chatBody("What's the weather like in SF?", true))
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	for events := 0; events < 3; {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") {
			events++
		}
	}
	cancel()
	resp.Body.Close()
	key := g.flightKeyFor(t, chatBody("What's the weather like in SF?", true))
	waitFor(t, func() bool { return g.waiters(key) == 0 })
	g.up.SetStreamDelay(0)
	_, status, _ := completion(t, g.url, "What's the weather like in SF?")
	if status != "MISS" {
		t.Errorf("after an abandoned stream: %s, want MISS (nothing partial stored)", status)
	}
	if g.up.Calls() != 2 {
		t.Errorf("upstream calls = %d, want 2", g.up.Calls())
	}
}

// A JSON client that leaves while its call (run on its own goroutine)
// waits on the provider cancels the call when nobody else follows it.
func TestSoleJSONClientDisconnectCancelsUpstream(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	release := g.up.Block()
	defer release()
	arrived := g.up.Arrivals()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		resp, err := post(ctx, t, g.url, chatBody("abandoned JSON question", false))
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-arrived
	key := g.flightKeyFor(t, chatBody("abandoned JSON question", false))
	waitFor(t, func() bool { return g.waiters(key) == 1 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cancelled request succeeded")
	}
	// The call is cancelled (the flight is forgotten once it fails), so
	// the provider is free again and nothing was stored.
	waitFor(t, func() bool { return !g.engine.InFlight(key) })
	release()
	if _, status, _ := completion(t, g.url, "abandoned JSON question"); status != "MISS" {
		t.Errorf("after the abandoned call: %s, want MISS", status)
	}
	if g.up.Calls() != 2 {
		t.Errorf("upstream calls = %d, want 2", g.up.Calls())
	}
}

func TestStalledStreamEndsWithErrorEvent(t *testing.T) {
	g := newTestGateway(t, testOpts{cfg: func(c *configs.Config) { c.Upstream.StreamIdleTimeout = time.Second }})
	g.up.SetStreamDelay(30 * time.Second) // first event, then silence
	resp, err := post(context.Background(), t, g.url, chatBody("What's the weather like in SF?", true))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"code":"upstream_stalled"`) || strings.Contains(string(body), "[DONE]") {
		t.Fatalf("stalled stream: %d %s, want an error event and no [DONE]", resp.StatusCode, body)
	}
	g.up.SetStreamDelay(0)
	_, status, _ := completion(t, g.url, "What's the weather like in SF?")
	if status != "MISS" {
		t.Errorf("after a stalled stream: %s, want MISS", status)
	}
}

func (g *testGateway) flightKeyFor(t *testing.T, body string) cachekey.Key {
	t.Helper()
	req, err := normalize.DecodeOpenAI([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	route, err := g.router.Resolve(req.Model)
	if err != nil {
		t.Fatal(err)
	}
	return cache.Key(g.hasher, req, cache.Scope{Tenant: g.cfg.Cache.Namespace}, route.Key())
}

// waitFor polls cond for up to 10 s: a bound for progress, not a timing
// assertion.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFallbackAnswersAndIsStoredUnderTheRequestedRoute(t *testing.T) {
	backup := fakeopenai.New(t)
	backup.SetEcho(true)
	g := newTestGatewayWith(t, func(c *configs.Config, deps *Deps) {
		c.Upstream.Retries = 1
		c.Upstream.RetryBackoff = time.Millisecond
		c.Routes = []configs.Route{
			{Model: "gpt-4o", Provider: "openai", Fallbacks: []string{"backup-4o"}},
			{Model: "backup-4o", Provider: "backup", UpstreamModel: "gpt-4o-backup"},
		}
		c.Providers["backup"] = configs.Provider{Type: "openai", BaseURL: backup.BaseURL()}
		deps.Providers["backup"] = openai.New(openai.Options{Name: "backup", BaseURL: backup.BaseURL()})
	})
	g.up.FailNext(fakeopenai.Failure{Status: 500}, fakeopenai.Failure{Status: 502})
	code, status, content := completion(t, g.url, "hello")
	if code != 200 || status != "MISS" || content != fakeopenai.EchoAnswer("hello") {
		t.Fatalf("fallback: %d %s %q", code, status, content)
	}
	if g.up.Calls() != 2 || backup.Calls() != 1 {
		t.Errorf("primary calls %d (want 2: try + retry), backup calls %d (want 1)", g.up.Calls(), backup.Calls())
	}
	if !strings.Contains(string(backup.Requests()[0]), `"model":"gpt-4o-backup"`) {
		t.Errorf("backup got %s, want its upstream model", backup.Requests()[0])
	}
	_, status, content = completion(t, g.url, "hello")
	if status != "HIT" || content != fakeopenai.EchoAnswer("hello") {
		t.Errorf("repeat: %s %q, want a HIT of the fallback answer", status, content)
	}
	// A request the primary rejects as invalid is not sent to the fallback.
	g.up.FailNext(fakeopenai.Failure{Status: 400})
	if code, _, _ := completion(t, g.url, "bad"); code != 400 || backup.Calls() != 1 {
		t.Errorf("invalid request: status %d, backup calls %d; want 400 and no fallback", code, backup.Calls())
	}
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestStaleIfError(t *testing.T) {
	clk := &clock{now: time.Now()}
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Upstream.Retries = 0
		d.Now = clk.Now
	})
	ask := func() (int, http.Header, string) {
		resp, err := post(context.Background(), t, g.url, chatBody("What's the weather like in SF?", false))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	_, h, first := ask()
	if h.Get("X-Ditto-Cache") != "MISS" {
		t.Fatalf("first: %s", h.Get("X-Ditto-Cache"))
	}
	clk.Advance(25 * time.Hour) // past the 24h default TTL, within the 1h stale grace
	g.up.FailNext(fakeopenai.Failure{Status: 503})
	code, h, body := ask()
	if code != 200 || h.Get("X-Ditto-Cache") != "STALE" || body != first {
		t.Fatalf("provider down with a stale entry: %d %s, want the stale answer", code, h.Get("X-Ditto-Cache"))
	}
	if h.Get("Cache-Status") != "ditto; fwd=stale; fwd-status=503" || h.Get("Age") != "90000" {
		t.Errorf("stale headers: Cache-Status %q Age %q", h.Get("Cache-Status"), h.Get("Age"))
	}
	// An invalid-request answer is the client's problem: no stale cover.
	g.up.FailNext(fakeopenai.Failure{Status: 400})
	if code, _, _ := ask(); code != 400 {
		t.Errorf("400 with a stale entry: %d, want 400 passed through", code)
	}
	// Provider back: the stale entry is refreshed, then fresh hits follow.
	if _, h, _ := ask(); h.Get("X-Ditto-Cache") != "MISS" {
		t.Errorf("refresh: %s, want MISS", h.Get("X-Ditto-Cache"))
	}
	if _, h, _ := ask(); h.Get("X-Ditto-Cache") != "HIT" || h.Get("Age") != "0" {
		t.Errorf("after refresh: %s age %s, want a fresh HIT", h.Get("X-Ditto-Cache"), h.Get("Age"))
	}
}

func TestLooseMatchingRouteSharesOnlyItsOwnEntries(t *testing.T) {
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Routes = []configs.Route{
			{Model: "gpt-4o-loose", Provider: "openai", UpstreamModel: "gpt-4o",
				Cache: configs.RouteCache{IgnoreFields: []string{"seed"}, TrimTrailingWhitespace: true}},
		}
		c.Auth.AdminKey = adminKey
	})
	g.up.SetEcho(true)
	send := func(model, content string, seed int) string {
		body := fmt.Sprintf(`{"model":%q,"seed":%d,"messages":[{"role":"user","content":%q}]}`, model, seed, content)
		resp, err := post(context.Background(), t, g.url, body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Ditto-Cache")
	}
	steps := []struct {
		model, content string
		seed           int
		want           string
	}{
		{"gpt-4o-loose", "hello", 1, "MISS"},
		{"gpt-4o-loose", "hello  \n", 2, "HIT"}, // seed ignored, trailing whitespace trimmed
		{"gpt-4o", "hello", 1, "MISS"},          // same upstream model, strict route: never mixes with loose entries
		{"gpt-4o", "hello", 2, "MISS"},          // strict: the seed matters
		{"gpt-4o-loose", " hello", 3, "MISS"},   // leading whitespace is content
	}
	for i, st := range steps {
		if got := send(st.model, st.content, st.seed); got != st.want {
			t.Errorf("step %d (%s %q seed %d): %s, want %s", i, st.model, st.content, st.seed, got, st.want)
		}
	}
	// Purging the loose route by model reaches its tagged namespace.
	status, _, m := call(t, "DELETE", g.url+"/v1/cache?model=gpt-4o-loose", adminKey, "")
	if status != 200 || m["deleted"] != float64(2) {
		t.Errorf("purge loose route: %d %v, want 2 deleted", status, m)
	}
}

func TestPromptsAreLoggedOnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		var logs syncBuf
		g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
			c.Log.Prompts = enabled
			d.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		})
		completion(t, g.url, "my secret medical question")
		got := strings.Contains(logs.String(), "my secret medical question")
		if got != enabled {
			t.Errorf("log.prompts=%v: prompt in logs = %v\n%s", enabled, got, logs.String())
		}
		if !strings.Contains(logs.String(), `"msg":"request"`) {
			t.Errorf("no request line logged:\n%s", logs.String())
		}
	}
}

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// A stream the request itself calls the provider for (a miss it leads, or
// no-store), relayed on the request's goroutine, delivers each chunk while
// the provider is still sending, not when it ends, and a client that
// leaves cancels the provider call; nothing partial is stored.
func TestStreamRelaysChunksAsTheyCome(t *testing.T) {
	for _, tc := range []struct{ cacheControl, status string }{{"no-store", "BYPASS"}, {"", "MISS"}} {
		t.Run(tc.status, func(t *testing.T) {
			g := newTestGateway(t, testOpts{})
			g.up.SetStreamDelay(30 * time.Second) // first event, then silence
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", g.url+"/v1/chat/completions", strings.NewReader(chatBody("slow answer", true)))
			if tc.cacheControl != "" {
				req.Header.Set("Cache-Control", tc.cacheControl)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("no response while the provider is silent: %v", err)
			}
			if resp.Header.Get("X-Ditto-Cache") != tc.status {
				t.Errorf("X-Ditto-Cache = %q, want %s", resp.Header.Get("X-Ditto-Cache"), tc.status)
			}
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "data: {") {
				t.Fatalf("first event while the provider is silent: %q, %v (held back until the end?)", line, err)
			}
			cancel()
			resp.Body.Close()
			// The gateway's provider call ends with the client, long before
			// the provider's next event.
			waitFor(t, func() bool { return g.up.Active() == 0 })
			g.up.SetStreamDelay(0)
			if code, status, _ := completion(t, g.url, "slow answer"); code != 200 || status == "HIT" {
				t.Errorf("after the cut stream: %d %s, want a fresh call (nothing partial stored)", code, status)
			}
		})
	}
}
