package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/openai"
)

// embedUpstream speaks OpenAI's POST /v1/embeddings: each input's vector
// is [len(input), first byte, 1], usage counts 2 tokens per input.
type embedUpstream struct {
	*httptest.Server
	mu     sync.Mutex
	inputs [][]string // per call
}

func newEmbedUpstream(t *testing.T) *embedUpstream {
	u := &embedUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input []string `json:"input"`
		}
		if r.URL.Path != "/v1/embeddings" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"error":{"message":"bad","type":"invalid_request_error"}}`, 400)
			return
		}
		u.mu.Lock()
		u.inputs = append(u.inputs, req.Input)
		u.mu.Unlock()
		var data []string
		for i, in := range req.Input {
			data = append(data, fmt.Sprintf(`{"object":"embedding","index":%d,"embedding":[%d,%d,1]}`, i, len(in), in[0]))
		}
		fmt.Fprintf(w, `{"object":"list","data":[%s],"model":"text-embedding-3-small","usage":{"prompt_tokens":%d,"total_tokens":%d}}`,
			strings.Join(data, ","), 2*len(req.Input), 2*len(req.Input))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *embedUpstream) calls() [][]string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([][]string(nil), u.inputs...)
}

type embedAnswer struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
	} `json:"usage"`
}

// A batch with half its items cached makes one upstream call carrying only
// the misses, and answers every item in order with the whole batch's usage.
func TestEmbeddingsCachedPerItem(t *testing.T) {
	up := newEmbedUpstream(t)
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		d.Providers = map[string]providers.Provider{"openai": openai.New(openai.Options{BaseURL: up.URL + "/v1", APIKey: "sk-test"})}
	})
	body := func(inputs ...string) string {
		b, _ := json.Marshal(map[string]any{"model": "text-embedding-3-small", "input": inputs, "encoding_format": "float"})
		return string(b)
	}
	code, status, b := postTo(t, g.url, "/v1/embeddings", body("alpha", "beta"))
	if code != 200 || status != "MISS" {
		t.Fatalf("first: %d %s %s", code, status, b)
	}
	code, status, b = postTo(t, g.url, "/v1/embeddings", body("gamma", "alpha", "delta", "beta"))
	if code != 200 || status != "MISS" {
		t.Fatalf("half cached: %d %s %s", code, status, b)
	}
	var ans embedAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Fatal(err)
	}
	want := []string{"gamma", "alpha", "delta", "beta"}
	for i, d := range ans.Data {
		if d.Index != i || len(d.Embedding) != 3 || int(d.Embedding[0]) != len(want[i]) || int(d.Embedding[1]) != int(want[i][0]) {
			t.Errorf("item %d = %+v, want the vector of %q", i, d, want[i])
		}
	}
	if len(ans.Data) != 4 || ans.Usage.PromptTokens != 8 {
		t.Errorf("%d items, usage %d; want 4 items and 8 tokens", len(ans.Data), ans.Usage.PromptTokens)
	}
	calls := up.calls()
	if len(calls) != 2 || strings.Join(calls[1], ",") != "gamma,delta" {
		t.Errorf("upstream calls %v, want [alpha beta] then only the misses [gamma delta]", calls)
	}
	code, status, _ = postTo(t, g.url, "/v1/embeddings", body("delta", "gamma", "alpha"))
	if code != 200 || status != "HIT" || len(up.calls()) != 2 {
		t.Errorf("all cached: %d %s after %d calls, want HIT and no new call", code, status, len(up.calls()))
	}
	// A different dimensions is a different vector.
	b2, _ := json.Marshal(map[string]any{"model": "text-embedding-3-small", "input": "alpha", "dimensions": 2})
	if _, status, _ := postTo(t, g.url, "/v1/embeddings", string(b2)); status != "MISS" {
		t.Errorf("other dimensions: %s, want MISS", status)
	}
	text := scrape(t, g.url)
	if n, _ := metricValue(text, "ditto_cache_tokens_saved_total", map[string]string{"gen_ai_request_model": "text-embedding-3-small", "gen_ai_token_type": "input"}); n != 10 {
		t.Errorf("tokens saved = %v, want 10 (2 items, then 3)", n)
	}
}

func TestEmbeddingsBadInput(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	for _, body := range []string{`{`, `{"model":"text-embedding-3-small"}`, `{"model":"text-embedding-3-small","input":[]}`,
		`{"model":"text-embedding-3-small","input":"x","encoding_format":"int8"}`, `{"model":"text-embedding-3-small","input":[[1,-2]]}`} {
		code, _, b := postTo(t, g.url, "/v1/embeddings", body)
		if code != 400 || !strings.Contains(string(b), `"invalid_request_error"`) {
			t.Errorf("%s: %d %s, want a 400 OpenAI error", body, code, b)
		}
	}
}

// A one-input request carries its item's key like any entry (so ?key=
// purge and explain work on it); a batch carries X-Ditto-Cache-Items
// instead. Hits carry Age, of the oldest item served.
func TestEmbeddingsHitHeaders(t *testing.T) {
	up := newEmbedUpstream(t)
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		c.Auth.AdminKey = adminKey
		d.Providers = map[string]providers.Provider{"openai": openai.New(openai.Options{BaseURL: up.URL + "/v1", APIKey: "sk-test"})}
	})
	post := func(input any) http.Header {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"model": "text-embedding-3-small", "input": input})
		res, err := http.Post(g.url+"/v1/embeddings", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		return res.Header
	}
	miss := post("alpha")
	hit := post("alpha")
	key := miss.Get("X-Ditto-Cache-Key")
	if !strings.HasPrefix(key, "ditto:v") || hit.Get("X-Ditto-Cache-Key") != key {
		t.Errorf("keys %q then %q, want one ditto:v… key on both", key, hit.Get("X-Ditto-Cache-Key"))
	}
	if miss.Get("Age") != "" || hit.Get("Age") != "0" || hit.Get("X-Ditto-Cache") != "HIT" {
		t.Errorf("Age %q on the miss, %q on the %s; want none, then 0 on a HIT", miss.Get("Age"), hit.Get("Age"), hit.Get("X-Ditto-Cache"))
	}
	batch := post([]string{"alpha", "beta"})
	if k := batch.Get("X-Ditto-Cache-Key"); k != "" {
		t.Errorf("a batch carries X-Ditto-Cache-Key %q, want none (a key per item)", k)
	}
	if got := batch.Get("X-Ditto-Cache-Items"); got != "hit=1, fetched=1, total=2" {
		t.Errorf("X-Ditto-Cache-Items %q", got)
	}
	req, _ := http.NewRequest(http.MethodDelete, g.url+"/v1/cache?key="+key, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("purge by key: %d", res.StatusCode)
	}
	if again := post("alpha"); again.Get("X-Ditto-Cache") != "MISS" {
		t.Errorf("after purging its key: %s, want MISS", again.Get("X-Ditto-Cache"))
	}
}

// A memoized embeddings request keeps the rendering of the entries it was
// last served; a new entry for one of its items (purge and refill, or a
// refresh) is rendered afresh, never answered with the old bytes.
func TestEmbeddingsMemoSeesNewEntries(t *testing.T) {
	var version atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := version.Add(1)
		fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,%d]},{"object":"embedding","index":1,"embedding":[0.25,%d]}],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}`, v, v)
	}))
	t.Cleanup(up.Close)
	g := newTestGatewayWith(t, func(c *configs.Config, d *Deps) {
		d.Providers = map[string]providers.Provider{"openai": openai.New(openai.Options{BaseURL: up.URL + "/v1", APIKey: "sk-test"})}
	})
	body := `{"model":"text-embedding-3-small","input":["alpha","beta"],"encoding_format":"float"}`
	send := func(cc string) (string, embedAnswer) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, g.url+"/v1/embeddings", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if cc != "" {
			req.Header.Set("Cache-Control", cc)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var a embedAnswer
		if err := json.NewDecoder(res.Body).Decode(&a); err != nil || res.StatusCode != 200 || len(a.Data) != 2 {
			t.Fatalf("status %d, %d items, %v", res.StatusCode, len(a.Data), err)
		}
		return res.Header.Get("X-Ditto-Cache"), a
	}
	versions := func(a embedAnswer) [2]float32 { return [2]float32{a.Data[0].Embedding[1], a.Data[1].Embedding[1]} }
	for i, want := range []string{"MISS", "HIT", "HIT", "HIT"} { // admitted to the memo, then served from its rendering
		if got, a := send(""); got != want || versions(a) != [2]float32{1, 1} || a.Usage.PromptTokens != 4 {
			t.Fatalf("request %d: %s %v usage %d, want %s of version 1 with usage 4", i, got, versions(a), a.Usage.PromptTokens, want)
		}
	}
	if got, a := send("no-cache"); got == "HIT" || versions(a) != [2]float32{2, 2} {
		t.Fatalf("refresh: %s %v, want a fetch of version 2", got, versions(a))
	}
	for i := range 2 {
		if got, a := send(""); got != "HIT" || versions(a) != [2]float32{2, 2} {
			t.Fatalf("after the refresh, request %d: %s %v, want a HIT of version 2 (not the memo's old rendering)", i, got, versions(a))
		}
	}
}
