package limits_test

import (
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/limits"
	"github.com/dittocache/ditto/normalize"
)

func TestAdapters(t *testing.T) {
	lim := limits.New(configs.Default().Limits, configs.Budgets{}, limits.Options{})
	max, n := 100, 2
	tests := []struct {
		give *normalize.Request
		want int64
	}{
		{&normalize.Request{}, 10 + int64(configs.Default().Limits.EstimatedOutputTokens)},
		{&normalize.Request{Params: normalize.Params{MaxTokens: &max, N: &n}}, 10 + 200},
	}
	for _, tt := range tests {
		if got := lim.EstimateRequest(tt.give, 40); got != tt.want {
			t.Errorf("EstimateRequest(%+v, 40) = %d, want %d", tt.give.Params, got, tt.want)
		}
	}
	if u := limits.UsageOf(&normalize.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}); u != (limits.Usage{InputTokens: 3, OutputTokens: 4}) {
		t.Errorf("UsageOf = %+v, want 3 in, 4 out", u)
	}
	if u := limits.UsageOf(nil); u != (limits.Usage{}) {
		t.Errorf("UsageOf(nil) = %+v, want zero", u)
	}
	c := configs.Default()
	c.Pricing = map[string]configs.Price{"my-model": {Input: 3, Output: 12}}
	price := limits.ConfigPrices(c.Prices())
	if in, out, ok := price("my-model"); !ok || in != 3 || out != 12 {
		t.Errorf("price(my-model) = %v %v %v, want 3 12 true", in, out, ok)
	}
	if in, out, ok := price("gpt-4o-2024-08-06"); !ok || in <= 0 || out <= 0 {
		t.Errorf("price(gpt-4o snapshot) = %v %v %v, want the family's list price", in, out, ok)
	}
	if _, _, ok := price("nobody-knows-me"); ok {
		t.Error("price(unknown) ok = true")
	}
}
