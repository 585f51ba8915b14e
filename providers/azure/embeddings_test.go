package azure

import (
	"net/http"
	"testing"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/providertest"
)

func TestEmbedConformance(t *testing.T) {
	usage := &normalize.EmbeddingUsage{PromptTokens: 17, TotalTokens: 17}
	dims := 3
	withDims := providertest.DefaultEmbeddingRequest("text-embedding-3-small")
	withDims.Dimensions = &dims
	providertest.RunEmbeddings(t, providertest.EmbedSuite{
		New: func(baseURL, apiKey string) providers.Embedder {
			return New(Options{Endpoint: baseURL + "/", APIKey: apiKey, Deployments: map[string]string{"text-embedding-3-small": "embed prod"}})
		},
		Model:      "text-embedding-3-small",
		AuthHeader: "api-key",
		Check: func(t testing.TB, r *http.Request, body []byte, req *normalize.EmbeddingRequest) {
			if r.URL.EscapedPath() != "/openai/deployments/embed%20prod/embeddings" {
				t.Errorf("path = %s, want /openai/deployments/embed%%20prod/embeddings", r.URL.EscapedPath())
			}
			if v := r.URL.Query().Get("api-version"); v != DefaultAPIVersion {
				t.Errorf("api-version = %q, want %q", v, DefaultAPIVersion)
			}
			if want := embeddings.AppendRequest(nil, req, req.Model, normalize.EncodingBase64); string(body) != string(want) {
				t.Errorf("body = %s\nwant %s", body, want)
			}
		},
		Cases: []providertest.EmbedCase{{
			Name:  "base64",
			Reply: providertest.ReplyFile(t, "testdata/embeddings.base64.response.json"),
			Want:  providertest.EmbedWant{Vectors: providertest.EmbeddingVectors, Tokens: []int{8, 9}, Usage: usage, Model: "text-embedding-3-small"},
		}, {
			Name:  "floats although base64 was asked for",
			Reply: providertest.ReplyFile(t, "testdata/embeddings.float.response.json"),
			Want:  providertest.EmbedWant{Vectors: providertest.EmbeddingVectors, Tokens: []int{8, 9}, Usage: usage},
		}, {
			Name:    "dimensions",
			Request: withDims,
			Reply:   providertest.ReplyFile(t, "testdata/embeddings.base64.response.json"),
			Want:    providertest.EmbedWant{Vectors: providertest.EmbeddingVectors},
		}},
		Errors: []providertest.EmbedErrorCase{{
			Name: "rate limited",
			Reply: &providertest.Reply{Status: 429, Header: http.Header{"Retry-After": {"2"}},
				Body: []byte(`{"error":{"code":"429","message":"Requests to the Embeddings_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 2 seconds."}}`)},
			Status: 429, Type: "rate_limit_error", Code: "429", RetryAfter: 2 * time.Second,
		}, {
			Name:   "deployment not found",
			Reply:  &providertest.Reply{Status: 404, Body: []byte(`{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}`)},
			Status: 404, Type: "not_found_error", Code: "DeploymentNotFound",
		}, {
			Name:   "too many inputs",
			Reply:  &providertest.Reply{Status: 400, Body: []byte(`{"error":{"message":"Too many inputs. The max number of inputs is 2048.","type":"invalid_request_error","param":null,"code":null}}`)},
			Status: 400, Type: "invalid_request_error",
		}, {
			Name:   "vectors missing",
			Reply:  &providertest.Reply{Body: []byte(`{"object":"list","data":[],"model":"m"}`)},
			Status: 502, Type: "server_error", Code: "bad_upstream_response",
		}},
	})
}
