package openai

import (
	"context"
	"strings"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
	"github.com/dittocache/ditto/providers"
)

// Embeddings: POST {base_url}/embeddings with every input of the request in
// one call, encoded by embeddings.AppendRequest (Extra members and user
// pass through), answered through embeddings.ParseResponse, errors mapped
// as for chat completions.
//
// encoding_format upstream: base64 carries the float32 values exactly in a
// third of the bytes of JSON floats and parses about 12 times faster, and
// OpenAI's own API supports it; OpenAI-compatible servers do not all do
// (some reject it, some ignore it), while every one serves float. So
// Options.EmbeddingFormat defaults to base64 only for OpenAI's API and to
// float elsewhere; either way the answer is read in whichever format the
// server actually sent. The client's own encoding_format is not forwarded:
// the gateway renders what the client asked for.

var _ providers.Embedder = (*Client)(nil)

func (c *Client) initEmbeddings(o Options) {
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	c.embedURL = base + "/embeddings"
	switch {
	case o.EmbeddingFormat != "":
		c.embedFormat = o.EmbeddingFormat
	case base == DefaultBaseURL:
		c.embedFormat = normalize.EncodingBase64
	default:
		c.embedFormat = normalize.EncodingFloat
	}
}

// Embed embeds every input of req in one call to {base_url}/embeddings.
func (c *Client) Embed(ctx context.Context, req *normalize.EmbeddingRequest) (*normalize.EmbeddingResponse, error) {
	body := embeddings.AppendRequest(make([]byte, 0, 256+embedSize(req)), req, req.Model, c.embedFormat)
	resp, err := c.post(ctx, c.embedURL, body, false)
	if err != nil {
		return nil, err
	}
	raw, err := c.readAll(resp)
	if err != nil {
		return nil, err
	}
	out, err := embeddings.ParseResponse(raw, req.Inputs)
	if err != nil {
		return nil, c.badResponse("the upstream returned a response that is not an embeddings list: " + err.Error())
	}
	return out, nil
}

// embedSize estimates the encoded size of req's inputs.
func embedSize(req *normalize.EmbeddingRequest) int {
	n := 0
	for i := range req.Inputs {
		n += len(req.Inputs[i].Text) + 8*len(req.Inputs[i].Tokens) + 4
	}
	return n
}
