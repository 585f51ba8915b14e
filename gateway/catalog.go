package gateway

import "strings"

// price is a model's list price in USD per million tokens.
type price struct {
	Input, Output float64
}

// catalogEntry is a well-known model: listed by GET /v1/models when its
// provider is configured, and priced for the money-saved figures.
type catalogEntry struct {
	Provider string
	Model    string
	Price    price
}

// catalog holds public list prices (USD per 1M tokens) as published by the
// providers in 2025. Operators override or extend them in config.
var catalog = []catalogEntry{
	{"openai", "gpt-5", price{1.25, 10}},
	{"openai", "gpt-5-mini", price{0.25, 2}},
	{"openai", "gpt-5-nano", price{0.05, 0.40}},
	{"openai", "gpt-4.1", price{2, 8}},
	{"openai", "gpt-4.1-mini", price{0.40, 1.60}},
	{"openai", "gpt-4.1-nano", price{0.10, 0.40}},
	{"openai", "gpt-4o", price{2.50, 10}},
	{"openai", "gpt-4o-mini", price{0.15, 0.60}},
	{"openai", "o3", price{2, 8}},
	{"openai", "o4-mini", price{1.10, 4.40}},
	{"anthropic", "claude-opus-4-1", price{15, 75}},
	{"anthropic", "claude-sonnet-4-5", price{3, 15}},
	{"anthropic", "claude-haiku-4-5", price{1, 5}},
	{"anthropic", "claude-3-5-haiku-latest", price{0.80, 4}},
	{"gemini", "gemini-2.5-pro", price{1.25, 10}},
	{"gemini", "gemini-2.5-flash", price{0.30, 2.50}},
	{"gemini", "gemini-2.5-flash-lite", price{0.10, 0.40}},
	{"gemini", "gemini-2.0-flash", price{0.10, 0.40}},
}

// catalogPrice finds the list price of an upstream model, matching dated
// snapshots ("gpt-4o-2024-08-06") to their family by longest prefix.
func catalogPrice(model string) (price, bool) {
	best := -1
	for i, m := range catalog {
		if (model == m.Model || strings.HasPrefix(model, m.Model+"-")) && (best < 0 || len(m.Model) > len(catalog[best].Model)) {
			best = i
		}
	}
	if best < 0 {
		return price{}, false
	}
	return catalog[best].Price, true
}
