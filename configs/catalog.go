package configs

import "strings"

// CatalogModel is a well-known model: listed by GET /v1/models when its
// provider is configured, and priced for the money-saved and budget
// figures.
type CatalogModel struct {
	Provider string
	Model    string
	Price    Price
}

// Catalog holds public list prices (USD per 1M tokens) as published by the
// providers in 2025. Operators override or extend them with `pricing:`.
var Catalog = []CatalogModel{
	{"openai", "gpt-5", Price{1.25, 10}},
	{"openai", "gpt-5-mini", Price{0.25, 2}},
	{"openai", "gpt-5-nano", Price{0.05, 0.40}},
	{"openai", "gpt-4.1", Price{2, 8}},
	{"openai", "gpt-4.1-mini", Price{0.40, 1.60}},
	{"openai", "gpt-4.1-nano", Price{0.10, 0.40}},
	{"openai", "gpt-4o", Price{2.50, 10}},
	{"openai", "gpt-4o-mini", Price{0.15, 0.60}},
	{"openai", "o3", Price{2, 8}},
	{"openai", "o4-mini", Price{1.10, 4.40}},
	{"openai", "text-embedding-3-small", Price{0.02, 0}},
	{"openai", "text-embedding-3-large", Price{0.13, 0}},
	{"openai", "text-embedding-ada-002", Price{0.10, 0}},
	{"anthropic", "claude-opus-4-1", Price{15, 75}},
	{"anthropic", "claude-sonnet-4-5", Price{3, 15}},
	{"anthropic", "claude-haiku-4-5", Price{1, 5}},
	{"anthropic", "claude-3-5-haiku-latest", Price{0.80, 4}},
	{"gemini", "gemini-2.5-pro", Price{1.25, 10}},
	{"gemini", "gemini-2.5-flash", Price{0.30, 2.50}},
	{"gemini", "gemini-2.5-flash-lite", Price{0.10, 0.40}},
	{"gemini", "gemini-2.0-flash", Price{0.10, 0.40}},
	{"gemini", "gemini-embedding-001", Price{0.15, 0}},
}

// Prices prices tokens: the catalog's list prices, overridden and extended
// by the configuration's pricing section. It is immutable and safe for
// concurrent use.
type Prices struct {
	m map[string]Price
}

// Prices returns the price list of c.
func (c *Config) Prices() *Prices {
	p := &Prices{m: make(map[string]Price, len(Catalog)+len(c.Pricing))}
	for _, m := range Catalog {
		p.m[m.Model] = m.Price
	}
	for m, pr := range c.Pricing {
		p.m[m] = pr
	}
	return p
}

// Lookup finds the price of a model, matching dated snapshots
// ("gpt-4o-2024-08-06") to their family by longest prefix.
func (p *Prices) Lookup(model string) (Price, bool) {
	f, ok := Family(model, func(m string) bool { _, ok := p.m[m]; return ok })
	return p.m[f], ok
}

// Family finds the longest name known reports true for among model and
// its prefixes cut at a '-' ("gpt-4o-2024-08-06", "gpt-4o-2024-08",
// "gpt-4o-2024", "gpt-4o", "gpt"): dated snapshots belong to their family.
func Family(model string, known func(string) bool) (string, bool) {
	for m := model; m != ""; {
		if known(m) {
			return m, true
		}
		i := strings.LastIndexByte(m, '-')
		if i <= 0 {
			break
		}
		m = m[:i]
	}
	return "", false
}

// Cost is the list price in USD of input and output tokens of model, and
// whether the model has a price.
func (p *Prices) Cost(model string, input, output int64) (float64, bool) {
	pr, ok := p.Lookup(model)
	if !ok {
		return 0, false
	}
	return (float64(input)*pr.Input + float64(output)*pr.Output) / 1e6, true
}
