package anthropic

import (
	"context"
	"encoding/json"
	"fmt"
)

// CountTokens asks Anthropic's token counting endpoint
// (POST /v1/messages/count_tokens) how many input tokens body, a count
// request in Anthropic's own format whose model is the upstream model,
// would use, with the beta features betas (Request.Betas form). Errors are
// the provider's, as for Complete.
func (c *Client) CountTokens(ctx context.Context, body []byte, betas []string) (int, error) {
	b, err := c.api.FetchWith(ctx, c.url+"/count_tokens", body, betaHeader(betas))
	if err != nil {
		return 0, err
	}
	var out struct {
		InputTokens *int `json:"input_tokens"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.InputTokens == nil || *out.InputTokens < 0 {
		return 0, fmt.Errorf("anthropic: count_tokens answered without input_tokens")
	}
	return *out.InputTokens, nil
}
