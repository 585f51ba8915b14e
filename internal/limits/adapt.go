package limits

import (
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/normalize"
)

// EstimateRequest is Estimate for a canonical request: its max tokens
// (max_tokens or max_completion_tokens) and n, with bodyBytes the size of
// the body it was decoded from.
func (l *Limiter) EstimateRequest(req *normalize.Request, bodyBytes int) int64 {
	maxOut, n := 0, 1
	if req.Params.MaxTokens != nil {
		maxOut = *req.Params.MaxTokens
	}
	if req.Params.N != nil {
		n = *req.Params.N
	}
	return l.Estimate(bodyBytes, maxOut, n)
}

// UsageOf is a response's usage for Settle; nil (a provider that reports
// none, or a failed call) is zero.
func UsageOf(u *normalize.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	return Usage{InputTokens: int64(u.PromptTokens), OutputTokens: int64(u.CompletionTokens)}
}

// ConfigPrices prices with the catalog and the configuration's pricing
// section (configs.Config.Prices).
func ConfigPrices(p *configs.Prices) PriceFunc {
	return func(model string) (float64, float64, bool) {
		pr, ok := p.Lookup(model)
		return pr.Input, pr.Output, ok
	}
}
