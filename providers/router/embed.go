package router

import (
	"context"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// ErrCannotEmbed is a route whose provider has no embeddings endpoint.
type ErrCannotEmbed struct{ Route Route }

func (e *ErrCannotEmbed) Error() string {
	return "The model `" + e.Route.Model + "` routes to provider `" + e.Route.Provider + "`, which cannot create embeddings."
}

// Embed embeds req's inputs on route r in one provider call, retried on
// transient failures. Fallbacks are never tried: another model's vectors
// live in another space, and mixing them in one index is silent damage.
// req is not modified.
func (rt *Router) Embed(ctx context.Context, r Route, req *normalize.EmbeddingRequest) (*normalize.EmbeddingResponse, error) {
	p, ok := rt.providers[r.Provider]
	if !ok {
		return nil, &RouteError{Model: r.Model, Provider: r.Provider}
	}
	em, ok := p.(providers.Embedder)
	if !ok {
		return nil, &ErrCannotEmbed{Route: r}
	}
	q := *req
	q.Model = r.UpstreamModel
	for attempt := 0; ; attempt++ {
		allowed, err := rt.breakers.allow(ctx, r.Key())
		if err != nil {
			return nil, err
		}
		actx := ctx
		var done func(string, int, error)
		if rt.obs.Embed != nil {
			actx, done = rt.obs.Embed(ctx, r, len(q.Inputs))
		}
		cctx, cancel := context.WithTimeout(actx, rt.up.TotalTimeout)
		resp, err := em.Embed(cctx, &q)
		cancel()
		err = classify(err)
		allowed(err)
		if done != nil {
			model, tokens := "", 0
			if resp != nil {
				model, tokens = resp.Model, resp.Usage.PromptTokens
			}
			done(model, tokens, err)
		}
		if err == nil {
			return resp, nil
		}
		wait, retry := rt.retryWait(err, attempt)
		if !retry || ctx.Err() != nil {
			return nil, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, err
		}
	}
}
