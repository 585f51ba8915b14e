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
