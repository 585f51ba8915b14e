package providertest

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// The embeddings part of the suite. An adapter that implements
// providers.Embedder runs it next to Run:
//
//	providertest.RunEmbeddings(t, providertest.EmbedSuite{
//		New:        func(baseURL, apiKey string) providers.Embedder { return New(Options{BaseURL: baseURL, APIKey: apiKey}) },
//		Model:      "text-embedding-3-small",
//		AuthHeader: "Authorization", AuthPrefix: "Bearer ",
//		Cases:      []providertest.EmbedCase{{Name: "float", Reply: providertest.ReplyFile(t, "testdata/embeddings.float.response.json"), Want: …}},
//		Errors:     []providertest.EmbedErrorCase{…},
//	})
//
// For every request it checks the method, a JSON body with Content-Type
// application/json, the auth header, no key in the URL, and
// EmbedSuite.Check if set. Then, as subtests:
//
//   - embed/NAME: Embed returns one vector per input, equal to Want's bit
//     for bit, and one token share per input, non-negative and summing to
//     Usage.PromptTokens; Tokens, Usage and Model compared where set.
//   - embed-error/NAME: Embed fails with a *providers.Error carrying
//     Status, Type, Code and Param (when set) and RetryAfter, naming its
//     provider, and no error message contains the API key. With a nil
//     Reply the adapter must refuse the request without calling the
//     server (e.g. token inputs to Gemini).
//   - embed-cancel: the server holds the request until the client's
//     context is cancelled; Embed must return an error wrapping
//     context.Canceled, and the server must see its request context done.

// EmbedSuite describes an Embedder under test.
type EmbedSuite struct {
	// New returns the adapter talking to baseURL (the httptest server's
	// URL, no trailing slash) with apiKey.
	New        func(baseURL, apiKey string) providers.Embedder
	Model      string // model of default requests
	AuthHeader string // header carrying the key
	AuthPrefix string // prefix before the key in that header
	// Check, if set, inspects every request the adapter sends (path,
	// query, body) with the canonical request it was sent for.
	Check  func(t testing.TB, r *http.Request, body []byte, req *normalize.EmbeddingRequest)
	Cases  []EmbedCase
	Errors []EmbedErrorCase
}

// EmbedCase is a successful exchange.
type EmbedCase struct {
	Name    string
	Request *normalize.EmbeddingRequest // nil: DefaultEmbeddingRequest(EmbedSuite.Model)
	Reply   Reply
	Want    EmbedWant
}

// EmbedWant is what the adapter must make of a Reply.
type EmbedWant struct {
	Vectors [][]float32               // compared bit for bit, in input order
	Tokens  []int                     // nil = not checked
	Usage   *normalize.EmbeddingUsage // nil = not checked
	Model   string                    // "" = not checked
}

// EmbedErrorCase is an exchange that must fail with a *providers.Error.
type EmbedErrorCase struct {
	Name    string
	Request *normalize.EmbeddingRequest // nil: DefaultEmbeddingRequest(EmbedSuite.Model)
	Reply   *Reply                      // nil: the server must not be called
	Status  int
	Type    string
	Code    string // "" = not checked
	Param   string // "" = not checked
	// RetryAfter is compared always (0 = none).
	RetryAfter time.Duration
}

// EmbeddingTexts are the inputs of DefaultEmbeddingRequest: the texts of
// the embeddings examples in OpenAI's API reference, 8 and 9 tokens in
// cl100k_base.
var EmbeddingTexts = []string{"The food was delicious and the waiter...", "The quick brown fox jumped over the lazy dog"}

// EmbeddingVectors are the vectors of the spec-shaped embeddings answers
// adapters keep in their testdata for DefaultEmbeddingRequest: the first
// is the three values of the example in OpenAI's OpenAPI spec.
var EmbeddingVectors = [][]float32{{0.0023064255, -0.009327292, -0.0028842222}, {-0.006929283, -0.005336422, -4.547132e-05}}

// DefaultEmbeddingRequest is a request for model embedding EmbeddingTexts.
func DefaultEmbeddingRequest(model string) *normalize.EmbeddingRequest {
	r := &normalize.EmbeddingRequest{Model: model, EncodingFormat: normalize.EncodingFloat}
	for _, s := range EmbeddingTexts {
		r.Inputs = append(r.Inputs, normalize.EmbeddingInput{Text: s})
	}
	return r
}

// RunEmbeddings runs the embeddings suite as subtests of t.
func RunEmbeddings(t *testing.T, s EmbedSuite) {
	if s.New == nil || s.AuthHeader == "" {
		t.Fatal("providertest: EmbedSuite.New and EmbedSuite.AuthHeader are required")
	}
	for _, c := range s.Cases {
		t.Run("embed/"+c.Name, func(t *testing.T) { runEmbed(t, &s, &c) })
	}
	for _, c := range s.Errors {
		t.Run("embed-error/"+c.Name, func(t *testing.T) { runEmbedError(t, &s, &c) })
	}
	t.Run("embed-cancel", func(t *testing.T) { runEmbedCancel(t, &s) })
}

func (s *EmbedSuite) request(r *normalize.EmbeddingRequest) *normalize.EmbeddingRequest {
	if r != nil {
		return r
	}
	return DefaultEmbeddingRequest(s.Model)
}

func runEmbed(t *testing.T, s *EmbedSuite, c *EmbedCase) {
	req := s.request(c.Request)
	e := serveEmbed(t, s, req, nil, replyWith(c.Reply, false))
	resp, err := e.Embed(t.Context(), req)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	CheckEmbedding(t, req, resp, &c.Want)
}

// CheckEmbedding checks resp against want and against the invariants every
// Embedder keeps for req (see RunEmbeddings).
func CheckEmbedding(t testing.TB, req *normalize.EmbeddingRequest, resp *normalize.EmbeddingResponse, want *EmbedWant) {
	t.Helper()
	n := len(req.Inputs)
	if len(resp.Vectors) != n || len(resp.Tokens) != n {
		t.Fatalf("Embed returned %d vectors and %d token shares for %d inputs", len(resp.Vectors), len(resp.Tokens), n)
	}
	sum := 0
	for i, k := range resp.Tokens {
		if k < 0 {
			t.Errorf("token share %d is %d", i, k)
		}
		sum += k
	}
	if sum != resp.Usage.PromptTokens {
		t.Errorf("token shares %v sum to %d, want Usage.PromptTokens %d", resp.Tokens, sum, resp.Usage.PromptTokens)
	}
	for i, v := range resp.Vectors {
		if len(v) == 0 {
			t.Errorf("vector %d is empty", i)
		}
		for j, f := range v {
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				t.Errorf("vector %d value %d is %v", i, j, f)
			}
		}
	}
	if want.Vectors != nil && !sameVectors(resp.Vectors, want.Vectors) {
		t.Errorf("vectors = %v\nwant %v", resp.Vectors, want.Vectors)
	}
	if want.Tokens != nil && !equalInts(resp.Tokens, want.Tokens) {
		t.Errorf("token shares = %v, want %v", resp.Tokens, want.Tokens)
	}
	if want.Usage != nil && resp.Usage != *want.Usage {
		t.Errorf("usage = %+v, want %+v", resp.Usage, *want.Usage)
	}
	if want.Model != "" && resp.Model != want.Model {
		t.Errorf("model = %q, want %q", resp.Model, want.Model)
	}
}

func sameVectors(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				return false
			}
		}
	}
	return true
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func runEmbedError(t *testing.T, s *EmbedSuite, c *EmbedErrorCase) {
	req := s.request(c.Request)
	var calls atomic.Int32
	reply := func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the adapter called the server for a request it must refuse")
		w.WriteHeader(http.StatusTeapot)
	}
	if c.Reply != nil {
		reply = replyWith(*c.Reply, false)
	}
	e := serveEmbed(t, s, req, &calls, reply)
	_, err := e.Embed(t.Context(), req)
	if err == nil {
		t.Fatal("Embed succeeded, want an error")
	}
	if strings.Contains(err.Error(), APIKey) {
		t.Errorf("error %q contains the API key", err)
	}
	pe, ok := providers.AsError(err)
	if !ok {
		t.Fatalf("error = %v (%T), want a *providers.Error", err, err)
	}
	if pe.Provider == "" || pe.Message == "" || strings.Contains(pe.Message, APIKey) {
		t.Errorf("providers.Error has Provider %q, Message %q", pe.Provider, pe.Message)
	}
	if pe.Status != c.Status || pe.Type != c.Type || (c.Code != "" && pe.Code != c.Code) || (c.Param != "" && pe.Param != c.Param) || pe.RetryAfter != c.RetryAfter {
		t.Errorf("error = {Status:%d Type:%q Code:%q Param:%q RetryAfter:%v}, want {Status:%d Type:%q Code:%q Param:%q RetryAfter:%v}",
			pe.Status, pe.Type, pe.Code, pe.Param, pe.RetryAfter, c.Status, c.Type, c.Code, c.Param, c.RetryAfter)
	}
	if c.Reply != nil && calls.Load() == 0 {
		t.Error("the adapter never called the server")
	}
}

func runEmbedCancel(t *testing.T, s *EmbedSuite) {
	req := s.request(nil)
	probe := newCancelProbe()
	e := serveEmbed(t, s, req, nil, func(w http.ResponseWriter, r *http.Request) {
		probe.hold(t, r)
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	probe.cancelWhenHeld(cancel)
	_, err := e.Embed(ctx, req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Embed after cancel = %v, want an error wrapping context.Canceled", err)
	}
	probe.check(t)
}

// serveEmbed starts a server that checks each request against req, counts
// it in calls (when not nil) and then calls reply; it returns the adapter
// under test talking to it.
func serveEmbed(t *testing.T, s *EmbedSuite, req *normalize.EmbeddingRequest, calls *atomic.Int32, reply func(w http.ResponseWriter, r *http.Request)) providers.Embedder {
	t.Helper()
	cs := Suite{AuthHeader: s.AuthHeader, AuthPrefix: s.AuthPrefix}
	if s.Check != nil {
		cs.Check = func(t testing.TB, r *http.Request, body []byte, _ bool) { s.Check(t, r, body, req) }
	}
	url := startServer(t, &cs, false, func(w http.ResponseWriter, r *http.Request) {
		if calls != nil {
			calls.Add(1)
		}
		reply(w, r)
	})
	return s.New(url, APIKey)
}
