package azure

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Suite{
		New: func(baseURL, apiKey string) providers.Provider {
			return New(Options{Endpoint: baseURL + "/", APIKey: apiKey, Deployments: map[string]string{"gpt-4o": "prod-4o"}})
		},
		Model:      "gpt-4o",
		AuthHeader: "api-key",
		Check: func(t testing.TB, r *http.Request, body []byte, stream bool) {
			if r.URL.Path != "/openai/deployments/prod-4o/chat/completions" {
				t.Errorf("path = %s", r.URL.Path)
			}
			if v := r.URL.Query().Get("api-version"); v != DefaultAPIVersion {
				t.Errorf("api-version = %q, want %q", v, DefaultAPIVersion)
			}
			req := providertest.DefaultRequest("gpt-4o")
			if want := normalize.AppendOpenAIRequest(nil, req, "gpt-4o", stream); string(body) != string(want) {
				t.Errorf("body = %s\nwant %s", body, want)
			}
		},
		Cases: append(providertest.OpenAIChatCases(t, "testdata"), providertest.Case{
			Name:   "stream with content filter annotations",
			Stream: true,
			Reply:  providertest.ReplyFile(t, "testdata/azure.stream.contentfilter.sse"),
			Want:   providertest.Want{Content: "Hello from Azure.", FinishReason: "stop", Usage: providertest.Usage(9, 4), ID: "chatcmpl-AZURE1", Model: "gpt-4o-2024-11-20"},
		}),
		Errors: []providertest.ErrorCase{{
			Name: "rate limited",
			Reply: providertest.Reply{Status: 429, Header: http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"2"}},
				Body: []byte(`{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after 2 seconds."}}`)},
			Status: 429, Type: "rate_limit_error", Code: "429", RetryAfter: 1500 * time.Millisecond,
		}, {
			Name:   "deployment not found",
			Reply:  providertest.Reply{Status: 404, Body: []byte(`{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}`)},
			Status: 404, Type: "not_found_error", Code: "DeploymentNotFound",
		}, {
			Name: "content filter",
			Reply: providertest.Reply{Status: 400, Body: []byte(`{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,` +
				`"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"}}}}}`)},
			Status: 400, Type: "invalid_request_error", Code: "content_filter",
		}, {
			Name:   "unauthorized",
			Stream: true,
			Reply:  providertest.Reply{Status: 401, Body: []byte(`{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint."}}`)},
			Status: 401, Type: "authentication_error", Code: "401",
		}, {
			Name:   "error event mid-stream",
			Stream: true,
			Reply: providertest.Reply{Body: []byte(`data: {"choices":[{"delta":{"role":"assistant","content":""},"finish_reason":null,"index":0}],"created":1,"id":"c","model":"m","object":"chat.completion.chunk"}` + "\n\n" +
				`data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}` + "\n\n")},
			Status: 502, Type: "server_error",
		}},
	})
}

func TestDeployment(t *testing.T) {
	c := New(Options{Endpoint: "https://x.openai.azure.com", Deployments: map[string]string{"gpt-4o": "prod"}})
	if got := c.Deployment("gpt-4o"); got != "prod" {
		t.Errorf("Deployment(gpt-4o) = %q, want prod", got)
	}
	if got := c.Deployment("gpt-4o-mini"); got != "gpt-4o-mini" {
		t.Errorf("Deployment(gpt-4o-mini) = %q, want the model name", got)
	}
}

// TestStreamDropsFilterChunks checks the exact chunks of an Azure stream:
// the prompt-filter and annotation chunks are gone.
func TestStreamDropsFilterChunks(t *testing.T) {
	body := string(providertest.ReadFile(t, "testdata/azure.stream.contentfilter.sse"))
	chunks, err := providertest.Collect(t, newStream(io.NopCloser(strings.NewReader(body)), ""))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range chunks {
		b, _ := json.Marshal(c.Choices)
		got = append(got, c.ID+" "+string(b))
	}
	if len(chunks) != 5 {
		t.Fatalf("got %d chunks, want 5 (role, 2 contents, finish, usage):\n%s", len(chunks), strings.Join(got, "\n"))
	}
	for _, c := range chunks {
		if c.ID != "chatcmpl-AZURE1" {
			t.Errorf("chunk with id %q passed through", c.ID)
		}
	}
}

func TestStreamDoneBeforeFinish(t *testing.T) {
	body := `data: {"choices":[{"delta":{"role":"assistant","content":"Hi"},"finish_reason":null,"index":0}],"created":1,"id":"c","model":"m","object":"chat.completion.chunk"}` + "\n\n" +
		"data: [DONE]\n\n"
	_, err := providertest.Collect(t, newStream(io.NopCloser(strings.NewReader(body)), ""))
	if err == nil {
		t.Fatal("stream with an unfinished choice ended with io.EOF, want an error")
	}
}
