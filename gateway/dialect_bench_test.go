package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/fakeopenai"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/openai"
)

// BenchmarkHitDialects measures the hit path of every endpoint against the
// chat hit path, in process (the handler's ServeHTTP, no sockets), one
// question asked in each dialect and so answered from one entry. Compare
// each sub-benchmark's ns/op with chat's of the same run:
//
//	go test -run '^$' -bench BenchmarkHitDialects -benchmem -count 6 ./gateway/
//
// Embeddings are 1536-dimension vectors (text-embedding-3-small), one
// input per request, in both encodings.
func BenchmarkHitDialects(b *testing.B) {
	h := benchGateway(b)
	const q = "What is the capital of France? Answer in one word."
	cases := []struct{ name, path, body string }{
		{"chat", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"` + q + `"}]}`},
		{"chat-stream", "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"` + q + `"}]}`},
		{"responses", "/v1/responses", `{"model":"gpt-4o","input":"` + q + `"}`},
		{"responses-stream", "/v1/responses", `{"model":"gpt-4o","stream":true,"input":"` + q + `"}`},
		{"messages", "/v1/messages", `{"model":"gpt-4o","max_tokens":1024,"messages":[{"role":"user","content":"` + q + `"}]}`},
		{"messages-stream", "/v1/messages", `{"model":"gpt-4o","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"` + q + `"}]}`},
		{"completions", "/v1/completions", `{"model":"gpt-4o","prompt":"` + q + `","max_tokens":16}`},
		{"embeddings-base64", "/v1/embeddings", `{"model":"text-embedding-3-small","input":"` + q + `","encoding_format":"base64"}`},
		{"embeddings-float", "/v1/embeddings", `{"model":"text-embedding-3-small","input":"` + q + `","encoding_format":"float"}`},
	}
	for _, c := range cases {
		// Prime: the first request of each is a miss (or, across dialects,
		// already a hit); the second must hit.
		for i := range 2 {
			code, status := serveOnce(h, c.path, c.body)
			if code != http.StatusOK || (i == 1 && status != "HIT") {
				b.Fatalf("%s: priming request %d answered %d %s", c.name, i, code, status)
			}
		}
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code, status := serveOnce(h, c.path, c.body); code != http.StatusOK || status != "HIT" {
						b.Errorf("%s: %d %s", c.name, code, status)
						return
					}
				}
			})
		})
	}
}

func serveOnce(h http.Handler, path, body string) (int, string) {
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	return w.code, w.h.Get("X-Ditto-Cache")
}

// discardWriter is the benchmarks' http.ResponseWriter: it keeps the
// status and headers and counts the body without keeping it, as a server
// hands the bytes to its connection's buffer. (httptest.ResponseRecorder
// copies every body into a growing buffer, a cost of the recorder that
// grows with the answer's size, not the gateway's.)
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
func (w *discardWriter) Flush() {}

// benchGateway is a gateway on the memory store whose "openai" provider is
// fakeopenai (chat and legacy completions) and whose embedding model goes
// to an upstream answering 1536-dimension vectors.
func benchGateway(b *testing.B) http.Handler {
	up := fakeopenai.New(b)
	emb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input json.RawMessage `json:"input"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		vec := make([]float32, 1536)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range vec {
			vec[i] = rng.Float32()*2 - 1
		}
		v, _ := json.Marshal(vec)
		fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":%s}],"model":"text-embedding-3-small","usage":{"prompt_tokens":12,"total_tokens":12}}`, v)
	}))
	b.Cleanup(emb.Close)
	cfg := configs.Default()
	cfg.Providers["emb"] = configs.Provider{Type: "openai", BaseURL: emb.URL + "/v1"}
	cfg.Routes = append(cfg.Routes, configs.Route{Model: "text-embedding-3-small", Provider: "emb"})
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	srv, err := New(context.Background(), cfg, Deps{
		Providers: map[string]providers.Provider{
			"openai": openai.New(openai.Options{BaseURL: up.BaseURL(), APIKey: "sk-test"}),
			"emb":    openai.New(openai.Options{BaseURL: emb.URL + "/v1", APIKey: "sk-test"}),
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv.Handler()
}
