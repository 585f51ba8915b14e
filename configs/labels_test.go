package configs

import (
	"strings"
	"testing"
)

func TestModelLabelsAreBounded(t *testing.T) {
	cfg := Default()
	cfg.Routes = []Route{
		{Model: "fast", Aliases: []string{"quick"}, Provider: "openai", UpstreamModel: "my-ft-1"},
		{Model: "llama-*", Provider: "openai"},
	}
	cfg.Pricing = map[string]Price{"house-model": {Input: 1, Output: 1}}
	l := NewModelLabels(cfg)
	tests := []struct{ give, want string }{
		{"fast", "fast"}, {"quick", "quick"}, {"gpt-4o", "gpt-4o"}, {"house-model", "house-model"},
		{"llama-3-70b", "llama-*"}, {"openai/gpt-4o", "openai/gpt-4o"}, {"nobody/gpt-4o", "other"},
		{"gpt-4o-2024-08-06", "other"}, {"random-" + strings.Repeat("x", 50), "other"},
	}
	for _, tt := range tests {
		if got := l.Requested(tt.give); got != tt.want {
			t.Errorf("Requested(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
	if got := l.Upstream("my-ft-1"); got != "my-ft-1" {
		t.Errorf("Upstream(my-ft-1) = %q", got)
	}
	if got := l.Response("gpt-4o-2024-08-06", "gpt-4o"); got != "gpt-4o-2024-08-06" {
		t.Errorf("Response(dated snapshot) = %q", got)
	}
	if got := l.Response("weird/model.gguf", "x"); got != "other" {
		t.Errorf("Response(unknown) = %q", got)
	}
	if got := l.Response("", "my-ft-1"); got != "my-ft-1" {
		t.Errorf("Response(empty) = %q", got)
	}
	p := cfg.Prices()
	if pr, ok := p.Lookup("gpt-4o-mini-2024-07-18"); !ok || pr.Input != 0.15 {
		t.Errorf("price of a gpt-4o-mini snapshot = %+v, %v", pr, ok)
	}
	if _, ok := p.Lookup("unknown"); ok {
		t.Error("an unknown model has a price")
	}
}
