package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/wire"
)

// Embeddings: POST {base}/v1beta/models/{model}:batchEmbedContents with one
// EmbedContentRequest per input,
//
//	{"requests":[{"model":"models/{model}","content":{"parts":[{"text":…}]},"outputDimensionality":N, <Extra>}, …]}
//
// answered with {"embeddings":[{"values":[…]}, …]} in request order.
//
//   - dimensions becomes outputDimensionality; the request's Extra members
//     (e.g. taskType, title) are copied into every EmbedContentRequest;
//     user is not sent (Gemini has no such field).
//   - Token-array inputs are refused with a 400 naming "input": Gemini
//     embeds text only.
//   - Gemini takes at most MaxEmbedBatch requests per call, so a larger
//     batch is sent as consecutive slices of MaxEmbedBatch, at most
//     embedConcurrency at a time; the first failure cancels the others and
//     is returned.
//   - Gemini reports no token usage for embeddings: Usage is Ditto's
//     cl100k_base count of each text (an estimate; Gemini's tokenizer
//     differs), flagged Usage.Estimated, and Model is the requested model.

// MaxEmbedBatch is the most inputs one batchEmbedContents call takes.
const MaxEmbedBatch = 100

const embedConcurrency = 4

var _ providers.Embedder = (*Client)(nil)

// embedReserved are the EmbedContentRequest members the adapter writes.
var embedReserved = map[string]bool{"model": true, "content": true, "outputDimensionality": true}

// Embed embeds every input of req with batchEmbedContents.
func (c *Client) Embed(ctx context.Context, req *normalize.EmbeddingRequest) (*normalize.EmbeddingResponse, error) {
	for i := range req.Inputs {
		if req.Inputs[i].IsTokens() {
			return nil, wire.InvalidParam(name, "input", "Gemini embeds text only: token-array inputs (input[%d]) cannot be sent to it", i)
		}
	}
	for _, f := range req.Extra {
		if embedReserved[f.Name] {
			return nil, wire.InvalidParam(name, f.Name, "%q is set by Ditto from the OpenAI request and cannot be passed through to Gemini", f.Name)
		}
	}
	model := strings.TrimPrefix(req.Model, "models/")
	u := c.base + "/v1beta/models/" + url.PathEscape(model) + ":batchEmbedContents"
	vectors := make([][]float32, len(req.Inputs))
	if len(req.Inputs) <= MaxEmbedBatch {
		if err := c.embedBatch(ctx, u, model, req, 0, vectors); err != nil {
			return nil, err
		}
	} else if err := c.embedBatches(ctx, u, model, req, vectors); err != nil {
		return nil, err
	}
	resp := &normalize.EmbeddingResponse{Model: req.Model, Vectors: vectors}
	resp.Tokens, resp.Usage = embeddings.ItemTokens(req.Inputs, 0)
	return resp, nil
}

// embedBatches sends the inputs in slices of MaxEmbedBatch, a few at a time.
func (c *Client) embedBatches(ctx context.Context, u, model string, req *normalize.EmbeddingRequest, vectors [][]float32) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		slots = make(chan struct{}, embedConcurrency)
	)
	for off := 0; off < len(req.Inputs); off += MaxEmbedBatch {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := c.embedBatch(ctx, u, model, req, off, vectors); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		// The caller's context ended before every slice was sent.
		return fmt.Errorf("%s: %w", name, context.Cause(ctx))
	}
	return first
}

// embedBatch embeds the inputs of req from off, at most MaxEmbedBatch of
// them, into vectors[off:].
func (c *Client) embedBatch(ctx context.Context, u, model string, req *normalize.EmbeddingRequest, off int, vectors [][]float32) error {
	end := min(off+MaxEmbedBatch, len(req.Inputs))
	body, err := c.api.Fetch(ctx, u, encodeEmbedRequest(model, req, off, end))
	if err != nil {
		return err
	}
	var w struct {
		Embeddings []struct {
			Values []float32 `json:"values"`
		} `json:"embeddings"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return badEmbedResponse("Gemini returned a response that is not a batch of embeddings: " + err.Error())
	}
	if len(w.Embeddings) != end-off {
		return badEmbedResponse(fmt.Sprintf("Gemini returned %d embeddings for %d inputs", len(w.Embeddings), end-off))
	}
	for i, e := range w.Embeddings {
		if len(e.Values) == 0 {
			return badEmbedResponse(fmt.Sprintf("Gemini returned an empty embedding for input %d", off+i))
		}
		vectors[off+i] = e.Values
	}
	return nil
}

func badEmbedResponse(msg string) *providers.Error {
	return &providers.Error{Provider: name, Status: http.StatusBadGateway, Type: "server_error", Code: "bad_upstream_response", Message: msg}
}

// encodeEmbedRequest is the batchEmbedContents body for inputs [off, end).
func encodeEmbedRequest(model string, req *normalize.EmbeddingRequest, off, end int) []byte {
	// Everything but the text is the same for every input: head, the
	// text, then tail closing the part, parts and content.
	tail := []byte("}]}")
	if req.Dimensions != nil {
		tail = append(tail, `,"outputDimensionality":`...)
		tail = strconv.AppendInt(tail, int64(*req.Dimensions), 10)
	}
	tail = normalize.AppendMembers(tail, req.Extra)
	tail = append(tail, '}')
	head := normalize.AppendJSONString([]byte(`{"model":`), "models/"+model)
	head = append(head, `,"content":{"parts":[{"text":`...)

	n := 16
	for i := off; i < end; i++ {
		n += len(head) + len(tail) + len(req.Inputs[i].Text) + 8
	}
	b := make([]byte, 0, n)
	b = append(b, `{"requests":[`...)
	for i := off; i < end; i++ {
		if i > off {
			b = append(b, ',')
		}
		b = append(b, head...)
		b = normalize.AppendJSONString(b, req.Inputs[i].Text)
		b = append(b, tail...)
	}
	return append(b, "]}"...)
}
