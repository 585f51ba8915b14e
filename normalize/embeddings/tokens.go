package embeddings

import (
	"cmp"
	"slices"
	"sync"

	"github.com/tiktoken-go/tokenizer/codec"

	"github.com/dittocache/ditto/normalize"
)

// cl100k is loaded on first use: building its vocabulary (100k entries,
// embedded in the binary) takes under 30 ms and about 7 MB, which a
// gateway that never serves embeddings should not pay. Only this codec is
// referenced, so the linker drops the other vocabularies of the package.
var cl100k = sync.OnceValue(codec.NewCl100kBase)

// CountTokens returns the number of tokens in one input: the length of a
// token array, or the cl100k_base count of a text (the tokenizer of
// OpenAI's text-embedding-3 and ada-002 models, run offline from the
// vocabulary embedded in the binary). Special-token text such as
// "<|endoftext|>" is counted as ordinary text. Safe for concurrent use.
func CountTokens(in *normalize.EmbeddingInput) int {
	if in.IsTokens() {
		return len(in.Tokens)
	}
	if in.Text == "" {
		return 0
	}
	n, err := cl100k().Count(in.Text)
	if err != nil {
		// Count fails only on a regexp engine error; bytes/4 is the usual
		// estimate of a token.
		return (len(in.Text) + 3) / 4
	}
	return n
}

// ItemTokens returns each input's share of an upstream call's reported
// token total, and the usage they add up to. reported is the upstream's
// usage.prompt_tokens for exactly these inputs; a value ≤ 0 means it
// reported none (Gemini), since no non-empty input embeds for free.
//
//   - One input: its share is the reported total (no counting).
//   - Several: each input is counted with CountTokens. When the counts sum
//     to the reported total, as they do for OpenAI's embedding models,
//     they are the shares. Otherwise (another tokenizer: Ollama, vLLM,
//     Azure deployments of other models; special tokens) the total is
//     apportioned in proportion to the counts by largest remainder, so the
//     shares are whole and sum to the total exactly; ties go to the
//     earlier input.
//   - Nothing reported: the counts themselves, with Usage.Estimated set.
//
// The shares are what each item's cache entry records, so a later batch
// that hits some items and fetches others reports the sum of the stored
// shares of its hits and the fetched shares of its misses.
func ItemTokens(inputs []normalize.EmbeddingInput, reported int) ([]int, normalize.EmbeddingUsage) {
	shares := make([]int, len(inputs))
	if reported > 0 && len(inputs) == 1 {
		shares[0] = reported
		return shares, normalize.EmbeddingUsage{PromptTokens: reported, TotalTokens: reported}
	}
	sum := 0
	for i := range inputs {
		shares[i] = CountTokens(&inputs[i])
		sum += shares[i]
	}
	if reported <= 0 {
		return shares, normalize.EmbeddingUsage{PromptTokens: sum, TotalTokens: sum, Estimated: true}
	}
	if sum != reported {
		Apportion(shares, reported)
	}
	return shares, normalize.EmbeddingUsage{PromptTokens: reported, TotalTokens: reported}
}

// Apportion replaces weights, in place, with whole shares of total
// proportional to them (the largest-remainder method): each share is the
// floor of its exact quota, and the units left over go one each to the
// largest fractional remainders, ties to the lower index. The shares sum
// to total exactly. All-zero weights share total equally. Weights must be
// non-negative; total must be non-negative.
func Apportion(weights []int, total int) {
	if len(weights) == 0 {
		return
	}
	var sum int64
	for _, w := range weights {
		sum += int64(w)
	}
	if sum == 0 {
		for i := range weights {
			weights[i] = 1
		}
		sum = int64(len(weights))
	}
	rem := make([]int64, len(weights))
	left := int64(total)
	for i, w := range weights {
		q := int64(total) * int64(w)
		weights[i] = int(q / sum)
		rem[i] = q % sum
		left -= q / sum
	}
	if left == 0 {
		return
	}
	// 0 < left < len(weights): one unit each to the largest remainders.
	idx := make([]int, len(weights))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(rem[b], rem[a]) })
	for _, i := range idx[:left] {
		weights[i]++
	}
}
