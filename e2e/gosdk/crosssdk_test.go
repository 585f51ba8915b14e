package gosdk

// One logical request sent by different SDKs must share one cache entry,
// though each SDK spells it differently: openai-go orders keys its own way,
// go-openai sends "stream":false and puts "model" first, the Node SDK keeps
// the caller's key order. ../testdata/sdk-requests holds the exact bytes
// each SDK sends for three cases; TestSDKRequestFixtures keeps the Go ones
// current and the Node suite (e2e/node/cross-sdk.test.mjs) the Node ones.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	goopenai "github.com/sashabaranov/go-openai"
	"github.com/sashabaranov/go-openai/jsonschema"
)

const sdkRequestsDir = "../testdata/sdk-requests"

// sdkCase is one logical request, built by each Go SDK.
type sdkCase struct {
	name     string
	stream   bool
	openaiGo openai.ChatCompletionNewParams
	goOpenAI goopenai.ChatCompletionRequest
}

func sdkCases() []sdkCase {
	return []sdkCase{
		{
			name: "chat",
			openaiGo: openai.ChatCompletionNewParams{
				Model:       "gpt-4o-mini",
				Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("[xsdk] hi")},
				Temperature: openai.Float(0.2),
				MaxTokens:   openai.Int(64),
			},
			goOpenAI: goopenai.ChatCompletionRequest{
				Model: "gpt-4o-mini",
				Messages: []goopenai.ChatCompletionMessage{
					{Role: goopenai.ChatMessageRoleSystem, Content: "Be brief."},
					{Role: goopenai.ChatMessageRoleUser, Content: "[xsdk] hi"},
				},
				Temperature: 0.2,
				MaxTokens:   64,
			},
		},
		{
			name:   "stream",
			stream: true,
			openaiGo: openai.ChatCompletionNewParams{
				Model:         "gpt-4o-mini",
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("[xsdk] stream")},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			},
			goOpenAI: goopenai.ChatCompletionRequest{
				Model:         "gpt-4o-mini",
				Messages:      []goopenai.ChatCompletionMessage{{Role: goopenai.ChatMessageRoleUser, Content: "[xsdk] stream"}},
				StreamOptions: &goopenai.StreamOptions{IncludeUsage: true},
			},
		},
		{
			name: "tools",
			openaiGo: openai.ChatCompletionNewParams{
				Model:    "gpt-4o-mini",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("[xsdk] weather?")},
				Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
					Name:        "get_weather",
					Description: openai.String("Get the weather"),
					Parameters: shared.FunctionParameters{
						"type":       "object",
						"properties": map[string]any{"city": map[string]any{"type": "string"}},
						"required":   []string{"city"},
					},
				})},
			},
			goOpenAI: goopenai.ChatCompletionRequest{
				Model:    "gpt-4o-mini",
				Messages: []goopenai.ChatCompletionMessage{{Role: goopenai.ChatMessageRoleUser, Content: "[xsdk] weather?"}},
				Tools: []goopenai.Tool{{Type: goopenai.ToolTypeFunction, Function: &goopenai.FunctionDefinition{
					Name:        "get_weather",
					Description: "Get the weather",
					Parameters: jsonschema.Definition{
						Type:       jsonschema.Object,
						Properties: map[string]jsonschema.Definition{"city": {Type: jsonschema.String}},
						Required:   []string{"city"},
					},
				}}},
			},
		},
	}
}

// sendOpenAIGo sends a case with openai-go and returns the response headers.
func sendOpenAIGo(t *testing.T, baseURL string, sc sdkCase, ns string) http.Header {
	t.Helper()
	c := openai.NewClient(option.WithBaseURL(baseURL+"/v1/"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0),
		option.WithHeader("X-Ditto-Namespace", ns))
	var resp *http.Response
	if sc.stream {
		s := c.Chat.Completions.NewStreaming(context.Background(), sc.openaiGo, option.WithResponseInto(&resp))
		for s.Next() {
		}
		if err := s.Err(); err != nil {
			t.Fatalf("openai-go %s: %v", sc.name, err)
		}
		s.Close()
	} else if _, err := c.Chat.Completions.New(context.Background(), sc.openaiGo, option.WithResponseInto(&resp)); err != nil {
		t.Fatalf("openai-go %s: %v", sc.name, err)
	}
	return resp.Header
}

// sendGoOpenAI sends a case with go-openai, unmodified, and returns the
// response headers.
func sendGoOpenAI(t *testing.T, baseURL string, sc sdkCase, ns string) http.Header {
	t.Helper()
	hc := &headerCapture{base: http.DefaultTransport, extra: http.Header{"X-Ditto-Namespace": {ns}}}
	cfg := goopenai.DefaultConfig("sk-client")
	cfg.BaseURL = baseURL + "/v1"
	cfg.HTTPClient = &http.Client{Transport: hc}
	c := goopenai.NewClientWithConfig(cfg)
	req := sc.goOpenAI
	if sc.stream {
		req.Stream = true
		s, err := c.CreateChatCompletionStream(context.Background(), req)
		if err != nil {
			t.Fatalf("go-openai %s: %v", sc.name, err)
		}
		for {
			if _, err := s.Recv(); err != nil {
				if err != io.EOF {
					t.Fatalf("go-openai %s: %v", sc.name, err)
				}
				break
			}
		}
		s.Close()
	} else if _, err := c.CreateChatCompletion(context.Background(), req); err != nil {
		t.Fatalf("go-openai %s: %v", sc.name, err)
	}
	return hc.last()
}

func TestCrossSDKCacheSharing(t *testing.T) {
	e := newEnv(t)
	for _, sc := range sdkCases() {
		t.Run(sc.name, func(t *testing.T) {
			nodeBody, err := os.ReadFile(filepath.Join(sdkRequestsDir, "node-openai."+sc.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			// openai-go first, then go-openai and the Node SDK's bytes.
			h := sendOpenAIGo(t, e.gw.URL, sc, "a-"+sc.name)
			wantCache(t, h, "MISS")
			key := h.Get("X-Ditto-Cache-Key")
			h = sendGoOpenAI(t, e.gw.URL, sc, "a-"+sc.name)
			wantCache(t, h, "HIT")
			status, h, m := raw(t, e.gw.URL, string(nodeBody), "X-Ditto-Namespace", "a-"+sc.name)
			if status != 200 {
				t.Fatalf("node-openai bytes: %d %v", status, m)
			}
			wantCache(t, h, "HIT")
			if h.Get("X-Ditto-Cache-Key") != key {
				t.Errorf("node-openai key %q, openai-go key %q", h.Get("X-Ditto-Cache-Key"), key)
			}
			// The other way round.
			wantCache(t, sendGoOpenAI(t, e.gw.URL, sc, "b-"+sc.name), "MISS")
			wantCache(t, sendOpenAIGo(t, e.gw.URL, sc, "b-"+sc.name), "HIT")
		})
	}
	if e.up.Calls() != 2*len(sdkCases()) {
		t.Errorf("upstream calls = %d, want %d (one per case and namespace)", e.up.Calls(), 2*len(sdkCases()))
	}
}

// TestSDKRequestFixtures checks that testdata/sdk-requests still holds the
// exact bytes the Go SDKs send. After an SDK upgrade, regenerate with
// DITTO_UPDATE_SDK_REQUESTS=1 go test ./e2e/gosdk -run TestSDKRequestFixtures.
func TestSDKRequestFixtures(t *testing.T) {
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, b)
		if bytes.Contains(b, []byte(`"stream":true`)) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[]}`)
	}))
	defer srv.Close()
	update := os.Getenv("DITTO_UPDATE_SDK_REQUESTS") == "1"
	for _, sc := range sdkCases() {
		for sdk, send := range map[string]func(*testing.T, string, sdkCase, string) http.Header{"openai-go": sendOpenAIGo, "go-openai": sendGoOpenAI} {
			bodies = nil
			send(t, srv.URL, sc, "x")
			if len(bodies) != 1 {
				t.Fatalf("%s %s: %d requests", sdk, sc.name, len(bodies))
			}
			file := filepath.Join(sdkRequestsDir, sdk+"."+sc.name+".json")
			if update {
				if err := os.WriteFile(file, append(bodies[0], '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(bodies[0]); got != strings.TrimSpace(string(want)) {
				t.Errorf("%s now sends for %q:\n%s\nbut %s holds:\n%s\nIf the SDK changed, regenerate with DITTO_UPDATE_SDK_REQUESTS=1.", sdk, sc.name, got, file, want)
			}
		}
	}
}
