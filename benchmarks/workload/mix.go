package workload

import (
	"math/rand"
)

// Zipf draws prompt indexes in [0, n) with P(rank k) ∝ 1/(k+1)^s over a
// shuffled order, so the popular prompts are not simply the first ones of the
// file. The same seed gives the same sequence. Not safe for concurrent use.
type Zipf struct {
	z     *rand.Zipf
	order []int
}

// NewZipf returns a sampler over n items with exponent s > 1.
func NewZipf(seed int64, s float64, n int) *Zipf {
	r := rand.New(rand.NewSource(seed))
	return &Zipf{z: rand.NewZipf(r, s, 1, uint64(n-1)), order: r.Perm(n)}
}

// Next returns the next index.
func (z *Zipf) Next() int { return z.order[z.z.Uint64()] }

// Item is one request of a mix.
type Item struct {
	Prompt   int // index into the prompt list
	Spelling int // index into Spellings
	Body     []byte
}

// MixConfig describes a realistic mix.
type MixConfig struct {
	Seed     int64
	S        float64 // Zipf exponent, > 1
	Requests int
	Model    string
	Stop     string
}

// Mix returns cfg.Requests requests over prompts: the prompt drawn from a
// Zipf distribution, the spelling uniformly. Bodies of the same prompt and
// spelling share one slice.
func Mix(prompts []Prompt, cfg MixConfig) []Item {
	z := NewZipf(cfg.Seed, cfg.S, len(prompts))
	r := rand.New(rand.NewSource(cfg.Seed + 1))
	type ps struct{ p, s int }
	bodies := map[ps][]byte{}
	out := make([]Item, cfg.Requests)
	for i := range out {
		k := ps{z.Next(), r.Intn(len(Spellings))}
		b, ok := bodies[k]
		if !ok {
			b = Spellings[k.s].Encode(Chat{Model: cfg.Model, Prompt: prompts[k.p].Text, Stop: cfg.Stop})
			bodies[k] = b
		}
		out[i] = Item{Prompt: k.p, Spelling: k.s, Body: b}
	}
	return out
}

// IdealHits returns how many requests of items a cache could answer
// without an upstream call: logical when spellings of one prompt share a key,
// exact when only byte-identical bodies do.
func IdealHits(items []Item) (logical, exact int) {
	prompts := map[int]bool{}
	bodies := map[[2]int]bool{}
	for _, it := range items {
		prompts[it.Prompt] = true
		bodies[[2]int{it.Prompt, it.Spelling}] = true
	}
	return len(items) - len(prompts), len(items) - len(bodies)
}

// Price is a model's list price in USD per million tokens.
type Price struct{ Input, Output float64 }

// Prices is the small price table the report uses (USD per 1M tokens).
var Prices = map[string]Price{
	"gpt-4o-mini": {Input: 0.15, Output: 0.60},
	"gpt-4o":      {Input: 2.50, Output: 10.00},
}

// Cost returns the price of the given token counts.
func (p Price) Cost(inputTokens, outputTokens int64) float64 {
	return (float64(inputTokens)*p.Input + float64(outputTokens)*p.Output) / 1e6
}
