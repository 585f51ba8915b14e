package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if c.Server.Addr != "127.0.0.1:8080" {
		t.Errorf("default addr = %q, want 127.0.0.1:8080", c.Server.Addr)
	}
	if c.Providers["openai"].BaseURL != "https://api.openai.com/v1" {
		t.Errorf("default openai base = %q", c.Providers["openai"].BaseURL)
	}
	if c.Cache.Redis.URL != "" {
		t.Error("default must use the embedded store")
	}
}

func TestLoadEnv(t *testing.T) {
	c, err := Load(env(map[string]string{
		"DITTO_ADDR":         "0.0.0.0:9000",
		"REDIS_URL":          "redis://:pw@127.0.0.1:6379/0",
		"OPENAI_API_KEY":     "sk-canary",
		"OPENAI_BASE_URL":    "http://127.0.0.1:1234/v1",
		"ANTHROPIC_API_KEY":  "ak",
		"ANTHROPIC_BASE_URL": "http://127.0.0.1:1/",
		"GEMINI_API_KEY":     "gk",
		"GEMINI_BASE_URL":    "http://127.0.0.1:2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "0.0.0.0:9000" || c.Cache.Redis.URL.Value() != "redis://:pw@127.0.0.1:6379/0" {
		t.Errorf("env not applied: %+v", c.Server)
	}
	if p := c.Providers["openai"]; p.APIKey.Value() != "sk-canary" || p.BaseURL != "http://127.0.0.1:1234/v1" {
		t.Errorf("openai = %+v", p)
	}
	if c.Providers["anthropic"].APIKey.Value() != "ak" || c.Providers["gemini"].BaseURL != "http://127.0.0.1:2" {
		t.Errorf("providers = %+v", c.Providers)
	}
	dump := fmt.Sprintf("%v %+v %#v", c, c, c)
	for _, secret := range []string{"sk-canary", ":pw@"} {
		if strings.Contains(dump, secret) {
			t.Errorf("formatted config reveals %q", secret)
		}
	}
}

func TestLoadFileStrictAndMerged(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`
cache:
  default_ttl: 1h
providers:
  openai:
    base_url: http://127.0.0.1:9/v1
  local:
    type: openai
    base_url: http://127.0.0.1:11434/v1
routes:
  - model: llama-*
    provider: local
    aliases: [fast]
`), 0o600)
	c, err := Load(env(map[string]string{"DITTO_CONFIG": good, "OPENAI_API_KEY": "k"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cache.DefaultTTL != time.Hour || c.Cache.MaxTTL != 720*time.Hour {
		t.Errorf("ttl = %v/%v", c.Cache.DefaultTTL, c.Cache.MaxTTL)
	}
	if p := c.Providers["openai"]; p.Type != "openai" || p.APIKey.Value() != "k" || p.BaseURL != "http://127.0.0.1:9/v1" {
		t.Errorf("merged openai = %+v", p)
	}
	if _, ok := c.Providers["anthropic"]; !ok {
		t.Error("file dropped the built-in anthropic provider")
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("cache:\n  defualt_ttl: 1h\n"), 0o600)
	if _, err := Load(env(map[string]string{"DITTO_CONFIG": bad})); err == nil || !strings.Contains(err.Error(), "defualt_ttl") {
		t.Errorf("unknown key: err = %v, want it named", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Server.Addr = "nonsense"
	c.Cache.DefaultTTL = 0
	c.Cache.Redis.URL = "http://user:secretpw@host"
	c.Log.Level = "loud"
	c.Routes = []Route{{Model: "x", Provider: "nope"}}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	for _, want := range []string{"server.addr", "cache.default_ttl", "cache.redis.url", "log.level", "routes[0].provider"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secretpw") {
		t.Error("validation error reveals the redis password")
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load(env(map[string]string{"DITTO_CONFIG": "example.yaml"}))
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if len(c.Routes) == 0 || c.Providers["local"].BaseURL == "" {
		t.Errorf("example.yaml not applied: %+v", c.Routes)
	}
}

func TestRouteCacheMatch(t *testing.T) {
	c := Default()
	c.Routes = []Route{
		{Model: "a", Provider: "openai", Cache: RouteCache{IgnoreFields: []string{"seed", "user_id"}, TrimTrailingWhitespace: true}},
		{Model: "b", Provider: "openai", Cache: RouteCache{IgnoreFields: []string{"messages", "user"}}},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want errors for routes[1]")
	}
	for _, want := range []string{`routes[1].cache: ignore_fields: "messages"`, `routes[1].cache: ignore_fields: "user"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "routes[0]") {
		t.Errorf("Validate() rejects a valid route:\n%v", err)
	}
	if tag := c.Routes[0].Cache.Match().Tag(); !strings.HasPrefix(tag, "loose:") {
		t.Errorf("Match().Tag() = %q, want loose:…", tag)
	}
	if tag := (RouteCache{}).Match().Tag(); tag != "" {
		t.Errorf("default Match().Tag() = %q, want empty (strict)", tag)
	}
	ex, err := Load(env(map[string]string{"DITTO_CONFIG": "example.yaml"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ex.Routes {
		if r.Model == "llama-*" && (!r.Cache.TrimTrailingWhitespace || len(r.Cache.IgnoreFields) != 2) {
			t.Errorf("example.yaml llama-* cache = %+v, want the loose matching example", r.Cache)
		}
	}
}

func TestDisabledProviderIsRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("providers:\n  gemini:\n    disabled: true\n"), 0o600)
	c, err := Load(env(map[string]string{"DITTO_CONFIG": path}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Providers["gemini"]; ok {
		t.Error("disabled provider still configured")
	}
	if _, ok := c.Providers["openai"]; !ok {
		t.Error("other providers were dropped")
	}
}

func TestValidateControls(t *testing.T) {
	on := true
	tests := []struct {
		name string
		give func(c *Config)
		want string // substring of the error; "" means valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"limits", func(c *Config) {
			c.Limits.Default = Rate{RequestsPerMinute: 60, TokensPerMinute: 1000}
			c.Limits.Tenants = map[string]Rate{"acme": {RequestsPerMinute: 10}, "key-0123": {TokensPerMinute: 5}}
			c.Limits.Models = map[string]Rate{"gpt-4o": {TokensPerMinute: 100}}
		}, ""},
		{"negative rate", func(c *Config) { c.Limits.Tenants = map[string]Rate{"acme": {RequestsPerMinute: -1}} }, "limits.tenants.acme: requests_per_minute"},
		{"bad tenant", func(c *Config) { c.Limits.Tenants = map[string]Rate{"a/b": {}} }, "limits.tenants.a/b: tenant names"},
		{"empty model", func(c *Config) { c.Limits.Models = map[string]Rate{"": {}} }, "limits.models: model names"},
		{"zero timeout", func(c *Config) { c.Limits.Timeout = 0 }, "limits.timeout: must be positive"},
		{"zero breaker", func(c *Config) { c.Limits.BreakerFailures = 0 }, "limits.breaker_failures"},
		{"short entry key", func(c *Config) {
			c.Cache.Redis.EntryKeyEnv, c.Cache.Redis.EntryKey = "K", Secret("short")
		}, "cache.redis.entry_key_env: environment variable K must hold at least 32 bytes"},
		{"entry key", func(c *Config) {
			c.Cache.Redis.EntryKeyEnv, c.Cache.Redis.EntryKey = "K", Secret(strings.Repeat("k", 32))
		}, ""},
		{"negative provider breaker", func(c *Config) { c.Upstream.BreakerFailures = -1 }, "upstream.breaker_failures"},
		{"provider breaker without cool-down", func(c *Config) { c.Upstream.BreakerCooldown = 0 }, "upstream.breaker_failures"},
		{"provider breaker off", func(c *Config) { c.Upstream.BreakerFailures, c.Upstream.BreakerCooldown = 0, 0 }, ""},
		{"negative estimate", func(c *Config) { c.Limits.EstimatedOutputTokens = -5 }, "limits.estimated_output_tokens"},
		{"sync interval", func(c *Config) { c.Limits.SyncInterval = 100 * time.Millisecond }, ""},
		{"sync interval too short", func(c *Config) { c.Limits.SyncInterval = time.Microsecond }, "limits.sync_interval"},
		{"sync interval too long", func(c *Config) { c.Limits.SyncInterval = 2 * time.Minute }, "limits.sync_interval"},
		{"budgets", func(c *Config) { c.Budgets.Tenants = map[string]Budget{"acme": {DailyUSD: 1.5, MonthlyUSD: 20}} }, ""},
		{"negative budget", func(c *Config) { c.Budgets.Default.MonthlyUSD = -1 }, "budgets.default: daily_usd and monthly_usd"},
		{"budget tenant", func(c *Config) { c.Budgets.Tenants = map[string]Budget{"no spaces": {}} }, "budgets.tenants.no spaces"},
		{"jwks", func(c *Config) {
			c.Auth.JWT.JWKSURL = "https://idp.example/jwks.json"
			c.Auth.JWT.Algorithms = []string{"RS256", "EdDSA"}
		}, ""},
		{"jwks not a URL", func(c *Config) { c.Auth.JWT.JWKSURL = "idp.example/jwks" }, "auth.jwt.jwks_url"},
		{"jwks with HS256", func(c *Config) {
			c.Auth.JWT.JWKSURL = "https://idp.example/jwks.json"
			c.Auth.JWT.Algorithms = []string{"HS256"}
		}, `auth.jwt.algorithms: "HS256" is not one of RS256`},
		{"none", func(c *Config) {
			c.Auth.JWT.PublicKeyFile = "k.pem"
			c.Auth.JWT.Algorithms = []string{"none"}
		}, `auth.jwt.algorithms: "none"`},
		{"hmac with RS256", func(c *Config) {
			c.Auth.JWT.HMACSecretEnv, c.Auth.JWT.HMACSecret = "S", Secret(strings.Repeat("x", 32))
			c.Auth.JWT.Algorithms = []string{"RS256"}
		}, `auth.jwt.algorithms: "RS256" is not one of HS256`},
		{"two key sources", func(c *Config) {
			c.Auth.JWT.JWKSURL = "https://idp.example/jwks.json"
			c.Auth.JWT.PublicKeyFile = "k.pem"
		}, "auth.jwt: set one of"},
		{"jwks intervals", func(c *Config) {
			c.Auth.JWT.JWKSURL = "https://idp.example/jwks.json"
			c.Auth.JWT.JWKSMinRefreshInterval = 0
		}, "jwks_min_refresh_interval"},
		{"reserved tenant", func(c *Config) {
			c.Auth.Keys = []APIKey{{Tenant: "key-abc", SHA256: strings.Repeat("a", 64)}}
		}, `auth.keys[0].tenant: tenants starting with "key-"`},
		{"anonymous without pass-through", func(c *Config) { c.Auth.PassThroughAnonymous = true }, "auth.pass_through_anonymous"},
		{"anonymous with a pass-through route", func(c *Config) {
			c.Auth.PassThroughAnonymous = true
			c.Routes = []Route{{Model: "byok", Provider: "openai", PassThrough: &on}}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.give(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPassesThrough(t *testing.T) {
	on, off := true, false
	tests := []struct {
		name  string
		route *Route
		prov  Provider
		want  bool
	}{
		{"default", nil, Provider{}, false},
		{"provider on", nil, Provider{PassThrough: true}, true},
		{"route inherits", &Route{}, Provider{PassThrough: true}, true},
		{"route off", &Route{PassThrough: &off}, Provider{PassThrough: true}, false},
		{"route on", &Route{PassThrough: &on}, Provider{}, true},
	}
	for _, tt := range tests {
		if got := tt.route.PassesThrough(tt.prov); got != tt.want {
			t.Errorf("%s: PassesThrough = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestControlsDefaultsAndExample(t *testing.T) {
	c := Default()
	if !c.Limits.FailOpen || c.Limits.CountHits || c.Limits.Timeout <= 0 || c.Limits.EstimatedOutputTokens <= 0 {
		t.Errorf("default limits = %+v, want fail open, hits free, a timeout and an output estimate", c.Limits)
	}
	if c.Limits.Default != (Rate{}) || c.Budgets.Default != (Budget{}) {
		t.Errorf("defaults limit something: %+v %+v", c.Limits.Default, c.Budgets.Default)
	}
	if j := c.Auth.JWT; j.JWKSURL != "" || j.JWKSRefreshInterval <= 0 || j.JWKSMinRefreshInterval <= 0 || j.JWKSTimeout <= 0 {
		t.Errorf("default jwt = %+v", j)
	}
	ex, err := Load(env(map[string]string{"DITTO_CONFIG": "example.yaml"}))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Limits.Tenants["acme"].RequestsPerMinute != 3000 || ex.Limits.Models["gpt-4o-mini"].TokensPerMinute != 4000000 ||
		ex.Budgets.Tenants["acme"].MonthlyUSD != 3000 || !ex.Limits.FailOpen {
		t.Errorf("example limits/budgets not applied: %+v %+v", ex.Limits, ex.Budgets)
	}
	var byok *Route
	for i := range ex.Routes {
		if ex.Routes[i].Model == "byok-*" {
			byok = &ex.Routes[i]
		}
	}
	if byok == nil || !byok.PassesThrough(ex.Providers["openai"]) {
		t.Errorf("example byok-* route does not pass through: %+v", byok)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("limits:\n  tenant: {}\n"), 0o600)
	if _, err := Load(env(map[string]string{"DITTO_CONFIG": path})); err == nil || !strings.Contains(err.Error(), "tenant") {
		t.Errorf("unknown limits key: err = %v, want it named", err)
	}
}
