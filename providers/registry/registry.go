// Package registry builds provider adapters from configuration. It is the
// one place that maps a configured provider type to its adapter package.
package registry

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/anthropic"
	"github.com/dittocache/ditto/providers/azure"
	"github.com/dittocache/ditto/providers/gemini"
	"github.com/dittocache/ditto/providers/openai"
	"github.com/dittocache/ditto/providers/simulated"
)

// Build returns one adapter per configured provider, keyed by provider
// name. All adapters share one tuned HTTP client built from cfg.Upstream
// unless client is non-nil.
func Build(cfg *configs.Config, client *http.Client) (map[string]providers.Provider, error) {
	if client == nil {
		client = providers.NewHTTPClient(providers.HTTPOptions{
			ConnectTimeout:      cfg.Upstream.ConnectTimeout,
			FirstByteTimeout:    cfg.Upstream.FirstByteTimeout,
			MaxIdleConnsPerHost: cfg.Upstream.MaxIdleConnsPerHost,
		})
	}
	names := make([]string, 0, len(cfg.Providers))
	for name := range cfg.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make(map[string]providers.Provider, len(names))
	for _, name := range names {
		p, err := build(name, cfg.Providers[name], client)
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}

func build(name string, pc configs.Provider, client *http.Client) (providers.Provider, error) {
	switch pc.Type {
	case "openai":
		return openai.New(openai.Options{Name: name, BaseURL: pc.BaseURL, APIKey: pc.APIKey.Value(), HTTPClient: client}), nil
	case "anthropic":
		return anthropic.New(anthropic.Options{BaseURL: pc.BaseURL, APIKey: pc.APIKey.Value(), HTTPClient: client, DefaultMaxTokens: pc.MaxTokens}), nil
	case "gemini":
		return gemini.New(gemini.Options{BaseURL: pc.BaseURL, APIKey: pc.APIKey.Value(), HTTPClient: client}), nil
	case "azure":
		return azure.New(azure.Options{Endpoint: pc.BaseURL, APIKey: pc.APIKey.Value(), APIVersion: pc.APIVersion, HTTPClient: client}), nil
	case "simulated":
		return simulated.New(simulated.Options{Latency: pc.Latency, ChunkCount: pc.ChunkCount, ChunkDelay: pc.ChunkDelay}), nil
	default:
		return nil, fmt.Errorf("unknown provider type %q", pc.Type)
	}
}
