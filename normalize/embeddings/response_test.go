package embeddings_test

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/embeddings"
)

// specVector holds the three values of the embedding example in OpenAI's
// OpenAPI spec (CreateEmbeddingResponse), plus values that exercise the
// float spelling: an exponent, negative zero, a value above 1, and the
// float32 extremes.
var specVector = []float32{0.0023064255, -0.009327292, -0.0028842222, -4.8e-05, float32(math.Copysign(0, -1)), 12.5,
	math.MaxFloat32, math.SmallestNonzeroFloat32, 1}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func inputs(n int) []normalize.EmbeddingInput {
	in := make([]normalize.EmbeddingInput, n)
	for i := range in {
		in[i].Text = "text " + strconv.Itoa(i)
	}
	return in
}

// TestAppendResponseGolden renders two vectors in both formats, compares
// with the golden files, and reads each answer back exactly: floats parse
// to the same float32s, and base64 is their little-endian bytes.
func TestAppendResponseGolden(t *testing.T) {
	vectors := [][]float32{specVector, {0.5, -0.25}}
	usage := normalize.EmbeddingUsage{PromptTokens: 9, TotalTokens: 9}
	for _, format := range []string{normalize.EncodingFloat, normalize.EncodingBase64} {
		t.Run(format, func(t *testing.T) {
			got := embeddings.AppendResponse(nil, vectors, "text-embedding-3-small", usage, format)
			if !json.Valid(got) {
				t.Fatalf("AppendResponse wrote invalid JSON: %s", got)
			}
			golden(t, "testdata/render/"+format+".golden", append(got, '\n'))

			var wire struct {
				Object string `json:"object"`
				Data   []struct {
					Object    string          `json:"object"`
					Index     int             `json:"index"`
					Embedding json.RawMessage `json:"embedding"`
				} `json:"data"`
				Model string `json:"model"`
				Usage struct {
					PromptTokens int `json:"prompt_tokens"`
					TotalTokens  int `json:"total_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(got, &wire); err != nil {
				t.Fatal(err)
			}
			if wire.Object != "list" || wire.Model != "text-embedding-3-small" || wire.Usage.PromptTokens != 9 || wire.Usage.TotalTokens != 9 || len(wire.Data) != 2 {
				t.Fatalf("AppendResponse = %s", got)
			}
			for i, d := range wire.Data {
				if d.Object != "embedding" || d.Index != i {
					t.Errorf("data[%d] = object %q, index %d", i, d.Object, d.Index)
				}
				var back []float32
				if format == normalize.EncodingBase64 {
					var s string
					if err := json.Unmarshal(d.Embedding, &s); err != nil {
						t.Fatalf("data[%d].embedding is not a string: %s", i, d.Embedding)
					}
					raw, err := base64.StdEncoding.DecodeString(s)
					if err != nil {
						t.Fatal(err)
					}
					if back, err = normalize.DecodeVector(raw); err != nil {
						t.Fatal(err)
					}
				} else if err := json.Unmarshal(d.Embedding, &back); err != nil {
					t.Fatal(err)
				}
				if !sameBits(back, vectors[i]) {
					t.Errorf("data[%d] reads back as %v, want %v", i, back, vectors[i])
				}
			}
			// ParseResponse reads Ditto's own answers, too.
			resp, err := embeddings.ParseResponse(got, inputs(2))
			if err != nil {
				t.Fatal(err)
			}
			for i := range vectors {
				if !sameBits(resp.Vectors[i], vectors[i]) {
					t.Errorf("ParseResponse vector %d = %v, want %v", i, resp.Vectors[i], vectors[i])
				}
			}
		})
	}
}

// sameBits compares float32s bit for bit (so -0 differs from 0).
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestFloatSpellingRoundTrips: every float32 spelled by AppendResponse
// parses back to itself, over a spread of bit patterns.
func TestFloatSpellingRoundTrips(t *testing.T) {
	v := make([]float32, 0, 1<<12)
	for bits := uint32(0); len(v) < cap(v); bits += 0x000F_F1D3 {
		f := math.Float32frombits(bits)
		if !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) {
			v = append(v, f)
		}
	}
	out := embeddings.AppendResponse(nil, [][]float32{v}, "m", normalize.EmbeddingUsage{}, normalize.EncodingFloat)
	resp, err := embeddings.ParseResponse(out, inputs(1))
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(resp.Vectors[0], v) {
		t.Error("a float32 does not survive AppendResponse and ParseResponse")
	}
}

func TestAppendResponseNonFinite(t *testing.T) {
	v := []float32{float32(math.NaN()), float32(math.Inf(1)), 1}
	for _, format := range []string{normalize.EncodingFloat, normalize.EncodingBase64} {
		out := embeddings.AppendResponse(nil, [][]float32{v}, "m", normalize.EmbeddingUsage{}, format)
		resp, err := embeddings.ParseResponse(out, inputs(1))
		if err != nil {
			t.Fatalf("%s: %v (%s)", format, err, out)
		}
		if want := []float32{0, 0, 1}; !sameBits(resp.Vectors[0], want) {
			t.Errorf("%s: non-finite values render as %v, want %v", format, resp.Vectors[0], want)
		}
	}
}

func TestParseResponse(t *testing.T) {
	b64 := func(v ...float32) string {
		return strconv.Quote(base64.StdEncoding.EncodeToString(normalize.EncodeVector(nil, v)))
	}
	tests := []struct {
		name       string
		give       string
		n          int
		want       [][]float32
		wantUsage  normalize.EmbeddingUsage
		wantTokens []int
		wantModel  string
	}{{
		name: "spec shape, float",
		give: `{"object":"list","data":[{"object":"embedding","embedding":[0.0023064255,-0.009327292,-0.0028842222],"index":0}],
			"model":"text-embedding-ada-002","usage":{"prompt_tokens":8,"total_tokens":8}}`,
		n: 1, want: [][]float32{{0.0023064255, -0.009327292, -0.0028842222}},
		wantUsage: normalize.EmbeddingUsage{PromptTokens: 8, TotalTokens: 8}, wantTokens: []int{8}, wantModel: "text-embedding-ada-002",
	}, {
		name: "base64, out of order",
		give: `{"data":[{"index":1,"embedding":` + b64(3, 4) + `},{"index":0,"embedding":` + b64(1, 2) + `}],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}`,
		n:    2, want: [][]float32{{1, 2}, {3, 4}},
		wantUsage: normalize.EmbeddingUsage{PromptTokens: 4, TotalTokens: 4}, wantTokens: []int{2, 2}, wantModel: "m",
	}, {
		name: "float64 digits round to the nearest float32; no index, no usage",
		give: `{"data":[{"embedding":[0.1234567890123,1e-3]}]}`,
		n:    1, want: [][]float32{{0.1234567890123, 1e-3}},
		wantUsage: normalize.EmbeddingUsage{PromptTokens: 3, TotalTokens: 3, Estimated: true}, wantTokens: []int{3}, // "text 0"
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := embeddings.ParseResponse([]byte(tt.give), inputs(tt.n))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, resp.Vectors); diff != "" {
				t.Errorf("vectors (-want +got):\n%s", diff)
			}
			if resp.Usage != tt.wantUsage || !cmp.Equal(resp.Tokens, tt.wantTokens) || resp.Model != tt.wantModel {
				t.Errorf("usage %+v, tokens %v, model %q; want %+v, %v, %q", resp.Usage, resp.Tokens, resp.Model, tt.wantUsage, tt.wantTokens, tt.wantModel)
			}
		})
	}
}

func TestParseResponseRejects(t *testing.T) {
	nan := strconv.Quote(base64.StdEncoding.EncodeToString(normalize.EncodeVector(nil, []float32{float32(math.NaN())})))
	tests := []struct {
		name string
		give string
		n    int
	}{
		{"not JSON", `{"data":`, 1},
		{"no data", `{"object":"list"}`, 1},
		{"fewer vectors than inputs", `{"data":[{"embedding":[1]}]}`, 2},
		{"more vectors than inputs", `{"data":[{"embedding":[1]},{"embedding":[2]}]}`, 1},
		{"index twice", `{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]}`, 2},
		{"index out of range", `{"data":[{"index":1,"embedding":[1]}]}`, 1},
		{"index not an integer", `{"data":[{"index":0.5,"embedding":[1]}]}`, 1},
		{"no embedding", `{"data":[{"index":0}]}`, 1},
		{"empty embedding", `{"data":[{"embedding":[]}]}`, 1},
		{"empty base64", `{"data":[{"embedding":""}]}`, 1},
		{"embedding of wrong type", `{"data":[{"embedding":{}}]}`, 1},
		{"string in the array", `{"data":[{"embedding":[1,"2"]}]}`, 1},
		{"beyond float32", `{"data":[{"embedding":[1e39]}]}`, 1},
		{"bad base64", `{"data":[{"embedding":"!!!!"}]}`, 1},
		{"base64 not a multiple of 4 bytes", `{"data":[{"embedding":"AAAAAAA="}]}`, 1},
		{"NaN in base64", `{"data":[{"embedding":` + nan + `}]}`, 1},
	}
	for _, tt := range tests {
		if resp, err := embeddings.ParseResponse([]byte(tt.give), inputs(tt.n)); err == nil {
			t.Errorf("%s: ParseResponse(%s) = %+v, want an error", tt.name, tt.give, resp)
		}
	}
}

func TestAppendRequest(t *testing.T) {
	dims := 64
	r := &normalize.EmbeddingRequest{
		Model:      "client-model",
		Inputs:     []normalize.EmbeddingInput{{Tokens: []int{1, 2}}, {Tokens: []int{3}}},
		Dimensions: &dims,
		Extra:      []normalize.Field{{Name: "truncate", Value: json.RawMessage(`"END"`)}},
		User:       "u\"1",
		// The client's wish is not the upstream's format.
		EncodingFormat: normalize.EncodingFloat,
	}
	got := string(embeddings.AppendRequest(nil, r, "up", normalize.EncodingBase64))
	want := `{"model":"up","input":[[1,2],[3]],"encoding_format":"base64","dimensions":64,"truncate":"END","user":"u\"1"}`
	if got != want {
		t.Errorf("AppendRequest = %s\nwant %s", got, want)
	}
	if got := string(embeddings.AppendRequest(nil, &normalize.EmbeddingRequest{Inputs: []normalize.EmbeddingInput{{Text: "x"}}}, "up", "other")); !strings.Contains(got, `"encoding_format":"float"`) {
		t.Errorf("AppendRequest with an unknown format = %s, want float", got)
	}
}
