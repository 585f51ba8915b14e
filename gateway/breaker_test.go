package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/fakeopenai"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/openai"
)

// readyzOf returns GET /readyz's status code and answer.
func readyzOf(t *testing.T, url string) (int, readiness) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

// A provider that keeps failing is skipped for the cool-down: the next
// request gets a fast 503 in OpenAI's error shape (the provider is not
// called), a request with a stale entry gets the stale answer, /readyz
// says degraded and names the route, and /metrics shows it. After the
// cool-down one probe reaches the provider and closes the breaker.
func TestProviderBreakerThroughTheGateway(t *testing.T) {
	clk := &clock{now: time.Now()}
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Upstream.Retries = 0
		c.Upstream.BreakerFailures = 3
		c.Upstream.BreakerCooldown = 200 * time.Millisecond
		d.Now = clk.Now
	})
	ask := func(prompt string) (int, http.Header, []byte) {
		resp, err := post(context.Background(), t, g.url, chatBody(prompt, false))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	if code, h, _ := ask("cached before the outage"); code != 200 || h.Get("X-Ditto-Cache") != "MISS" {
		t.Fatalf("first request: %d %s", code, h.Get("X-Ditto-Cache"))
	}
	g.up.FailNext(fakeopenai.Failure{Status: 502}, fakeopenai.Failure{Status: 503}, fakeopenai.Failure{Status: 500})
	for _, p := range []string{"one", "two", "three"} {
		if code, _, _ := ask(p); code < 500 {
			t.Fatalf("%s during the outage: %d, want the provider's 5xx", p, code)
		}
	}
	calls := g.up.Calls()

	code, h, body := ask("four")
	var e struct {
		Error struct {
			Message, Type string
			Code          *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || code != http.StatusServiceUnavailable ||
		e.Error.Type != "server_error" || e.Error.Code == nil || *e.Error.Code != "upstream_circuit_open" {
		t.Fatalf("with the breaker open: %d %s, want 503 upstream_circuit_open", code, body)
	}
	if h.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1 (the 200 ms cool-down, rounded up)", h.Get("Retry-After"))
	}
	if g.up.Calls() != calls {
		t.Errorf("the provider was called %d times with its breaker open", g.up.Calls()-calls)
	}

	clk.Advance(25 * time.Hour) // past the TTL, within the stale grace
	if code, h, _ := ask("cached before the outage"); code != 200 || h.Get("X-Ditto-Cache") != "STALE" {
		t.Errorf("stale entry with the breaker open: %d %s, want 200 STALE", code, h.Get("X-Ditto-Cache"))
	}

	if code, r := readyzOf(t, g.url); code != 200 || r.Status != "degraded" || len(r.Providers) != 1 ||
		r.Providers[0].Route != "openai/gpt-4o" || r.Providers[0].State != "open" {
		t.Errorf("/readyz = %d %+v, want 200 degraded naming openai/gpt-4o open", code, r)
	}
	expectMetric(t, scrape(t, g.url), "ditto_upstream_breaker_open", map[string]string{"route": "openai/gpt-4o", "state": "open"}, 1)

	deadline := time.Now().Add(5 * time.Second)
	for {
		code, h, _ := ask("five")
		if code == 200 {
			if h.Get("X-Ditto-Cache") != "MISS" {
				t.Errorf("probe: %s, want MISS", h.Get("X-Ditto-Cache"))
			}
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("waiting for the cool-down: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, r := readyzOf(t, g.url); r.Status != "ready" || len(r.Providers) != 0 {
		t.Errorf("/readyz after recovery = %+v, want ready with no open routes", r)
	}
}

// A config reload keeps what the breakers learnt: the route stays open;
// new breaker settings start closed.
func TestProviderBreakerSurvivesReload(t *testing.T) {
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Upstream.Retries = 0
		c.Upstream.BreakerFailures = 2
		c.Upstream.BreakerCooldown = time.Minute
	})
	g.up.FailNext(fakeopenai.Failure{Status: 503}, fakeopenai.Failure{Status: 503})
	completion(t, g.url, "a")
	completion(t, g.url, "b")
	provs := map[string]providers.Provider{"openai": openai.New(openai.Options{BaseURL: g.up.BaseURL(), APIKey: "sk-test"})}
	next := *g.cfg
	next.Routes = []configs.Route{{Model: "alias", Provider: "openai", UpstreamModel: "gpt-4o"}}
	if _, err := g.Reload(&next, provs); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := completion(t, g.url, "c"); code != http.StatusServiceUnavailable {
		t.Errorf("after reload: %d, want 503 (the breaker is still open)", code)
	}
	next.Upstream.BreakerFailures = 3
	if _, err := g.Reload(&next, provs); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := completion(t, g.url, "c"); code != 200 {
		t.Errorf("after a reload with new breaker settings: %d, want 200", code)
	}
}
