// Package configs holds Ditto's typed configuration: the embedded defaults
// (default.yaml), strict decoding of a config file, environment overrides and
// validation. Configuration is loaded once, in cmd/ditto, and passed down as
// typed values; nothing else reads files or the environment for settings.
package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dittocache/ditto/normalize"
)

//go:embed default.yaml
var defaultYAML []byte

// Bytes returns the secret's bytes, nil when it is empty.
func (s Secret) Bytes() []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// Secret is a credential. It prints as REDACTED in logs, errors and dumps;
// Value returns the real string.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String implements fmt.Stringer without revealing the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// GoString keeps %#v from revealing the secret.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalYAML and MarshalJSON never write the secret.
func (s Secret) MarshalYAML() (any, error)    { return s.String(), nil }
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// Config is the whole configuration.
type Config struct {
	Server    Server              `yaml:"server"`
	Cache     Cache               `yaml:"cache"`
	Providers map[string]Provider `yaml:"providers"`
	Routes    []Route             `yaml:"routes"`
	Upstream  Upstream            `yaml:"upstream"`
	Auth      Auth                `yaml:"auth"`
	Log       Log                 `yaml:"log"`
	Stats     Stats               `yaml:"stats"`
	Pricing   map[string]Price    `yaml:"pricing"`
	Limits    Limits              `yaml:"limits"`
	Budgets   Budgets             `yaml:"budgets"`
}

// Auth configures who may call the gateway and which tenant (cache
// namespace) each caller gets. With no keys and no JWT configured the
// gateway is open and every caller shares cache.namespace.
type Auth struct {
	// AdminKeyEnv names the environment variable holding the admin key,
	// accepted as "Authorization: Bearer <key>" on admin endpoints
	// (DELETE /v1/cache). Unset or empty: admin endpoints are disabled.
	AdminKeyEnv string   `yaml:"admin_key_env"`
	Keys        []APIKey `yaml:"keys"`
	JWT         JWT      `yaml:"jwt"`
	// PassThroughAnonymous lets a caller with no Ditto key or token use
	// pass-through routes (routes[].pass_through, providers.*.pass_through)
	// with only its own provider key, on a gateway that otherwise requires
	// one. Off: such callers also need a Ditto credential, the provider key
	// then travelling in x-api-key or api-key. Open gateways need neither.
	PassThroughAnonymous bool `yaml:"pass_through_anonymous"`

	AdminKey Secret `yaml:"-"` // resolved from AdminKeyEnv
}

// APIKey is one client key. The key itself is either in the environment
// variable KeyEnv or given as its hex SHA-256, so config files hold no
// secrets.
type APIKey struct {
	Name   string `yaml:"name"`
	Tenant string `yaml:"tenant"`
	KeyEnv string `yaml:"key_env"`
	SHA256 string `yaml:"sha256"`
	Admin  bool   `yaml:"admin"`

	Key Secret `yaml:"-"` // resolved from KeyEnv
}

// JWT accepts bearer JSON Web Tokens. Exactly one of HMACSecretEnv
// (HS256/384/512), PublicKeyFile (PEM: RSA → RS*/PS*, ECDSA → ES*,
// Ed25519 → EdDSA) or JWKSURL (the identity provider's key set, fetched
// and refreshed; asymmetric algorithms only) is set; only the algorithms of
// that key family, narrowed by Algorithms when set, are accepted. Tokens
// must carry exp; nbf is honoured; iss and aud are checked when configured.
type JWT struct {
	Issuer        string        `yaml:"issuer"`
	Audience      string        `yaml:"audience"`
	TenantClaim   string        `yaml:"tenant_claim"`
	HMACSecretEnv string        `yaml:"hmac_secret_env"`
	PublicKeyFile string        `yaml:"public_key_file"`
	JWKSURL       string        `yaml:"jwks_url"`
	Algorithms    []string      `yaml:"algorithms"` // empty: every algorithm of the key family
	Leeway        time.Duration `yaml:"leeway"`
	// JWKSRefreshInterval is how often the key set is fetched again.
	JWKSRefreshInterval time.Duration `yaml:"jwks_refresh_interval"`
	// JWKSMinRefreshInterval bounds the extra fetches a token with an
	// unknown kid triggers: at most one per interval, so a storm of forged
	// kids costs the identity provider nothing.
	JWKSMinRefreshInterval time.Duration `yaml:"jwks_min_refresh_interval"`
	// JWKSTimeout bounds one fetch of the key set.
	JWKSTimeout time.Duration `yaml:"jwks_timeout"`

	HMACSecret Secret `yaml:"-"` // resolved from HMACSecretEnv
}

// Enabled reports whether JWTs are accepted.
func (j JWT) Enabled() bool { return j.HMACSecretEnv != "" || j.PublicKeyFile != "" || j.JWKSURL != "" }

// JWT algorithm families, for validation and for pinning the accepted
// methods to the configured key.
var (
	HMACAlgorithms       = []string{"HS256", "HS384", "HS512"}
	AsymmetricAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

// Server configures the HTTP listener.
type Server struct {
	Addr              string        `yaml:"addr"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	// BodyTimeout bounds reading a request's body (a slow or stalled
	// upload gets 408); ReadTimeout still bounds the whole request.
	BodyTimeout    time.Duration `yaml:"body_timeout"`
	MaxBodyBytes   int64         `yaml:"max_body_bytes"`
	MaxHeaderBytes int           `yaml:"max_header_bytes"`
	// MaxHeaderCount caps the number of header lines (431 beyond it).
	MaxHeaderCount int `yaml:"max_header_count"`
}

// Cache configures caching and the store.
type Cache struct {
	Enabled        bool          `yaml:"enabled"`
	Namespace      string        `yaml:"namespace"`
	DefaultTTL     time.Duration `yaml:"default_ttl"`
	MaxTTL         time.Duration `yaml:"max_ttl"`
	MemoryMaxBytes int64         `yaml:"memory_max_bytes"`
	// L1Bytes, with Redis, keeps hot entries in process too, up to this
	// many bytes (store.Tiered); 0 turns the in-process tier off.
	L1Bytes          int64         `yaml:"l1_bytes"`
	OperationTimeout time.Duration `yaml:"operation_timeout"`
	Coalesce         bool          `yaml:"coalesce"`
	// FillLease is how long one replica may hold the cross-replica fill
	// lease for a missing entry (Redis only); 0 disables cross-replica
	// coalescing.
	FillLease time.Duration `yaml:"fill_lease"`
	// StaleIfError keeps entries this long past their TTL; a stale entry
	// answers (X-Ditto-Cache: STALE) only when the provider fails.
	StaleIfError time.Duration `yaml:"stale_if_error"`
	// StaleWhileRevalidate serves an entry up to this long past its TTL at
	// once (X-Ditto-Cache: STALE) while one background refresh per key
	// replaces it; bounded by stale_if_error, which keeps it stored. 0: off.
	StaleWhileRevalidate time.Duration `yaml:"stale_while_revalidate"`
	// IdempotencyTTL is how long a request sent with an Idempotency-Key
	// is remembered: a retry with the same key and body gets its answer.
	IdempotencyTTL time.Duration `yaml:"idempotency_ttl"`
	// RecordTTL is how long Ditto keeps its record of each Responses API
	// answer, so a follow-up naming it (previous_response_id) works with
	// any provider.
	RecordTTL time.Duration `yaml:"record_ttl"`
	Redis     Redis         `yaml:"redis"`
}

// Redis configures the shared store. An empty URL selects the embedded
// in-memory store instead.
type Redis struct {
	URL          Secret        `yaml:"url"`
	Cluster      bool          `yaml:"cluster"` // treat a single-address URL as a Cluster seed
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	PoolSize     int           `yaml:"pool_size"`
	MinIdleConns int           `yaml:"min_idle_conns"`
	// AutoPipeline lets concurrent requests' lookups and rate-limit
	// decisions share pipelines (standalone and Sentinel; a Cluster sends
	// each on its own).
	AutoPipeline    bool          `yaml:"autopipeline"`
	BreakerFailures int           `yaml:"breaker_failures"`
	BreakerCooldown time.Duration `yaml:"breaker_cooldown"`
	// EntryKeyEnv names the environment variable holding the key that
	// seals every entry written to Redis (HMAC-SHA256); entries without a
	// valid seal are misses. "": entries are not sealed.
	EntryKeyEnv string `yaml:"entry_key_env"`
	EntryKey    Secret `yaml:"-"` // resolved from EntryKeyEnv
}

// Provider types understood by providers/registry.
var ProviderTypes = []string{"openai", "anthropic", "gemini", "azure", "simulated"}

// Provider configures one upstream. The API key is read from the environment
// variable named by APIKeyEnv; keys are never written in config files.
type Provider struct {
	// Disabled removes the provider (built-in ones included): its models
	// no longer route and the zero-config prefixes skip it (404).
	Disabled   bool   `yaml:"disabled"`
	Type       string `yaml:"type"`
	BaseURL    string `yaml:"base_url"`
	APIKeyEnv  string `yaml:"api_key_env"`
	APIVersion string `yaml:"api_version"` // azure
	// MaxTokens is the max_tokens sent to providers that require one
	// (Anthropic) when the client sends none. 0: the adapter's default.
	MaxTokens int `yaml:"max_tokens"`
	// PassThrough sends a client's own provider key (Authorization: Bearer,
	// x-api-key or api-key) upstream instead of APIKey on every route to
	// this provider that does not say otherwise; such callers get a tenant
	// of their own, derived from their key.
	PassThrough bool `yaml:"pass_through"`
	// Simulated provider settings.
	Latency    time.Duration `yaml:"latency"`
	ChunkCount int           `yaml:"chunk_count"`
	ChunkDelay time.Duration `yaml:"chunk_delay"`

	APIKey Secret `yaml:"-"` // resolved from APIKeyEnv at load time
}

// Route maps the model name a client sends to a provider and upstream model.
type Route struct {
	// Model is the name clients send; a trailing or embedded "*" matches any
	// run of characters (e.g. "llama-*").
	Model         string     `yaml:"model"`
	Provider      string     `yaml:"provider"`
	UpstreamModel string     `yaml:"upstream_model"` // empty: the requested name
	Aliases       []string   `yaml:"aliases"`
	Fallbacks     []string   `yaml:"fallbacks"` // other model names, tried in order
	Cache         RouteCache `yaml:"cache"`
	// PassThrough overrides the provider's pass_through for this route;
	// nil: the provider's setting.
	PassThrough *bool `yaml:"pass_through"`
}

// PassesThrough reports whether the route r (nil for a route not in the
// config, such as a "provider/model" name) to provider p sends a client's
// own provider key upstream.
func (r *Route) PassesThrough(p Provider) bool {
	if r != nil && r.PassThrough != nil {
		return *r.PassThrough
	}
	return p.PassThrough
}

// RouteCache is per-route cache policy.
type RouteCache struct {
	Enabled *bool         `yaml:"enabled"` // nil: cache.enabled
	TTL     time.Duration `yaml:"ttl"`     // 0: cache.default_ttl
	// SharedNamespace, when set, stores this route's entries in one
	// namespace shared by every tenant instead of per tenant.
	SharedNamespace string `yaml:"shared_namespace"`
	// IgnoreFields names top-level request fields left out of this route's
	// cache keys (e.g. seed, or an unknown user_id), so requests differing
	// only there share an answer. Off (empty) by default; fields that shape
	// the answer (messages, model, n, tools, ...) are refused. Loose entries
	// live in their own namespace (see docs/normalization.md).
	IgnoreFields []string `yaml:"ignore_fields"`
	// TrimTrailingWhitespace keys each text content without its trailing
	// white space. Off by default.
	TrimTrailingWhitespace bool `yaml:"trim_trailing_whitespace"`
	// Shadow looks every request up and counts what would have hit
	// (dashboard, statistics, ditto_cache_shadow_hits_total) but answers as
	// if the cache were off: each request makes its own provider call,
	// whose answer is stored. For measuring a route before turning its
	// cache on.
	Shadow bool `yaml:"shadow"`
}

// Match returns the route's looser matching options; the zero value (the
// default) is strict matching.
func (rc RouteCache) Match() normalize.Options {
	return normalize.Options{IgnoreFields: rc.IgnoreFields, TrimTrailingWhitespace: rc.TrimTrailingWhitespace}
}

// Upstream configures provider HTTP calls.
type Upstream struct {
	ConnectTimeout      time.Duration `yaml:"connect_timeout"`
	FirstByteTimeout    time.Duration `yaml:"first_byte_timeout"`
	TotalTimeout        time.Duration `yaml:"total_timeout"`
	StreamIdleTimeout   time.Duration `yaml:"stream_idle_timeout"`
	Retries             int           `yaml:"retries"`
	RetryBackoff        time.Duration `yaml:"retry_backoff"`
	MaxRetryWait        time.Duration `yaml:"max_retry_wait"`
	MaxIdleConnsPerHost int           `yaml:"max_idle_conns_per_host"`
	// BreakerFailures consecutive failed calls of one route (provider and
	// upstream model: transport failures, timeouts and 5xx, not 429; every
	// attempt counts, retries included) skip that route for
	// BreakerCooldown; 0 turns the provider breakers off.
	BreakerFailures int           `yaml:"breaker_failures"`
	BreakerCooldown time.Duration `yaml:"breaker_cooldown"`
}

// Log configures structured logging.
type Log struct {
	Level   string `yaml:"level"`
	Format  string `yaml:"format"`
	Prompts bool   `yaml:"prompts"`
}

// Default returns the embedded defaults, with no environment applied.
func Default() *Config {
	var c Config
	if err := decodeStrict(defaultYAML, &c); err != nil {
		panic("configs: embedded default.yaml is invalid: " + err.Error())
	}
	return &c
}

func decodeStrict(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Load builds the configuration: defaults, then the file named by
// DITTO_CONFIG (if any), then environment overrides, then Validate. getenv is
// os.Getenv in production and a map lookup in tests.
func Load(getenv func(string) string) (*Config, error) {
	c := Default()
	if path := getenv("DITTO_CONFIG"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := c.Merge(b); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	c.ApplyEnv(getenv)
	for name, p := range c.Providers {
		if p.Disabled {
			delete(c.Providers, name)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Merge decodes a YAML document over c, strictly: unknown keys are errors.
// Maps merge per key, so a file can change one provider without restating
// the others.
func (c *Config) Merge(b []byte) error {
	defaults := Default().Providers
	if err := decodeStrict(b, c); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	// YAML replaces a map value whole; keep the built-in settings a file did
	// not restate for the built-in providers.
	for name, p := range c.Providers {
		d, ok := defaults[name]
		if !ok {
			continue
		}
		if p.Type == "" {
			p.Type = d.Type
		}
		if p.BaseURL == "" {
			p.BaseURL = d.BaseURL
		}
		if p.APIKeyEnv == "" {
			p.APIKeyEnv = d.APIKeyEnv
		}
		c.Providers[name] = p
	}
	return nil
}

// ApplyEnv applies the environment variables of the README's Configuration table and resolves
// provider API keys.
func (c *Config) ApplyEnv(getenv func(string) string) {
	if v := getenv("DITTO_ADDR"); v != "" {
		c.Server.Addr = v
	}
	if v := getenv("REDIS_URL"); v != "" {
		c.Cache.Redis.URL = Secret(v)
	}
	if v := getenv("DITTO_LOG_LEVEL"); v != "" {
		c.Log.Level = v
	}
	if v := getenv("DITTO_LOG_FORMAT"); v != "" {
		c.Log.Format = v
	}
	for _, name := range []string{"openai", "anthropic", "gemini"} {
		p, ok := c.Providers[name]
		if !ok {
			continue
		}
		if v := getenv(strings.ToUpper(name) + "_BASE_URL"); v != "" {
			p.BaseURL = v
		}
		c.Providers[name] = p
	}
	if c.Auth.AdminKeyEnv != "" {
		c.Auth.AdminKey = Secret(getenv(c.Auth.AdminKeyEnv))
	}
	for i := range c.Auth.Keys {
		if k := &c.Auth.Keys[i]; k.KeyEnv != "" {
			k.Key = Secret(getenv(k.KeyEnv))
		}
	}
	if c.Cache.Redis.EntryKeyEnv != "" {
		c.Cache.Redis.EntryKey = Secret(getenv(c.Cache.Redis.EntryKeyEnv))
	}
	if c.Auth.JWT.HMACSecretEnv != "" {
		c.Auth.JWT.HMACSecret = Secret(getenv(c.Auth.JWT.HMACSecretEnv))
	}
	for name, p := range c.Providers {
		if p.APIKeyEnv != "" {
			p.APIKey = Secret(getenv(p.APIKeyEnv))
			c.Providers[name] = p
		}
	}
}

// Validate checks the configuration and reports every problem found, one
// per line, naming the offending key.
func (c *Config) Validate() error {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, args...))
	}
	if _, _, err := net.SplitHostPort(c.Server.Addr); err != nil {
		bad("server.addr", "%q is not host:port (%v)", c.Server.Addr, err)
	}
	if c.Server.ReadHeaderTimeout <= 0 {
		bad("server.read_header_timeout", "must be positive")
	}
	if c.Server.MaxBodyBytes <= 0 {
		bad("server.max_body_bytes", "must be positive")
	}
	if c.Server.MaxHeaderBytes <= 0 {
		bad("server.max_header_bytes", "must be positive")
	}
	if c.Server.MaxHeaderCount <= 0 {
		bad("server.max_header_count", "must be positive")
	}
	if c.Server.BodyTimeout < 0 {
		bad("server.body_timeout", "must not be negative")
	}
	if !ValidName(c.Cache.Namespace) {
		bad("cache.namespace", "must be 1-64 letters, digits, '.', '_' or '-'")
	}
	if c.Cache.DefaultTTL <= 0 {
		bad("cache.default_ttl", "must be positive")
	}
	if c.Cache.MaxTTL < c.Cache.DefaultTTL {
		bad("cache.max_ttl", "must be at least cache.default_ttl (%s)", c.Cache.DefaultTTL)
	}
	if c.Cache.MemoryMaxBytes <= 0 {
		bad("cache.memory_max_bytes", "must be positive")
	}
	if c.Cache.L1Bytes < 0 {
		bad("cache.l1_bytes", "must not be negative")
	}
	if c.Cache.StaleWhileRevalidate < 0 {
		bad("cache.stale_while_revalidate", "must not be negative")
	} else if c.Cache.StaleWhileRevalidate > c.Cache.StaleIfError {
		bad("cache.stale_while_revalidate", "must not exceed cache.stale_if_error, which keeps stale entries stored")
	}
	if c.Cache.IdempotencyTTL <= 0 {
		bad("cache.idempotency_ttl", "must be positive")
	}
	if c.Cache.RecordTTL <= 0 {
		bad("cache.record_ttl", "must be positive")
	}
	if c.Cache.StaleIfError < 0 {
		bad("cache.stale_if_error", "must not be negative")
	}
	if c.Cache.OperationTimeout <= 0 {
		bad("cache.operation_timeout", "must be positive")
	}
	if u := c.Cache.Redis.URL.Value(); u != "" {
		pu, err := url.Parse(u)
		switch {
		case err != nil:
			bad("cache.redis.url", "not a URL") // never echo it: it may hold a password
		case pu.Scheme != "redis" && pu.Scheme != "rediss" && pu.Scheme != "unix":
			bad("cache.redis.url", "scheme must be redis://, rediss:// or unix://, got %q", pu.Scheme)
		}
	}
	if c.Cache.Redis.BreakerFailures <= 0 {
		bad("cache.redis.breaker_failures", "must be positive")
	}
	names := make([]string, 0, len(c.Providers))
	for name := range c.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := c.Providers[name]
		key := "providers." + name
		if strings.ContainsAny(name, "/*: ") || name == "" {
			bad(key, "provider names may not contain '/', '*', ':' or spaces")
		}
		if !contains(ProviderTypes, p.Type) {
			bad(key+".type", "unknown type %q (want one of %s)", p.Type, strings.Join(ProviderTypes, ", "))
		}
		if p.Type != "simulated" {
			if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(key+".base_url", "%q is not an http(s) URL", p.BaseURL)
			}
		}
	}
	seen := map[string]bool{}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if r.Model == "" {
			bad(key+".model", "must not be empty")
		}
		if _, ok := c.Providers[r.Provider]; !ok {
			bad(key+".provider", "unknown provider %q", r.Provider)
		}
		for _, n := range append([]string{r.Model}, r.Aliases...) {
			if seen[n] {
				bad(key, "model name %q is routed twice", n)
			}
			seen[n] = true
		}
		if r.Cache.SharedNamespace != "" && !ValidName(r.Cache.SharedNamespace) {
			bad(key+".cache.shared_namespace", "must be 1-64 letters, digits, '.', '_' or '-'")
		}
		if r.Cache.TTL < 0 || r.Cache.TTL > c.Cache.MaxTTL {
			bad(key+".cache.ttl", "must be between 0 and cache.max_ttl")
		}
		if err := r.Cache.Match().Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				bad(key+".cache", "%s", line)
			}
		}
	}
	for i, r := range c.Routes {
		for _, f := range r.Fallbacks {
			if f == r.Model {
				bad(fmt.Sprintf("routes[%d].fallbacks", i), "a route cannot fall back to itself")
			}
		}
	}
	if c.Upstream.ConnectTimeout <= 0 || c.Upstream.FirstByteTimeout <= 0 || c.Upstream.TotalTimeout <= 0 || c.Upstream.StreamIdleTimeout <= 0 {
		bad("upstream", "connect_timeout, first_byte_timeout, total_timeout and stream_idle_timeout must be positive")
	}
	if c.Upstream.Retries < 0 || c.Upstream.Retries > 10 {
		bad("upstream.retries", "must be between 0 and 10")
	}
	if r := c.Cache.Redis; r.EntryKeyEnv != "" && len(r.EntryKey) < 32 {
		bad("cache.redis.entry_key_env", "environment variable %s must hold at least 32 bytes", r.EntryKeyEnv)
	}
	if c.Upstream.BreakerFailures < 0 || (c.Upstream.BreakerFailures > 0 && c.Upstream.BreakerCooldown <= 0) {
		bad("upstream.breaker_failures", "breaker_failures must not be negative and breaker_cooldown must be positive")
	}
	if c.Upstream.RetryBackoff <= 0 || c.Upstream.MaxRetryWait < 0 {
		bad("upstream.retry_backoff", "retry_backoff must be positive and max_retry_wait not negative")
	}
	c.validateAuth(bad)
	c.validateStats(bad)
	c.validateLimits(bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "must be json or text, got %q", c.Log.Format)
	}
	if len(errs) > 0 {
		return errors.New("invalid configuration:\n  " + strings.Join(errs, "\n  "))
	}
	return nil
}

func (c *Config) validateAuth(bad func(key, format string, args ...any)) {
	for i, k := range c.Auth.Keys {
		key := fmt.Sprintf("auth.keys[%d]", i)
		if !ValidName(k.Tenant) {
			bad(key+".tenant", "must be 1-64 letters, digits, '.', '_' or '-'")
		}
		switch {
		case k.KeyEnv != "" && k.SHA256 != "":
			bad(key, "set key_env or sha256, not both")
		case k.KeyEnv != "" && len(k.Key) < 16:
			bad(key+".key_env", "environment variable %s must hold a key of at least 16 characters", k.KeyEnv)
		case k.KeyEnv == "" && !isHexDigest(k.SHA256):
			bad(key+".sha256", "must be the 64 hex digits of the key's SHA-256 (or use key_env)")
		}
	}
	if c.Auth.AdminKey != "" && len(c.Auth.AdminKey) < 16 {
		bad("auth.admin_key_env", "the admin key in %s must be at least 16 characters", c.Auth.AdminKeyEnv)
	}
	for i, k := range c.Auth.Keys {
		if strings.HasPrefix(k.Tenant, PassThroughTenantPrefix) {
			bad(fmt.Sprintf("auth.keys[%d].tenant", i), "tenants starting with %q are reserved for pass-through callers", PassThroughTenantPrefix)
		}
	}
	if c.Auth.PassThroughAnonymous && !c.PassThroughConfigured() {
		bad("auth.pass_through_anonymous", "no route or provider sets pass_through")
	}
	j := c.Auth.JWT
	modes := 0
	for _, set := range []bool{j.HMACSecretEnv != "", j.PublicKeyFile != "", j.JWKSURL != ""} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		bad("auth.jwt", "set one of hmac_secret_env, public_key_file or jwks_url")
	}
	if j.HMACSecretEnv != "" && len(j.HMACSecret) < 32 {
		bad("auth.jwt.hmac_secret_env", "environment variable %s must hold at least 32 bytes", j.HMACSecretEnv)
	}
	if j.Enabled() && j.TenantClaim == "" {
		bad("auth.jwt.tenant_claim", "must not be empty")
	}
	if j.JWKSURL != "" {
		if u, err := url.Parse(j.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("auth.jwt.jwks_url", "%q is not an http(s) URL", j.JWKSURL)
		}
		if j.JWKSRefreshInterval <= 0 || j.JWKSMinRefreshInterval <= 0 || j.JWKSTimeout <= 0 {
			bad("auth.jwt", "jwks_refresh_interval, jwks_min_refresh_interval and jwks_timeout must be positive")
		}
	}
	family := AsymmetricAlgorithms
	if j.HMACSecretEnv != "" {
		family = HMACAlgorithms
	}
	for _, alg := range j.Algorithms {
		if !contains(family, alg) {
			bad("auth.jwt.algorithms", "%q is not one of %s (the configured key's family)", alg, strings.Join(family, ", "))
		}
	}
	if j.Leeway < 0 {
		bad("auth.jwt.leeway", "must not be negative")
	}
}

// PassThroughTenantPrefix starts the tenant of every pass-through caller
// ("key-" and a digest of its provider key); configured tenants may not use
// it.
const PassThroughTenantPrefix = "key-"

// PassThroughConfigured reports whether any provider or route passes
// client keys through (the gateway then keeps each caller's client key
// until its route is known).
func (c *Config) PassThroughConfigured() bool {
	for _, p := range c.Providers {
		if p.PassThrough {
			return true
		}
	}
	for _, r := range c.Routes {
		if r.PassThrough != nil && *r.PassThrough {
			return true
		}
	}
	return false
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// ValidName reports whether s is a valid namespace name: 1-64 letters,
// digits, '.', '_' or '-' (so it never contains the '/' that joins tenant
// and sub-namespace, nor the '@' of shared namespaces).
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// Stats configures the per-model statistics behind GET /v1/cache/stats and
// the dashboard, kept in Redis when cache.redis.url is set (so every
// replica shows the cluster's numbers), else in memory.
type Stats struct {
	FlushInterval   time.Duration `yaml:"flush_interval"`
	MaxPending      int           `yaml:"max_pending"`
	MinuteRetention time.Duration `yaml:"minute_retention"`
	HourRetention   time.Duration `yaml:"hour_retention"`
}

// Price is a model's price in USD per million tokens.
type Price struct {
	Input  float64 `yaml:"input"`
	Output float64 `yaml:"output"`
}

func (c *Config) validateStats(bad func(key, format string, args ...any)) {
	if c.Stats.FlushInterval <= 0 {
		bad("stats.flush_interval", "must be positive")
	}
	if c.Stats.MaxPending <= 0 {
		bad("stats.max_pending", "must be positive")
	}
	if c.Stats.MinuteRetention < time.Hour {
		bad("stats.minute_retention", "must be at least 1h (the 1h window reads minute buckets)")
	}
	if c.Stats.HourRetention < 24*time.Hour {
		bad("stats.hour_retention", "must be at least 24h (the 24h and 7d windows read hour buckets)")
	}
	models := make([]string, 0, len(c.Pricing))
	for m := range c.Pricing {
		models = append(models, m)
	}
	sort.Strings(models)
	for _, m := range models {
		if p := c.Pricing[m]; m == "" || p.Input < 0 || p.Output < 0 {
			bad("pricing."+m, "needs a model name and non-negative input and output prices")
		}
	}
}

// Limits configures rate limits: requests and tokens (input + output) per
// minute, per tenant and per upstream model, shared by every replica
// through cache.redis when it is set, else kept in process. A rate of 0 is
// unlimited.
type Limits struct {
	// FailOpen admits requests (true) or refuses them with 503 (false)
	// when Redis cannot decide; budgets follow the same choice.
	FailOpen bool `yaml:"fail_open"`
	// CountHits makes cache hits count against the caller's limits; by
	// default a hit is free: it uses no provider quota.
	CountHits bool `yaml:"count_hits"`
	// RateHeaders sends the x-ratelimit-* headers on every answer a limit
	// applied to, as OpenAI does; false sends them only with a refusal
	// (429 or 503), which saves six header lines on every other answer.
	RateHeaders bool `yaml:"rate_headers"`
	// Timeout bounds one decision's Redis round trip.
	Timeout time.Duration `yaml:"timeout"`
	// BreakerFailures consecutive Redis failures stop the limiter asking
	// Redis for BreakerCooldown (decisions then follow FailOpen at once).
	BreakerFailures int           `yaml:"breaker_failures"`
	BreakerCooldown time.Duration `yaml:"breaker_cooldown"`
	// EstimatedOutputTokens is the output assumed before the call when the
	// request sets no max_tokens; usage corrects it afterwards.
	EstimatedOutputTokens int `yaml:"estimated_output_tokens"`
	// SyncInterval, when positive and limits live in Redis, decides on
	// each replica from a local copy of every bucket and reconciles with
	// Redis every SyncInterval in the background: no round trip per
	// decision, at the price of exactness across replicas (they may
	// overspend a bucket by what it held at the last sync). 0 (the
	// default) decides every request in Redis, exactly.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// Default applies to every tenant without an entry in Tenants.
	Default Rate            `yaml:"default"`
	Tenants map[string]Rate `yaml:"tenants"`
	// Models limits upstream models (the name sent to the provider) across
	// all tenants, e.g. to stay within the provider account's own limits.
	Models map[string]Rate `yaml:"models"`
}

// Rate is one limit; 0 is unlimited.
type Rate struct {
	RequestsPerMinute int64 `yaml:"requests_per_minute"`
	TokensPerMinute   int64 `yaml:"tokens_per_minute"`
}

// Budgets configures spend limits in USD per tenant and UTC calendar
// day/month, priced from the catalog and pricing. 0 is unlimited.
type Budgets struct {
	Default Budget            `yaml:"default"` // every tenant without an entry in Tenants
	Tenants map[string]Budget `yaml:"tenants"`
}

// Budget is one tenant's spend limits in USD; 0 is unlimited.
type Budget struct {
	DailyUSD   float64 `yaml:"daily_usd"`
	MonthlyUSD float64 `yaml:"monthly_usd"`
}

func (c *Config) validateLimits(bad func(key, format string, args ...any)) {
	l := c.Limits
	if l.Timeout <= 0 {
		bad("limits.timeout", "must be positive")
	}
	if l.BreakerFailures <= 0 {
		bad("limits.breaker_failures", "must be positive")
	}
	if l.BreakerCooldown <= 0 {
		bad("limits.breaker_cooldown", "must be positive")
	}
	if l.EstimatedOutputTokens < 0 {
		bad("limits.estimated_output_tokens", "must not be negative")
	}
	if l.SyncInterval != 0 && (l.SyncInterval < time.Millisecond || l.SyncInterval > time.Minute) {
		bad("limits.sync_interval", "must be 0 (exact) or between 1ms and 1m")
	}
	rate := func(key string, r Rate) {
		if r.RequestsPerMinute < 0 || r.TokensPerMinute < 0 {
			bad(key, "requests_per_minute and tokens_per_minute must not be negative")
		}
	}
	rate("limits.default", l.Default)
	for _, name := range sortedKeys(l.Tenants) {
		if !ValidName(name) {
			bad("limits.tenants."+name, "tenant names are 1-64 letters, digits, '.', '_' or '-'")
		}
		rate("limits.tenants."+name, l.Tenants[name])
	}
	for _, name := range sortedKeys(l.Models) {
		if name == "" {
			bad("limits.models", "model names must not be empty")
		}
		rate("limits.models."+name, l.Models[name])
	}
	budget := func(key string, b Budget) {
		if b.DailyUSD < 0 || b.MonthlyUSD < 0 {
			bad(key, "daily_usd and monthly_usd must not be negative")
		}
	}
	budget("budgets.default", c.Budgets.Default)
	for _, name := range sortedKeys(c.Budgets.Tenants) {
		if !ValidName(name) {
			bad("budgets.tenants."+name, "tenant names are 1-64 letters, digits, '.', '_' or '-'")
		}
		budget("budgets.tenants."+name, c.Budgets.Tenants[name])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
