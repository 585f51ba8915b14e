package azure

import (
	"context"
	"net/http"
	"net/url"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
	"github.com/dittocache/ditto/providers"
)

// Embeddings: POST {endpoint}/openai/deployments/{deployment}/embeddings
// ?api-version=… with every input of the request in one call. The body is
// OpenAI's (embeddings.AppendRequest; Extra members and user pass
// through) and asks for base64: the float32 values exactly, in a third of
// the bytes. Azure OpenAI serves it as OpenAI does (the openai SDKs' Azure
// clients ask for base64 whenever their caller names no format), and an
// answer in floats is read all the same. Errors are mapped as for chat
// completions.

var _ providers.Embedder = (*Client)(nil)

// Embed embeds every input of req with the deployment serving req.Model.
func (c *Client) Embed(ctx context.Context, req *normalize.EmbeddingRequest) (*normalize.EmbeddingResponse, error) {
	body, err := c.api.Fetch(ctx, c.embeddingsURL(req.Model), embeddings.AppendRequest(nil, req, req.Model, normalize.EncodingBase64))
	if err != nil {
		return nil, err
	}
	out, err := embeddings.ParseResponse(body, req.Inputs)
	if err != nil {
		return nil, &providers.Error{Provider: name, Status: http.StatusBadGateway, Type: "server_error", Code: "bad_upstream_response",
			Message: "Azure returned a response that is not an embeddings list: " + err.Error()}
	}
	return out, nil
}

// embeddingsURL is the embeddings endpoint of the deployment serving model.
func (c *Client) embeddingsURL(model string) string {
	return c.endpoint + "/openai/deployments/" + url.PathEscape(c.Deployment(model)) + "/embeddings?" + c.query
}
