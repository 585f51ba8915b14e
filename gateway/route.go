package gateway

import (
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/normalize"
)

// Route is a resolved destination for one request.
type Route struct {
	Model         string // the name the client sent
	Provider      string // provider name, a key of Deps.Providers
	UpstreamModel string // model name sent to the provider
	CacheEnabled  bool
	TTL           time.Duration // default TTL for entries of this route
	// SharedNamespace, when set, replaces the tenant namespace for this
	// route's entries (an explicit opt-in to cross-tenant sharing).
	SharedNamespace string
	Fallbacks       []string // model names tried in order when this route fails
	// Match loosens how this route's requests are matched (config
	// cache.ignore_fields and cache.trim_trailing_whitespace); the zero
	// value is strict matching. Keys made with it must use keyNamespace.
	Match normalize.Options
}

// keyNamespace returns the namespace of this route's cache keys: ns under
// strict matching, ns + "/" + Match.Tag() under looser matching, so loose
// and strict entries never mix. A tag cannot collide with a sub-namespace:
// those are letters, digits, '.', '_' and '-', and tags contain ':'.
func (r Route) keyNamespace(ns string) string {
	if tag := r.Match.Tag(); tag != "" {
		return ns + "/" + tag
	}
	return ns
}

// Key is the route part of cache keys: provider and upstream model, so
// aliases of one upstream model share entries and different providers or
// models never do.
func (r Route) Key() string { return r.Provider + "/" + r.UpstreamModel }

// router resolves model names. It is immutable after construction.
type router struct {
	exact     map[string]*configs.Route
	wild      []*configs.Route
	providers map[string]configs.Provider
	cache     configs.Cache
}

func newRouter(cfg *configs.Config) *router {
	rt := &router{exact: map[string]*configs.Route{}, providers: cfg.Providers, cache: cfg.Cache}
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

// resolve finds the route for a model name: configured names and aliases
// first, then "provider/model", then configured wildcards, then the
// zero-config prefixes (claude-* → anthropic, gemini-* → gemini, else openai).
func (rt *router) resolve(model string) (Route, error) {
	if r, ok := rt.exact[model]; ok {
		return rt.fromConfig(model, r), nil
	}
	if prov, name, ok := strings.Cut(model, "/"); ok {
		if _, known := rt.providers[prov]; known && name != "" {
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
	if _, ok := rt.providers[prov]; !ok {
		return Route{}, apiError(http.StatusNotFound, "invalid_request_error", "model_not_found", "model",
			"The model `"+model+"` does not exist or is not routable by this gateway.")
	}
	return rt.plain(model, prov, model), nil
}

func (rt *router) plain(model, prov, upstream string) Route {
	return Route{Model: model, Provider: prov, UpstreamModel: upstream, CacheEnabled: rt.cache.Enabled, TTL: rt.cache.DefaultTTL}
}

func (rt *router) fromConfig(model string, r *configs.Route) Route {
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
	return out
}

// modelEntry is one row of GET /v1/models.
type modelEntry struct {
	ID      string
	OwnedBy string
}

// models lists the routable model names: configured routes and aliases
// (wildcards excluded), and catalog models of providers that have a key or
// a non-default base URL.
func (rt *router) models() []modelEntry {
	seen := map[string]bool{}
	var out []modelEntry
	add := func(id, owner string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, modelEntry{ID: id, OwnedBy: owner})
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
	for _, m := range catalog {
		p, ok := rt.providers[m.Provider]
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
