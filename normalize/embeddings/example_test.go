package embeddings_test

import (
	"fmt"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
)

// A batch is keyed item by item: the second item of this batch has the key
// it had when sent alone, so only the first goes upstream. The answer for
// both is rendered from the vectors with the usage of both items.
func Example() {
	req, err := embeddings.Decode([]byte(`{"model":"text-embedding-3-small","input":["hello world","This is a test."],"dimensions":2}`))
	if err != nil {
		panic(err)
	}
	for i := range req.Inputs {
		fmt.Println(string(normalize.AppendEmbeddingCanonical(nil, req, i)))
	}

	// Say item 1 was cached with its vector and token count; item 0 is
	// fetched alone, and the upstream reports 2 tokens for it.
	misses := req.Select([]int{0})
	fetched, _ := embeddings.ItemTokens(misses.Inputs, 2)
	cached := 5

	vectors := [][]float32{{0.6, -0.8}, {0.28, 0.96}}
	tokens := fetched[0] + cached
	fmt.Println(string(embeddings.AppendResponse(nil, vectors, req.Model,
		normalize.EmbeddingUsage{PromptTokens: tokens, TotalTokens: tokens}, req.EncodingFormat)))
	// Output:
	// {"embed":{"text":"hello world"},"dimensions":2}
	// {"embed":{"text":"This is a test."},"dimensions":2}
	// {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,-0.8]},{"object":"embedding","index":1,"embedding":[0.28,0.96]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":7,"total_tokens":7}}
}
