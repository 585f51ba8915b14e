package gemini

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/providertest"
)

// wireBatch is a batchEmbedContents body as Gemini reads it.
type wireBatch struct {
	Requests []struct {
		Model   string `json:"model"`
		Content struct {
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"content"`
		OutputDimensionality *int   `json:"outputDimensionality"`
		TaskType             string `json:"taskType"`
	} `json:"requests"`
}

func TestEmbedConformance(t *testing.T) {
	estimated := &normalize.EmbeddingUsage{PromptTokens: 17, TotalTokens: 17, Estimated: true}
	dims := 3
	withDims := providertest.DefaultEmbeddingRequest("gemini-embedding-001")
	withDims.Dimensions = &dims
	withDims.Extra = []normalize.Field{{Name: "taskType", Value: json.RawMessage(`"RETRIEVAL_QUERY"`)}}
	providertest.RunEmbeddings(t, providertest.EmbedSuite{
		New: func(baseURL, apiKey string) providers.Embedder {
			return New(Options{BaseURL: baseURL + "/", APIKey: apiKey})
		},
		Model:      "gemini-embedding-001",
		AuthHeader: "x-goog-api-key",
		Check: func(t testing.TB, r *http.Request, body []byte, req *normalize.EmbeddingRequest) {
			if r.URL.Path != "/v1beta/models/gemini-embedding-001:batchEmbedContents" || r.URL.RawQuery != "" {
				t.Errorf("URL = %s", r.URL)
			}
			var w wireBatch
			if err := json.Unmarshal(body, &w); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if len(w.Requests) != len(req.Inputs) {
				t.Fatalf("body has %d requests for %d inputs", len(w.Requests), len(req.Inputs))
			}
			for i, rq := range w.Requests {
				if rq.Model != "models/gemini-embedding-001" || len(rq.Content.Parts) != 1 || rq.Content.Parts[0].Text != req.Inputs[i].Text {
					t.Errorf("request %d = %+v, want input %q", i, rq, req.Inputs[i].Text)
				}
				if (rq.OutputDimensionality == nil) != (req.Dimensions == nil) || (req.Dimensions != nil && *rq.OutputDimensionality != *req.Dimensions) {
					t.Errorf("request %d outputDimensionality = %v, want %v", i, rq.OutputDimensionality, req.Dimensions)
				}
				if len(req.Extra) > 0 && rq.TaskType != "RETRIEVAL_QUERY" {
					t.Errorf("request %d taskType = %q, want the Extra member", i, rq.TaskType)
				}
			}
		},
		Cases: []providertest.EmbedCase{{
			Name:  "batch",
			Reply: providertest.ReplyFile(t, "testdata/batchEmbedContents.response.json"),
			Want:  providertest.EmbedWant{Vectors: providertest.EmbeddingVectors, Tokens: []int{8, 9}, Usage: estimated, Model: "gemini-embedding-001"},
		}, {
			Name:    "outputDimensionality and taskType",
			Request: withDims,
			Reply:   providertest.ReplyFile(t, "testdata/batchEmbedContents.response.json"),
			Want:    providertest.EmbedWant{Vectors: providertest.EmbeddingVectors},
		}},
		Errors: []providertest.EmbedErrorCase{{
			Name:    "token inputs",
			Request: &normalize.EmbeddingRequest{Model: "gemini-embedding-001", Inputs: []normalize.EmbeddingInput{{Tokens: []int{1, 2}}}},
			Status:  400, Type: "invalid_request_error", Param: "input",
		}, {
			Name: "reserved extra member",
			Request: &normalize.EmbeddingRequest{Model: "gemini-embedding-001", Inputs: []normalize.EmbeddingInput{{Text: "x"}},
				Extra: []normalize.Field{{Name: "content", Value: json.RawMessage(`{}`)}}},
			Status: 400, Type: "invalid_request_error", Param: "content",
		}, {
			Name:   "recorded error",
			Reply:  ptr(recordedError(t)),
			Status: recordedError(t).Status, Type: providers.TypeForStatus(recordedError(t).Status),
		}, {
			Name:   "too many requests in one batch",
			Reply:  &providertest.Reply{Status: 400, Body: []byte(`{"error":{"code":400,"message":"* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n","status":"INVALID_ARGUMENT"}}`)},
			Status: 400, Type: "invalid_request_error",
		}, {
			Name:   "fewer embeddings than inputs",
			Reply:  &providertest.Reply{Body: []byte(`{"embeddings":[{"values":[1]}]}`)},
			Status: 502, Type: "server_error", Code: "bad_upstream_response",
		}, {
			Name:   "not a batch",
			Reply:  &providertest.Reply{Body: []byte(`{"embeddings":[{"values":"AAAA"},{"values":[1]}]}`)},
			Status: 502, Type: "server_error", Code: "bad_upstream_response",
		}},
	})
}

func ptr[T any](v T) *T { return &v }

// TestEmbedSlices: more than MaxEmbedBatch inputs go out in slices of at
// most MaxEmbedBatch, and the vectors come back in input order.
func TestEmbedSlices(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		var b wireBatch
		if err := json.Unmarshal(body, &b); err != nil {
			t.Error(err)
		}
		if len(b.Requests) > MaxEmbedBatch {
			t.Errorf("a call carried %d requests", len(b.Requests))
		}
		var sb strings.Builder
		sb.WriteString(`{"embeddings":[`)
		for i, rq := range b.Requests {
			if i > 0 {
				sb.WriteByte(',')
			}
			// The vector is the input's number, so order is checkable.
			n, _ := strconv.Atoi(strings.TrimPrefix(rq.Content.Parts[0].Text, "item "))
			fmt.Fprintf(&sb, `{"values":[%d]}`, n)
		}
		sb.WriteString(`]}`)
		w.Write([]byte(sb.String()))
	}))
	defer srv.Close()
	const n = 2*MaxEmbedBatch + 37
	req := &normalize.EmbeddingRequest{Model: "gemini-embedding-001"}
	for i := range n {
		req.Inputs = append(req.Inputs, normalize.EmbeddingInput{Text: "item " + strconv.Itoa(i)})
	}
	resp, err := New(Options{BaseURL: srv.URL}).Embed(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("%d inputs took %d calls, want 3", n, got)
	}
	providertest.CheckEmbedding(t, req, resp, &providertest.EmbedWant{})
	for i, v := range resp.Vectors {
		if len(v) != 1 || v[0] != float32(i) {
			t.Fatalf("vector %d = %v, want [%d]", i, v, i)
		}
	}
}

// TestEmbedSliceFails: one failing slice fails the call.
func TestEmbedSliceFails(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 {
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`))
			return
		}
		body, _ := io.ReadAll(r.Body)
		var b wireBatch
		json.Unmarshal(body, &b)
		w.Write([]byte(`{"embeddings":[` + strings.TrimSuffix(strings.Repeat(`{"values":[1]},`, len(b.Requests)), ",") + `]}`))
	}))
	defer srv.Close()
	req := &normalize.EmbeddingRequest{Model: "gemini-embedding-001"}
	for range 5 * MaxEmbedBatch {
		req.Inputs = append(req.Inputs, normalize.EmbeddingInput{Text: "x"})
	}
	_, err := New(Options{BaseURL: srv.URL}).Embed(t.Context(), req)
	pe, ok := providers.AsError(err)
	if !ok || pe.Status != http.StatusTooManyRequests {
		t.Fatalf("Embed with a failing slice = %v, want the 429", err)
	}
}
