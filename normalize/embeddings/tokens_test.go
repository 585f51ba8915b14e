package embeddings_test

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
)

// TestCountTokens checks cl100k_base counts of known strings: "hello
// world" is [15339 1917] in cl100k_base, "This is a test." [2028 374 264
// 1296 13] (the five tokens of the OpenAPI spec's example, which are
// GPT-2's ids for it).
func TestCountTokens(t *testing.T) {
	tests := []struct {
		give string
		want int
	}{
		{"hello world", 2},
		{"This is a test.", 5},
		{"The quick brown fox jumped over the lazy dog", 9},
		{"The food was delicious and the waiter...", 8},
		{"supercalifragilistic", 7},
		{"日本語のテキスト", 8},
		{"<|endoftext|>", 7}, // special-token text counts as ordinary text
		{"", 0},
	}
	for _, tt := range tests {
		if got := embeddings.CountTokens(&normalize.EmbeddingInput{Text: tt.give}); got != tt.want {
			t.Errorf("CountTokens(%q) = %d, want %d", tt.give, got, tt.want)
		}
	}
	if got := embeddings.CountTokens(&normalize.EmbeddingInput{Tokens: []int{5, 5, 5}}); got != 3 {
		t.Errorf("CountTokens(3 tokens) = %d, want 3", got)
	}
}

func TestCountTokensConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if got := embeddings.CountTokens(&normalize.EmbeddingInput{Text: "hello world"}); got != 2 {
					t.Errorf("concurrent CountTokens = %d, want 2", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func texts(s ...string) []normalize.EmbeddingInput {
	in := make([]normalize.EmbeddingInput, len(s))
	for i := range s {
		in[i].Text = s[i]
	}
	return in
}

func TestItemTokens(t *testing.T) {
	tests := []struct {
		name      string
		give      []normalize.EmbeddingInput
		reported  int
		want      []int
		wantUsage normalize.EmbeddingUsage
	}{{
		name: "counts match the upstream (OpenAI)", give: texts("hello world", "This is a test."), reported: 7,
		want: []int{2, 5}, wantUsage: normalize.EmbeddingUsage{PromptTokens: 7, TotalTokens: 7},
	}, {
		name: "one item takes the total", give: texts("hello world"), reported: 11,
		want: []int{11}, wantUsage: normalize.EmbeddingUsage{PromptTokens: 11, TotalTokens: 11},
	}, {
		name: "another tokenizer: apportioned 2:5 of 10", give: texts("hello world", "This is a test."), reported: 10,
		want: []int{3, 7}, wantUsage: normalize.EmbeddingUsage{PromptTokens: 10, TotalTokens: 10},
	}, {
		name: "token arrays", give: []normalize.EmbeddingInput{{Tokens: []int{1, 2, 3}}, {Tokens: []int{4}}}, reported: 4,
		want: []int{3, 1}, wantUsage: normalize.EmbeddingUsage{PromptTokens: 4, TotalTokens: 4},
	}, {
		name: "not reported: estimated", give: texts("hello world", "This is a test."), reported: 0,
		want: []int{2, 5}, wantUsage: normalize.EmbeddingUsage{PromptTokens: 7, TotalTokens: 7, Estimated: true},
	}, {
		name: "not reported, one item", give: texts("hello world"), reported: -1,
		want: []int{2}, wantUsage: normalize.EmbeddingUsage{PromptTokens: 2, TotalTokens: 2, Estimated: true},
	}}
	for _, tt := range tests {
		got, usage := embeddings.ItemTokens(tt.give, tt.reported)
		if !cmp.Equal(got, tt.want) || usage != tt.wantUsage {
			t.Errorf("%s: ItemTokens = %v, %+v; want %v, %+v", tt.name, got, usage, tt.want, tt.wantUsage)
		}
	}
}

func TestApportion(t *testing.T) {
	tests := []struct {
		weights []int
		total   int
		want    []int
	}{
		{[]int{1, 1, 1}, 10, []int{4, 3, 3}}, // a tie goes to the earlier item
		{[]int{1, 1, 1}, 2, []int{1, 1, 0}},
		{[]int{2, 5}, 10, []int{3, 7}}, // 2.857, 7.143
		{[]int{0, 0}, 3, []int{2, 1}},  // all-zero weights share equally
		{[]int{0, 4}, 3, []int{0, 3}},
		{[]int{3, 1}, 0, []int{0, 0}},
		{[]int{10, 20, 30}, 6, []int{1, 2, 3}},
		{[]int{1, 2, 3, 4}, 3, []int{0, 1, 1, 1}}, // quotas .3 .6 .9 1.2
	}
	for _, tt := range tests {
		got := append([]int(nil), tt.weights...)
		embeddings.Apportion(got, tt.total)
		if !cmp.Equal(got, tt.want) {
			t.Errorf("Apportion(%v, %d) = %v, want %v", tt.weights, tt.total, got, tt.want)
		}
	}
}

// TestApportionProperties: shares sum to the total, and each share is
// within one of its exact quota.
func TestApportionProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := 1 + rng.IntN(40)
		weights := make([]int, n)
		sum := 0
		for i := range weights {
			weights[i] = rng.IntN(9000)
			sum += weights[i]
		}
		total := rng.IntN(300_000)
		got := append([]int(nil), weights...)
		embeddings.Apportion(got, total)
		s := 0
		for i, g := range got {
			s += g
			if sum == 0 {
				continue
			}
			quota := float64(total) * float64(weights[i]) / float64(sum)
			if float64(g) < quota-1 || float64(g) > quota+1 {
				t.Fatalf("Apportion(%v, %d)[%d] = %d, quota %.2f", weights, total, i, g, quota)
			}
		}
		if s != total {
			t.Fatalf("Apportion(%v, %d) = %v, sums to %d", weights, total, got, s)
		}
	}
}

// TestHalfCachedBatchUsage is the accounting a gateway does: a batch of
// four where two items were stored by an earlier call reports the sum of
// the stored shares and the fetched ones, equal to what one call for all
// four reports when the tokenizer matches.
func TestHalfCachedBatchUsage(t *testing.T) {
	all := texts("alpha beta", "gamma", "delta epsilon zeta", "eta")
	full, _ := embeddings.ItemTokens(all, 0)
	first, _ := embeddings.ItemTokens(all[:2], full[0]+full[1])  // an earlier call stored items 0 and 1
	second, _ := embeddings.ItemTokens(all[2:], full[2]+full[3]) // this call fetches 2 and 3
	got := first[0] + first[1] + second[0] + second[1]
	want := 0
	for _, n := range full {
		want += n
	}
	if got != want {
		t.Errorf("half-cached batch usage = %d, want %d", got, want)
	}
}
