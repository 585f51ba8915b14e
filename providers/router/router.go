// Package router resolves the model a client asks for to a provider and
// upstream model (a Route), and calls that provider with retries and
// ordered fallbacks. It is transport-neutral toward clients: it takes and
// returns canonical requests and answers (package normalize).
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// Route is a resolved destination for one request.
type Route struct {
	Model         string // the name the client sent
	Provider      string // provider name, a key of the providers map
	UpstreamModel string // model name sent to the provider
	CacheEnabled  bool
	TTL           time.Duration // default TTL for entries of this route
	// SharedNamespace, when set, replaces the tenant namespace for this
	// route's entries (an explicit opt-in to cross-tenant sharing).
	SharedNamespace string
	Fallbacks       []string // model names tried in order when this route fails
	// Match loosens how this route's requests are matched (config
	// cache.ignore_fields and cache.trim_trailing_whitespace); the zero
	// value is strict matching.
	Match normalize.Options
	// Shadow: look up and count would-be hits, answer as if uncached
	// (routes[].cache.shadow).
	Shadow bool
	// PassThrough sends a client's own provider key upstream instead of
	// Ditto's (routes[].pass_through, providers.NAME.pass_through).
	PassThrough bool
}

// Key is the route part of cache keys: provider and upstream model, so
// aliases of one upstream model share entries and different providers or
// models never do.
func (r Route) Key() string { return r.Provider + "/" + r.UpstreamModel }

// RouteError is a model name that no configured provider serves.
type RouteError struct {
	Model    string
	Provider string // the provider it would route to; "" when none
}

func (e *RouteError) Error() string {
	if e.Provider != "" {
		return "The model `" + e.Model + "` routes to provider `" + e.Provider + "`, which is not configured."
	}
	return "The model `" + e.Model + "` does not exist or is not routable by this gateway."
}

// ErrStalled ends a stream whose provider sent nothing for the configured
// idle time; the partial answer is never stored.
var ErrStalled = errors.New("router: the upstream stream stalled and was cut")

// Observer receives the router's events; every field may be nil.
type Observer struct {
	// Attempt is called before each provider call (retries and fallbacks
	// each count) of a request for route r on route attempt (r itself or
	// a fallback); the context it returns is the call's (e.g. carrying a
	// span) and done is called with the call's outcome.
	Attempt func(ctx context.Context, r, attempt Route, req *normalize.Request) (context.Context, func(resp *normalize.Response, err error))
	// Embed is Attempt for each embeddings call; done gets the input
	// tokens the provider counted.
	Embed func(ctx context.Context, r Route, inputs int) (context.Context, func(model string, tokens int, err error))
	// Fallback reports that a fallback route answered for rt.
	Fallback func(rt, fallback Route)
}

// Options configures New.
type Options struct {
	// Providers maps provider names (configs.Config.Providers keys) to
	// adapters. Required.
	Providers map[string]providers.Provider
	// Logger receives operational events. Nil: slog.Default().
	Logger   *slog.Logger
	Observer Observer
	// Breakers skips routes that keep failing (see Breakers). Nil: every
	// route is always called.
	Breakers *Breakers
}

// Router is immutable after New and safe for concurrent use.
type Router struct {
	exact     map[string]*configs.Route
	wild      []*configs.Route
	cfg       map[string]configs.Provider
	cache     configs.Cache
	up        configs.Upstream
	providers map[string]providers.Provider
	log       *slog.Logger
	obs       Observer
	breakers  *Breakers
}

// New builds a router from cfg's routes, providers and upstream settings.
func New(cfg *configs.Config, o Options) *Router {
	rt := &Router{exact: map[string]*configs.Route{}, cfg: cfg.Providers, cache: cfg.Cache, up: cfg.Upstream,
		providers: o.Providers, log: o.Logger, obs: o.Observer, breakers: o.Breakers}
	if rt.log == nil {
		rt.log = slog.Default()
	}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		for _, name := range append([]string{r.Model}, r.Aliases...) {
			if strings.Contains(name, "*") {
				rt.wild = append(rt.wild, r)
			} else {
				rt.exact[name] = r
			}
		}
	}
	return rt
}

// Serves reports whether the router has an adapter for r's provider, or
// returns the *RouteError to answer with.
func (rt *Router) Serves(r Route) error {
	if _, ok := rt.providers[r.Provider]; !ok {
		return &RouteError{Model: r.Model, Provider: r.Provider}
	}
	return nil
}

// Provider returns the adapter of a route's provider.
func (rt *Router) Provider(name string) (providers.Provider, bool) {
	p, ok := rt.providers[name]
	return p, ok
}

// Resolve finds the route for a model name: configured names and aliases
// first, then "provider/model", then configured wildcards, then the
// zero-config prefixes (claude-* → anthropic, gemini-* → gemini, else
// openai). A name that routes to no configured provider is a *RouteError;
// Serves tells whether the route's adapter is there.
func (rt *Router) Resolve(model string) (Route, error) {
	if r, ok := rt.exact[model]; ok {
		return rt.fromConfig(model, r), nil
	}
	if prov, name, ok := strings.Cut(model, "/"); ok {
		if _, known := rt.cfg[prov]; known && name != "" {
			return rt.plain(model, prov, name), nil
		}
	}
	for _, r := range rt.wild {
		for _, pattern := range append([]string{r.Model}, r.Aliases...) {
			if ok, _ := path.Match(pattern, model); ok && strings.Contains(pattern, "*") {
				return rt.fromConfig(model, r), nil
			}
		}
	}
	prov := "openai"
	switch {
	case strings.HasPrefix(model, "claude-"):
		prov = "anthropic"
	case strings.HasPrefix(model, "gemini-"):
		prov = "gemini"
	}
	if _, ok := rt.cfg[prov]; !ok {
		return Route{}, &RouteError{Model: model}
	}
	return rt.plain(model, prov, model), nil
}

func (rt *Router) plain(model, prov, upstream string) Route {
	return Route{Model: model, Provider: prov, UpstreamModel: upstream, CacheEnabled: rt.cache.Enabled, TTL: rt.cache.DefaultTTL,
		PassThrough: (*configs.Route)(nil).PassesThrough(rt.cfg[prov])}
}

func (rt *Router) fromConfig(model string, r *configs.Route) Route {
	up := r.UpstreamModel
	if up == "" {
		up = model
	}
	out := rt.plain(model, r.Provider, up)
	if r.Cache.Enabled != nil {
		out.CacheEnabled = *r.Cache.Enabled && rt.cache.Enabled
	}
	if r.Cache.TTL > 0 {
		out.TTL = r.Cache.TTL
	}
	out.SharedNamespace = r.Cache.SharedNamespace
	out.Fallbacks = r.Fallbacks
	out.Match = r.Cache.Match()
	out.Shadow = r.Cache.Shadow
	out.PassThrough = r.PassesThrough(rt.cfg[r.Provider])
	return out
}

// Model is one row of the model list.
type Model struct {
	ID      string
	OwnedBy string
}

// Models lists the routable model names: configured routes and aliases
// (wildcards excluded), and catalog models of providers that have a key or
// a non-default base URL.
func (rt *Router) Models() []Model {
	seen := map[string]bool{}
	var out []Model
	add := func(id, owner string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, Model{ID: id, OwnedBy: owner})
		}
	}
	names := make([]string, 0, len(rt.exact))
	for name := range rt.exact {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		add(name, rt.exact[name].Provider)
	}
	def := configs.Default().Providers
	for _, m := range configs.Catalog {
		p, ok := rt.cfg[m.Provider]
		if !ok {
			continue
		}
		if p.APIKey == "" && p.BaseURL == def[m.Provider].BaseURL {
			continue
		}
		add(m.Model, m.Provider)
	}
	return out
}

// GenAIProvider maps a configured provider to the OpenTelemetry GenAI
// conventions' gen_ai.provider.name values.
func (rt *Router) GenAIProvider(name string) string {
	switch t := rt.cfg[name].Type; t {
	case "gemini":
		return "gcp.gemini"
	case "azure":
		return "azure.ai.openai"
	case "":
		return name
	default:
		return t
	}
}

// chain is a route followed by its resolvable fallbacks.
func (rt *Router) chain(r Route) []Route {
	routes := []Route{r}
	for _, name := range r.Fallbacks {
		fb, err := rt.Resolve(name)
		if err != nil {
			rt.log.Warn("skipping unroutable fallback", "route", r.Model, "fallback", name)
			continue
		}
		routes = append(routes, fb)
	}
	return routes
}

func errNoProvider(model string) error {
	return fmt.Errorf("router: %w", &RouteError{Model: model})
}
