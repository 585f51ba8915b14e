package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/fakeopenai"
	"github.com/dittocache/ditto/internal/redistest"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/openai"
)

// Two replicas sharing one Redis share one limit: of N requests sent to
// both, exactly the limit reaches the provider; the rest are 429s with
// Retry-After and OpenAI's rate-limit headers. Hits are free.
func TestRateLimitAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	up := fakeopenai.New(t)
	up.SetEcho(true)
	const limit = 5
	replica := func() *testGateway {
		return newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
			c.Cache.Redis.URL = configs.Secret(srv.URL())
			c.Limits.Default.RequestsPerMinute = limit
			d.Providers = map[string]providers.Provider{"openai": openai.New(openai.Options{BaseURL: up.BaseURL(), APIKey: "sk-test"})}
		})
	}
	a, b := replica(), replica()
	served, refused := 0, 0
	for i := range 12 {
		g := a
		if i%2 == 1 {
			g = b
		}
		req, _ := http.NewRequest(http.MethodPost, g.url+"/v1/chat/completions", strings.NewReader(chatBody(fmt.Sprintf("question %d", i), false)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			served++
			if resp.Header.Get("X-Ratelimit-Limit-Requests") != fmt.Sprint(limit) {
				t.Errorf("request %d: x-ratelimit-limit-requests %q, want %d", i, resp.Header.Get("X-Ratelimit-Limit-Requests"), limit)
			}
		case 429:
			refused++
			if resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-Ratelimit-Remaining-Requests") != "0" {
				t.Errorf("429 without Retry-After or remaining 0: %v", resp.Header)
			}
		default:
			t.Errorf("request %d: status %d", i, resp.StatusCode)
		}
	}
	if served != limit || refused != 12-limit || up.Calls() != limit {
		t.Errorf("served %d, refused %d, upstream calls %d; want %d, %d, %d", served, refused, up.Calls(), limit, 12-limit, limit)
	}
	// A cached answer costs no quota: the first question is a hit on
	// either replica although the limit is spent.
	if code, status, _ := completion(t, b.url, "question 0"); code != 200 || status != "HIT" {
		t.Errorf("hit over the limit: %d %s, want 200 HIT", code, status)
	}
	// Each replica's /metrics counts its own decisions; /readyz names the
	// shared backend.
	var admitted, refusedN float64
	for _, g := range []*testGateway{a, b} {
		text := scrape(t, g.url)
		v, _ := metricValue(text, "ditto_ratelimit_decisions_total", map[string]string{"outcome": "admitted"})
		admitted += v
		v, _ = metricValue(text, "ditto_ratelimit_decisions_total", map[string]string{"outcome": "refused"})
		refusedN += v
		if v, ok := metricValue(text, "ditto_ratelimit_breaker_state", map[string]string{"state": "closed"}); !ok || v != 1 {
			t.Errorf("ditto_ratelimit_breaker_state{state=closed} = %v (found %v), want 1", v, ok)
		}
		if _, r := readyzOf(t, g.url); r.Status != "ready" || r.Limits == nil || *r.Limits != (limitsHealth{Backend: "redis", Mode: "exact", Breaker: "closed"}) {
			t.Errorf("/readyz = %+v (limits %+v), want ready with redis exact closed", r, r.Limits)
		}
	}
	if admitted != limit || refusedN != 12-limit {
		t.Errorf("ditto_ratelimit_decisions_total across replicas: admitted %v refused %v, want %d and %d", admitted, refusedN, limit, 12-limit)
	}
}

// When the limiter's Redis goes away, decisions follow limits.fail_open
// (admitted here) and say so: ditto_ratelimit_decisions_total{outcome=
// "degraded"}, the limiter breaker's gauge, and /readyz degraded with the
// limiter's breaker open.
func TestLimiterOutageIsVisible(t *testing.T) {
	// Runs last (cleanups run in reverse): go-redis's pools redial a dead
	// Redis in a loop that notices the closed client within a second.
	t.Cleanup(func() { time.Sleep(1100 * time.Millisecond) })
	srv := redistest.Start(t)
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Cache.Redis.URL = configs.Secret(srv.URL())
		c.Limits.Default.RequestsPerMinute = 1000
		c.Limits.BreakerFailures = 2
		c.Limits.BreakerCooldown = time.Minute
	})
	if code, _, _ := completion(t, g.url, "before the outage"); code != 200 {
		t.Fatalf("before the outage: %d", code)
	}
	srv.Kill()
	for i := range 3 {
		if code, _, _ := completion(t, g.url, fmt.Sprintf("during the outage %d", i)); code != 200 {
			t.Errorf("request %d during the outage: %d, want 200 (fail open)", i, code)
		}
	}
	text := scrape(t, g.url)
	if v, _ := metricValue(text, "ditto_ratelimit_decisions_total", map[string]string{"outcome": "degraded"}); v != 3 {
		t.Errorf("degraded decisions = %v, want 3", v)
	}
	if v, _ := metricValue(text, "ditto_ratelimit_errors_total", nil); v < 2 {
		t.Errorf("ditto_ratelimit_errors_total = %v, want at least 2", v)
	}
	if v, ok := metricValue(text, "ditto_ratelimit_breaker_state", map[string]string{"state": "open"}); !ok || v != 1 {
		t.Errorf("ditto_ratelimit_breaker_state{state=open} = %v (found %v), want 1", v, ok)
	}
	if _, r := readyzOf(t, g.url); r.Status != "degraded" || r.Limits == nil || r.Limits.Breaker != "open" {
		t.Errorf("/readyz = %+v (limits %+v), want degraded with the limiter's breaker open", r, r.Limits)
	}
}

// limits.rate_headers false keeps the x-ratelimit-* headers off admitted
// answers (misses and counted hits) and still sends them, with
// Retry-After, on a refusal.
func TestRateHeadersOnlyOnRefusals(t *testing.T) {
	up := fakeopenai.New(t)
	up.SetEcho(true)
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Limits.Default.RequestsPerMinute = 2
		c.Limits.CountHits = true
		c.Limits.RateHeaders = false
		d.Providers = map[string]providers.Provider{"openai": openai.New(openai.Options{BaseURL: up.BaseURL(), APIKey: "sk-test"})}
	})
	send := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, g.url+"/v1/chat/completions", strings.NewReader(chatBody("one question", false)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i, want := range []string{"MISS", "HIT"} {
		resp := send()
		if resp.StatusCode != 200 || resp.Header.Get("X-Ditto-Cache") != want {
			t.Fatalf("request %d: %d %s, want 200 %s", i, resp.StatusCode, resp.Header.Get("X-Ditto-Cache"), want)
		}
		for k := range resp.Header {
			if strings.HasPrefix(k, "X-Ratelimit-") {
				t.Errorf("request %d (%s) carries %s with rate_headers false", i, want, k)
			}
		}
	}
	resp := send() // the third request within the minute: over the limit of 2
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Errorf("refusal: %d, headers %v; want 429 with Retry-After and x-ratelimit-remaining-requests 0", resp.StatusCode, resp.Header)
	}
}

// On a pass-through provider the caller's own key goes upstream, and two
// callers' keys never share entries.
func TestPassThroughKeys(t *testing.T) {
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		p := c.Providers["openai"]
		p.PassThrough = true
		c.Providers["openai"] = p
	})
	g.up.SetEcho(true)
	ask := func(key string) string {
		t.Helper()
		_, status, _ := postTo(t, g.url, "/v1/chat/completions", chatBody("same question", false), "Authorization", "Bearer "+key)
		return status
	}
	if s := ask("sk-client-aaaa"); s != "MISS" {
		t.Fatalf("first caller: %s", s)
	}
	if s := ask("sk-client-aaaa"); s != "HIT" {
		t.Errorf("first caller again: %s, want HIT", s)
	}
	if s := ask("sk-client-bbbb"); s != "MISS" {
		t.Errorf("second caller: %s, want MISS (its own namespace)", s)
	}
	hs := g.up.Headers()
	if len(hs) != 2 || hs[0].Get("Authorization") != "Bearer sk-client-aaaa" || hs[1].Get("Authorization") != "Bearer sk-client-bbbb" {
		t.Errorf("upstream saw %d calls with %q, %q; want each caller's own key", len(hs), hs[0].Get("Authorization"), hs[len(hs)-1].Get("Authorization"))
	}
}

// A shadow-mode route answers every request from the provider but counts
// what would have hit, for the dashboard and statistics.
func TestShadowModeRoute(t *testing.T) {
	g := newTestGatewayWith(t, func(c *configs.Config, _ *Deps) {
		c.Routes = []configs.Route{{Model: "gpt-4o", Provider: "openai", Cache: configs.RouteCache{Shadow: true}}}
	})
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodPost, g.url+"/v1/chat/completions", strings.NewReader(chatBody("measure me", false)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cs := resp.Header.Get("Cache-Status")
		if resp.StatusCode != 200 || resp.Header.Get("X-Ditto-Cache") != "MISS" || (i == 1) != strings.Contains(cs, "detail=shadow-hit") {
			t.Errorf("request %d: %d %s %q", i, resp.StatusCode, resp.Header.Get("X-Ditto-Cache"), cs)
		}
	}
	if g.up.Calls() != 2 {
		t.Errorf("upstream calls = %d, want 2: shadow mode serves nothing from the cache", g.up.Calls())
	}
	_, _, body := getURL(t, g.url+"/v1/cache/stats?window=1h")
	if !strings.Contains(string(body), `"shadow_hits":1`) {
		t.Errorf("stats do not count the shadow hit: %s", body)
	}
}

// stale_while_revalidate: an entry past its TTL answers at once while one
// background refresh replaces it.
func TestStaleWhileRevalidateThroughTheGateway(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Cache.DefaultTTL = time.Minute
		c.Cache.StaleWhileRevalidate = 10 * time.Minute
		d.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	if _, status, _ := completion(t, g.url, "refresh me"); status != "MISS" {
		t.Fatalf("first: %s", status)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, g.url+"/v1/chat/completions", strings.NewReader(chatBody("refresh me", false)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Ditto-Cache") != "STALE" || !strings.Contains(resp.Header.Get("Cache-Status"), "stale-while-revalidate") {
		t.Fatalf("past the TTL: %s %q, want STALE stale-while-revalidate", resp.Header.Get("X-Ditto-Cache"), resp.Header.Get("Cache-Status"))
	}
	waitFor(t, func() bool { return g.up.Calls() == 2 }) // the background refresh
	waitFor(t, func() bool { _, status, _ := completion(t, g.url, "refresh me"); return status == "HIT" })
	if g.up.Calls() != 2 {
		t.Errorf("upstream calls = %d, want 2 (one refresh)", g.up.Calls())
	}
}

// getURL GETs url and returns status, X-Ditto-Cache and body.
func getURL(t *testing.T, url string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Ditto-Cache"), b
}

// JSON answers carry a strong ETag of their bytes; If-None-Match with it
// gets a 304 without a body.
func TestETag(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	req := func(inm string) *http.Response {
		r, _ := http.NewRequest(http.MethodPost, g.url+"/v1/chat/completions", strings.NewReader(chatBody("tag me", false)))
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := req("")
	body, _ := io.ReadAll(first.Body)
	first.Body.Close()
	etag := first.Header.Get("ETag")
	if first.StatusCode != 200 || len(etag) != 18 || etag[0] != '"' {
		t.Fatalf("first: %d ETag %q", first.StatusCode, etag)
	}
	second := req("")
	body2, _ := io.ReadAll(second.Body)
	second.Body.Close()
	if second.Header.Get("ETag") != etag || string(body2) != string(body) {
		t.Errorf("the hit's ETag %q differs from the miss's %q for the same bytes", second.Header.Get("ETag"), etag)
	}
	nm := req(`"other", ` + etag)
	b, _ := io.ReadAll(nm.Body)
	nm.Body.Close()
	if nm.StatusCode != http.StatusNotModified || len(b) != 0 || nm.Header.Get("X-Ditto-Cache") != "HIT" {
		t.Errorf("If-None-Match: %d, %d bytes, %s; want 304, no body, HIT", nm.StatusCode, len(b), nm.Header.Get("X-Ditto-Cache"))
	}
	if r := req(`"nope"`); r.StatusCode != 200 {
		t.Errorf("a different ETag: %d, want 200", r.StatusCode)
	}
	// fetch (browsers, Node) adds Cache-Control: no-cache and Pragma:
	// no-cache to every request with If-None-Match; the conditional
	// request is still answered from the cache.
	calls := g.up.Calls()
	r, _ := http.NewRequest(http.MethodPost, g.url+"/v1/chat/completions", strings.NewReader(chatBody("tag me", false)))
	r.Header.Set("If-None-Match", etag)
	r.Header.Set("Cache-Control", "no-cache")
	r.Header.Set("Pragma", "no-cache")
	fetchLike, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	fetchLike.Body.Close()
	if fetchLike.StatusCode != http.StatusNotModified || fetchLike.Header.Get("X-Ditto-Cache") != "HIT" || g.up.Calls() != calls {
		t.Errorf("If-None-Match with fetch's no-cache: %d %s, %d upstream calls; want 304 HIT, none",
			fetchLike.StatusCode, fetchLike.Header.Get("X-Ditto-Cache"), g.up.Calls()-calls)
	}
}

// A retry with the same Idempotency-Key and body, sent while the first
// request is still running and under no-store, joins it: one provider
// call, the same answer. The same key with another body is a 422.
func TestIdempotentRetryDuringTheCall(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	g.up.SetEcho(true)
	release := g.up.Block()
	arrived := g.up.Arrivals()
	send := func(prompt, key string) (int, []byte, http.Header) {
		r, _ := http.NewRequest(http.MethodPost, g.url+"/v1/chat/completions", strings.NewReader(chatBody(prompt, false)))
		r.Header.Set("Idempotency-Key", key)
		r.Header.Set("Cache-Control", "no-store")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Error(err)
			return 0, nil, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header
	}
	type result struct {
		code int
		body []byte
		h    http.Header
	}
	first := make(chan result, 1)
	go func() { c, b, h := send("pay once", "key-1"); first <- result{c, b, h} }()
	<-arrived // the first request is at the provider
	retry := make(chan result, 1)
	go func() { c, b, h := send("pay once", "key-1"); retry <- result{c, b, h} }()
	if code, b, _ := send("something else", "key-1"); code != http.StatusUnprocessableEntity || !strings.Contains(string(b), "idempotency_key_reused") {
		t.Errorf("same key, other body: %d %s, want 422 idempotency_key_reused", code, b)
	}
	release()
	a, r := <-first, <-retry
	if a.code != 200 || r.code != 200 || string(a.body) != string(r.body) {
		t.Fatalf("first %d, retry %d: bodies equal %v", a.code, r.code, string(a.body) == string(r.body))
	}
	if r.h.Get("Idempotent-Replayed") != "true" || g.up.Calls() != 1 {
		t.Errorf("retry replayed %q after %d upstream calls; want true after 1", r.h.Get("Idempotent-Replayed"), g.up.Calls())
	}
	// Later retries still get it.
	if code, b, h := send("pay once", "key-1"); code != 200 || string(b) != string(a.body) || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("later retry: %d replayed %q", code, h.Get("Idempotent-Replayed"))
	}
	if g.up.Calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", g.up.Calls())
	}
}

// A tenant's spend on /v1/cache/stats is read only with that tenant's own
// key or the admin key; the rest of the page stays open.
func TestTenantSpendNeedsItsOwnKey(t *testing.T) {
	g := authedGateway(t, nil)
	url := g.url + "/v1/cache/stats?window=1h&tenant=acme"
	for _, tc := range []struct {
		token string
		want  int
	}{{keyAcme, 200}, {adminKey, 200}, {keyBeta, 403}, {"", 401}} {
		if code, _, m := call(t, "GET", url, tc.token, ""); code != tc.want {
			t.Errorf("token %q: %d %v, want %d", tc.token, code, m, tc.want)
		}
	}
	if code, _, _ := call(t, "GET", g.url+"/v1/cache/stats?window=1h", "", ""); code != 200 {
		t.Errorf("stats without tenant: %d, want 200 (open)", code)
	}
}

// With limits.count_hits, a hit of a request the memo knows is admitted
// with its cached answer's exact token count, so it settles with nothing
// to correct: one limiter round trip per counted hit on Redis, not two
// (Admit with an estimate, then a correction). With limits.sync_interval
// the hits are decided on the replica's copies of the buckets: none.
func TestCountedHitIsOneLimiterRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		sync time.Duration
		want int64 // limiter scripts for 5 counted hits
	}{
		{"exact", 0, 5},          // one Admit each, no correction
		{"sync", time.Minute, 0}, // decided on the replica's copies; the sync is later
	} {
		t.Run(tc.name, func(t *testing.T) { countedHitScripts(t, tc.sync, tc.want) })
	}
}

// redisCalls counts calls of each named command on srv (INFO
// commandstats), e.g. "get", "evalsha", "eval".
func redisCalls(t *testing.T, srv *redistest.Server, cmds ...string) int64 {
	t.Helper()
	var n int64
	for _, line := range strings.Split(srv.Client().Info(context.Background(), "commandstats").Val(), "\n") {
		for _, cmd := range cmds {
			if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
				v, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
				n += v
			}
		}
	}
	return n
}

// A request the memo knows (it was a hit) is looked up with a plain GET on
// Redis, not the script that also takes the fill lease: cheaper on both
// sides. An unknown one still takes the lease with its lookup.
func TestMemoizedHitIsAPlainGet(t *testing.T) {
	srv := redistest.Start(t)
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Cache.Redis.URL = configs.Secret(srv.URL()) // cache.fill_lease on, as by default
	})
	for i, want := range []string{"MISS", "HIT"} { // the first hit enters the memo
		if code, status, _ := completion(t, g.url, "memo question"); code != 200 || status != want {
			t.Fatalf("request %d: %d %s, want 200 %s", i, code, status, want)
		}
	}
	scripts, gets := redisCalls(t, srv, "evalsha", "eval"), redisCalls(t, srv, "get")
	const hits = 3
	for i := range hits {
		if code, status, _ := completion(t, g.url, "memo question"); code != 200 || status != "HIT" {
			t.Fatalf("hit %d: %d %s", i, code, status)
		}
	}
	if got := redisCalls(t, srv, "evalsha", "eval") - scripts; got != 0 {
		t.Errorf("%d memoized hits ran %d scripts, want 0", hits, got)
	}
	if got := redisCalls(t, srv, "get") - gets; got != hits {
		t.Errorf("%d memoized hits made %d GETs, want %d", hits, got, hits)
	}
	scripts = redisCalls(t, srv, "evalsha", "eval")
	if code, status, _ := completion(t, g.url, "a new question"); code != 200 || status != "MISS" {
		t.Fatalf("new question: %d %s", code, status)
	}
	if got := redisCalls(t, srv, "evalsha", "eval") - scripts; got < 1 {
		t.Errorf("a miss ran %d scripts, want its lookup to take the fill lease", got)
	}
}

func countedHitScripts(t *testing.T, sync time.Duration, want int64) {
	srv := redistest.Start(t)
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Cache.Redis.URL = configs.Secret(srv.URL())
		c.Cache.FillLease = 0 // the cache's own commands are then GET and SET, no scripts
		c.Limits.Default.TokensPerMinute = 1 << 30
		c.Limits.CountHits = true
		c.Limits.SyncInterval = sync
	})
	scripts := func() int64 { return redisCalls(t, srv, "evalsha", "eval") }
	for i, want := range []string{"MISS", "HIT"} { // the first hit teaches the memo its tokens
		if code, status, _ := completion(t, g.url, "counted question"); code != 200 || status != want {
			t.Fatalf("request %d: %d %s, want 200 %s", i, code, status, want)
		}
	}
	before := scripts()
	const hits = 5
	for i := range hits {
		if code, status, _ := completion(t, g.url, "counted question"); code != 200 || status != "HIT" {
			t.Fatalf("hit %d: %d %s", i, code, status)
		}
	}
	if got := scripts() - before; got != want {
		t.Errorf("limiter scripts for %d counted hits = %d, want %d", hits, got, want)
	}
}
