package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// TestClientKeyReachesEveryAdapter proves pass-through end to end for each
// adapter that has a key header: the context's client key replaces the
// configured key on the outgoing request, never appears in the returned
// error even when the upstream echoes it, and without it the configured
// key is sent as before.
func TestClientKeyReachesEveryAdapter(t *testing.T) {
	const (
		configured = "sk-configured-0123456789-CANARY"
		client     = "sk-client-own-key-9876543210-CANARY"
	)
	tests := []struct {
		typ, header, prefix string
	}{
		{"openai", "Authorization", "Bearer "},
		{"azure", "Api-Key", ""},
		{"anthropic", "X-Api-Key", ""},
		{"gemini", "X-Goog-Api-Key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got []string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				v := r.Header.Get(tt.header)
				mu.Lock()
				got = append(got, v)
				mu.Unlock()
				// Upstreams quote the key they refuse; the adapter must not pass it on.
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, `{"type":"error","error":{"type":"authentication_error","code":401,"status":"UNAUTHENTICATED","message":"Incorrect API key provided: %s"}}`,
					strings.TrimPrefix(v, tt.prefix))
			}))
			defer srv.Close()
			cfg := configs.Default()
			cfg.Providers = map[string]configs.Provider{"p": {Type: tt.typ, BaseURL: srv.URL, APIKey: configured}}
			provs, err := Build(cfg, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			p := provs["p"]
			req := &normalize.Request{Model: "m", Messages: []normalize.Message{{Role: "user", Content: []normalize.Part{{Type: "text", Text: "hi"}}}}}

			ctx := providers.WithClientKey(context.Background(), client)
			_, errComplete := p.Complete(ctx, req)
			_, errStream := p.Stream(ctx, req)
			_, errOwn := p.Complete(context.Background(), req)
			for name, err := range map[string]error{"Complete": errComplete, "Stream": errStream} {
				pe, ok := providers.AsError(err)
				if !ok || pe.Status != http.StatusUnauthorized {
					t.Fatalf("%s with client key: err = %v, want a 401 *providers.Error", name, err)
				}
				if strings.Contains(err.Error(), client) || strings.Contains(pe.Message, client) {
					t.Errorf("%s error reveals the client key: %q", name, pe.Message)
				}
			}
			if errOwn == nil {
				t.Fatal("Complete with the configured key: err = nil, want the 401")
			}
			want := []string{tt.prefix + client, tt.prefix + client, tt.prefix + configured}
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s headers = %q, want %q", tt.header, got, want)
			}
		})
	}
}

func TestClientKeyContext(t *testing.T) {
	if _, ok := providers.ClientKey(context.Background()); ok {
		t.Error("ClientKey(Background) reports a key")
	}
	if ctx := providers.WithClientKey(context.Background(), ""); ctx != context.Background() {
		t.Error("WithClientKey with an empty key changed the context")
	}
	ctx := providers.WithClientKey(context.Background(), "sk-secret-canary")
	if k, ok := providers.ClientKey(ctx); !ok || k != "sk-secret-canary" {
		t.Errorf("ClientKey = %q, %v, want the key", k, ok)
	}
	if s := fmt.Sprint(ctx); strings.Contains(s, "sk-secret-canary") {
		t.Errorf("printing the context reveals the key: %s", s)
	}
	if k, ok := providers.ClientKey(providers.WithoutClientKey(ctx)); ok {
		t.Errorf("ClientKey(WithoutClientKey) = %q, want none", k)
	}
	if bg := context.Background(); providers.WithoutClientKey(bg) != bg {
		t.Error("WithoutClientKey without a key changed the context")
	}
}
