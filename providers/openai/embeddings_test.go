package openai

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/providertest"
)

// wireEmbeddingRequest is what the adapter sends, as OpenAI reads it.
type wireEmbeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           string          `json:"user"`
}

func TestEmbedConformance(t *testing.T) {
	usage := &normalize.EmbeddingUsage{PromptTokens: 17, TotalTokens: 17}
	dims := 3
	withDims := providertest.DefaultEmbeddingRequest("text-embedding-3-small")
	withDims.Dimensions = &dims
	withDims.User = "user-1234"
	tokens := &normalize.EmbeddingRequest{Model: "text-embedding-3-small", Inputs: []normalize.EmbeddingInput{{Tokens: []int{791, 3691}}, {Tokens: []int{1}}}}
	providertest.RunEmbeddings(t, providertest.EmbedSuite{
		New: func(baseURL, apiKey string) providers.Embedder {
			return New(Options{BaseURL: baseURL + "/v1/", APIKey: apiKey})
		},
		Model:      "text-embedding-3-small",
		AuthHeader: "Authorization",
		AuthPrefix: "Bearer ",
		Check: func(t testing.TB, r *http.Request, body []byte, req *normalize.EmbeddingRequest) {
			if r.URL.Path != "/v1/embeddings" || r.URL.RawQuery != "" {
				t.Errorf("URL = %s, want /v1/embeddings", r.URL)
			}
			// A server other than OpenAI's is asked for floats.
			if want := embeddings.AppendRequest(nil, req, req.Model, normalize.EncodingFloat); string(body) != string(want) {
				t.Errorf("body = %s\nwant %s", body, want)
			}
		},
		Cases: []providertest.EmbedCase{{
			Name:  "float",
			Reply: providertest.ReplyFile(t, "testdata/embeddings.float.response.json"),
			Want:  providertest.EmbedWant{Vectors: providertest.EmbeddingVectors, Tokens: []int{8, 9}, Usage: usage, Model: "text-embedding-ada-002"},
		}, {
			Name:  "base64 out of order",
			Reply: providertest.ReplyFile(t, "testdata/embeddings.base64.response.json"),
			Want:  providertest.EmbedWant{Vectors: providertest.EmbeddingVectors, Tokens: []int{8, 9}, Usage: usage, Model: "text-embedding-3-small"},
		}, {
			Name:    "dimensions and user",
			Request: withDims,
			Reply:   providertest.ReplyFile(t, "testdata/embeddings.float.response.json"),
			Want:    providertest.EmbedWant{Vectors: providertest.EmbeddingVectors},
		}, {
			Name:    "token arrays",
			Request: tokens,
			Reply:   providertest.Reply{Body: []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1]},{"object":"embedding","index":1,"embedding":[2]}],"model":"m","usage":{"prompt_tokens":3,"total_tokens":3}}`)},
			Want:    providertest.EmbedWant{Vectors: [][]float32{{1}, {2}}, Tokens: []int{2, 1}},
		}, {
			Name:  "another tokenizer: the total is apportioned",
			Reply: providertest.Reply{Body: []byte(`{"data":[{"index":0,"embedding":[1]},{"index":1,"embedding":[2]}],"model":"nomic-embed-text","usage":{"prompt_tokens":34,"total_tokens":34}}`)},
			Want:  providertest.EmbedWant{Tokens: []int{16, 18}, Usage: &normalize.EmbeddingUsage{PromptTokens: 34, TotalTokens: 34}},
		}, {
			Name:  "no usage (older compatible servers)",
			Reply: providertest.Reply{Body: []byte(`{"data":[{"embedding":[1]},{"embedding":[2]}]}`)},
			Want:  providertest.EmbedWant{Tokens: []int{8, 9}, Usage: &normalize.EmbeddingUsage{PromptTokens: 17, TotalTokens: 17, Estimated: true}},
		}},
		Errors: []providertest.EmbedErrorCase{{
			Name: "bad request",
			Reply: &providertest.Reply{Status: 400, Body: openAIError("This model's maximum context length is 8192 tokens, however you requested 9000 tokens (9000 in your prompt; 0 for the completion). Please reduce your prompt; or completion length.",
				"invalid_request_error", "input", "")},
			Status: 400, Type: "invalid_request_error", Param: "input",
		}, {
			Name:   "unauthorized",
			Reply:  &providertest.Reply{Status: 401, Body: openAIError("Incorrect API key provided: "+providertest.APIKey+".", "invalid_request_error", "", "invalid_api_key")},
			Status: 401, Type: "invalid_request_error", Code: "invalid_api_key",
		}, {
			Name: "rate limited",
			Reply: &providertest.Reply{Status: 429, Header: http.Header{"retry-after-ms": {"250"}},
				Body: openAIError("Rate limit reached for text-embedding-3-small on tokens per min (TPM).", "tokens", "", "rate_limit_exceeded")},
			Status: 429, Type: "tokens", Code: "rate_limit_exceeded", RetryAfter: 250 * time.Millisecond,
		}, {
			Name:   "fewer embeddings than inputs",
			Reply:  &providertest.Reply{Body: []byte(`{"data":[{"index":0,"embedding":[1]}],"usage":{"prompt_tokens":8,"total_tokens":8}}`)},
			Status: 502, Type: "server_error", Code: "bad_upstream_response",
		}, {
			Name:   "a chat completion instead",
			Reply:  &providertest.Reply{Body: providertest.ReadFile(t, "testdata/chat.nonstream.response.json")},
			Status: 502, Type: "server_error", Code: "bad_upstream_response",
		}},
	})
}

// TestEmbedFormat: OpenAI's own API is asked for base64, other servers
// for floats unless configured.
func TestEmbedFormat(t *testing.T) {
	tests := []struct {
		give Options
		want string
	}{
		{Options{}, "base64"},
		{Options{BaseURL: DefaultBaseURL + "/"}, "base64"},
		{Options{BaseURL: "http://localhost:11434/v1"}, "float"},
		{Options{BaseURL: "http://vllm:8000/v1", EmbeddingFormat: "base64"}, "base64"},
		{Options{EmbeddingFormat: "float"}, "float"},
	}
	for _, tt := range tests {
		if got := New(tt.give).embedFormat; got != tt.want {
			t.Errorf("New(%+v) asks for %s, want %s", tt.give, got, tt.want)
		}
	}
	var got wireEmbeddingRequest
	url := recordEmbeddings(t, func(r *http.Request, body []byte) {
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
	})
	c := New(Options{BaseURL: url, EmbeddingFormat: "base64"})
	if _, err := c.Embed(t.Context(), providertest.DefaultEmbeddingRequest("m")); err != nil {
		t.Fatal(err)
	}
	if got.EncodingFormat != "base64" {
		t.Errorf("encoding_format sent = %q, want base64", got.EncodingFormat)
	}
}

// recordEmbeddings starts a server that answers with the recorded float
// answer after passing each request to seen, and returns its URL.
func recordEmbeddings(t *testing.T, seen func(r *http.Request, body []byte)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen(r, body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(providertest.ReadFile(t, "testdata/embeddings.float.response.json"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestEmbedRequestShape: the batch is sent in order as an array, with
// dimensions and user; the client's encoding_format is not forwarded.
func TestEmbedRequestShape(t *testing.T) {
	var got wireEmbeddingRequest
	var header http.Header
	url := recordEmbeddings(t, func(r *http.Request, body []byte) {
		header = r.Header
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
	})
	req, err := embeddings.Decode([]byte(`{"model":"client","input":["` + strings.Join(providertest.EmbeddingTexts, `","`) + `"],"dimensions":3,"user":"u1","encoding_format":"base64"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Model = "text-embedding-3-small" // routing sets the upstream model
	c := New(Options{BaseURL: url, APIKey: "sk-1", Header: http.Header{"openai-organization": {"org-1"}}})
	if _, err := c.Embed(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	var inputs []string
	if err := json.Unmarshal(got.Input, &inputs); err != nil || !slices.Equal(inputs, providertest.EmbeddingTexts) {
		t.Errorf("input sent = %s, want %q in order", got.Input, providertest.EmbeddingTexts)
	}
	if got.Model != "text-embedding-3-small" || got.Dimensions == nil || *got.Dimensions != 3 || got.User != "u1" || got.EncodingFormat != "float" {
		t.Errorf("request sent = %+v", got)
	}
	if header.Get("OpenAI-Organization") != "org-1" || header.Get("Authorization") != "Bearer sk-1" {
		t.Errorf("headers sent = %v", header)
	}
	// A route with pass-through sends the client's own key instead.
	if _, err := c.Embed(providers.WithClientKey(t.Context(), "sk-client"), req); err != nil {
		t.Fatal(err)
	}
	if got := header.Get("Authorization"); got != "Bearer sk-client" {
		t.Errorf("Authorization with a client key = %q, want the client's key", got)
	}
}
