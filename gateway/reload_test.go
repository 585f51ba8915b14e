package gateway

import (
	"slices"
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/openai"
)

// Reload swaps keys and limits but keeps what tenants used of their
// limits and the cached entries; restart-only sections keep their running
// values; an invalid config changes nothing.
func TestReload(t *testing.T) {
	g := newTestGateway(t, testOpts{cfg: func(c *configs.Config) {
		c.Auth.Keys = []configs.APIKey{{Name: "acme", Tenant: "acme", SHA256: sha(keyAcme)}}
		c.Limits.Default.RequestsPerMinute = 2
	}})
	chat := g.url + "/v1/chat/completions"
	provs := map[string]providers.Provider{"openai": openai.New(openai.Options{BaseURL: g.up.BaseURL(), APIKey: "sk-test"})}
	for _, p := range []string{"q1", "q2"} {
		if status, _, m := call(t, "POST", chat, keyAcme, chatBody(p, false)); status != 200 {
			t.Fatalf("%s: %d %v", p, status, m)
		}
	}
	if status, _, _ := call(t, "POST", chat, keyBeta, chatBody("q1", false)); status != 401 {
		t.Fatalf("beta before the reload: %d, want 401", status)
	}

	next := configs.Default()
	next.Auth.Keys = []configs.APIKey{
		{Name: "acme", Tenant: "acme", SHA256: sha(keyAcme)},
		{Name: "beta", Tenant: "beta", SHA256: sha(keyBeta)},
	}
	next.Limits.Default.RequestsPerMinute = 2
	next.Limits.Tenants = map[string]configs.Rate{"beta": {RequestsPerMinute: 3}}
	next.Server.Addr = "127.0.0.1:1" // restart only
	changed, err := g.Reload(next, provs)
	if err != nil || !slices.Equal(changed, []string{"server"}) {
		t.Fatalf("Reload = %v, %v; want [server], nil", changed, err)
	}
	if g.gens.cur.Load().cfg.Server.Addr == "127.0.0.1:1" {
		t.Error("server.addr changed by a reload")
	}
	// acme used its 2 requests before the reload: they still count.
	if status, _, m := call(t, "POST", chat, keyAcme, chatBody("q3", false)); status != 429 {
		t.Errorf("acme after the reload: %d %v, want 429 (its use kept)", status, m)
	}
	// A hit is free, and the entry survived the reload.
	if status, h, _ := call(t, "POST", chat, keyAcme, chatBody("q1", false)); status != 200 || h.Get("X-Ditto-Cache") != "HIT" {
		t.Errorf("q1 after the reload: %d %s, want a HIT", status, h.Get("X-Ditto-Cache"))
	}
	// The new key serves, under its new limit of 3.
	for i, want := range []int{200, 200, 200, 429} {
		if status, _, m := call(t, "POST", chat, keyBeta, chatBody("b"+string(rune('0'+i)), false)); status != want {
			t.Errorf("beta request %d after the reload: %d %v, want %d", i, status, m, want)
		}
	}

	bad := configs.Default()
	bad.Routes = []configs.Route{{Model: "x", Provider: "nope"}}
	if _, err := g.Reload(bad, provs); err == nil {
		t.Fatal("Reload of a config routing to an unknown provider succeeded")
	}
	if status, h, _ := call(t, "POST", chat, keyBeta, chatBody("b0", false)); status != 200 || h.Get("X-Ditto-Cache") != "HIT" {
		t.Errorf("beta after the failed reload: %d %s, want a 200 HIT (old config kept)", status, h.Get("X-Ditto-Cache"))
	}
}
