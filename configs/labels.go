package configs

import (
	"path"
	"strings"
)

// OtherModel is the label of every model name the gateway was not
// configured for, so clients cannot grow metric cardinality.
const OtherModel = "other"

// ModelLabels bounds the model names used as metric labels and statistics
// keys to configured routes and aliases, wildcard patterns, configured and
// priced upstream models, and catalog models.
type ModelLabels struct {
	exact     map[string]bool // requested names kept as they are
	wild      []string        // wildcard route patterns, used as the label of what they match
	upstreams map[string]bool // upstream model names kept as they are
	providers map[string]Provider
}

// NewModelLabels returns the labels of cfg's names.
func NewModelLabels(cfg *Config) *ModelLabels {
	l := &ModelLabels{exact: map[string]bool{}, upstreams: map[string]bool{}, providers: cfg.Providers}
	for _, m := range Catalog {
		l.exact[m.Model] = true
		l.upstreams[m.Model] = true
	}
	for m := range cfg.Pricing {
		l.exact[m] = true
		l.upstreams[m] = true
	}
	for _, r := range cfg.Routes {
		for _, name := range append([]string{r.Model}, r.Aliases...) {
			if strings.Contains(name, "*") {
				l.wild = append(l.wild, name)
			} else {
				l.exact[name] = true
			}
		}
		if r.UpstreamModel != "" {
			l.upstreams[r.UpstreamModel] = true
		} else if !strings.Contains(r.Model, "*") {
			l.upstreams[r.Model] = true
		}
	}
	return l
}

// Requested labels a model name as a client sent it.
func (l *ModelLabels) Requested(name string) string {
	if l.exact[name] {
		return name
	}
	if prov, m, ok := strings.Cut(name, "/"); ok {
		if _, known := l.providers[prov]; known && l.upstreams[m] {
			return name
		}
	}
	for _, p := range l.wild {
		if ok, _ := path.Match(p, name); ok {
			return p
		}
	}
	return OtherModel
}

// Upstream labels a model name sent to a provider.
func (l *ModelLabels) Upstream(name string) string {
	if l.upstreams[name] {
		return name
	}
	return OtherModel
}

// Response labels the model a provider says answered: a known model or a
// dated snapshot of one ("gpt-4o-2024-08-06"); empty falls back to the
// model asked for.
func (l *ModelLabels) Response(name, asked string) string {
	if name == "" {
		return l.Upstream(asked)
	}
	if _, ok := Family(name, func(m string) bool { return l.upstreams[m] }); ok {
		return name
	}
	return OtherModel
}
