package normalize_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
)

var update = flag.Bool("update", false, "rewrite testdata/canonical/*.golden and testdata/keys.golden")

// corpus returns the request bodies of testdata/requests, by file name
// without extension, in name order.
func corpus(t testing.TB) (names []string, bodies map[string][]byte) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "requests", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no request corpus: %v", err)
	}
	bodies = map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		names = append(names, name)
		bodies[name] = b
	}
	return names, bodies
}

func decode(t testing.TB, body []byte) *normalize.Request {
	t.Helper()
	r, err := normalize.DecodeOpenAI(body)
	if err != nil {
		t.Fatalf("DecodeOpenAI(%s) = %v", body, err)
	}
	return r
}

// TestCanonicalGolden pins the canonical form of every request of the
// corpus, gofmt-style: testdata/requests/X.json → testdata/canonical/X.golden.
// A second pass proves the encoding is a fixed point: the upstream wire body
// decodes to the same canonical bytes, and re-encodes to the same wire body.
func TestCanonicalGolden(t *testing.T) {
	names, bodies := corpus(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			req := decode(t, bodies[name])
			got := append(normalize.Canonical(req), '\n')
			golden := filepath.Join("testdata", "canonical", name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Canonical(%s) =\n%s\nwant\n%s", name, got, want)
			}

			// Idempotence.
			wire := normalize.AppendOpenAIRequest(nil, req, req.Model, false)
			again := decode(t, wire)
			if c := append(normalize.Canonical(again), '\n'); !bytes.Equal(c, got) {
				t.Errorf("Canonical(Decode(wire)) =\n%s\nwant\n%s\nwire: %s", c, got, wire)
			}
			if w := normalize.AppendOpenAIRequest(nil, again, again.Model, false); !bytes.Equal(w, wire) {
				t.Errorf("wire encoding is not a fixed point:\n%s\n%s", w, wire)
			}
		})
	}
}

const keysHeader = `# Cache keys of testdata/requests/*.json:
#   cachekey.New("default", "openai/<model>", normalize.Canonical(req))
# name, key, SHA-256 verification digest.
#
# A change here means every deployed cache is invalidated: entries written
# under the old rules would be missed (or, worse, served for requests they do
# not answer). Bump cachekey.Version in the same change, then run
# go test ./normalize -update.
`

// TestKeysGolden pins the cache keys of the corpus, so that any change to
// canonicalization or key derivation is a conscious, versioned one.
func TestKeysGolden(t *testing.T) {
	names, bodies := corpus(t)
	var b strings.Builder
	b.WriteString(keysHeader)
	for _, name := range names {
		req := decode(t, bodies[name])
		k := cachekey.New("default", "openai/"+req.Model, normalize.Canonical(req))
		fmt.Fprintf(&b, "%s %s %s\n", name, k, hex.EncodeToString(k.Digest[:]))
	}
	golden := filepath.Join("testdata", "keys.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("keys changed (bump cachekey.Version and run go test -update):\n%s", lineDiff(string(want), got))
	}
	if !strings.Contains(string(want), fmt.Sprintf("ditto:v%d:", cachekey.Version)) {
		t.Errorf("keys.golden was not written with cachekey.Version %d", cachekey.Version)
	}
}

// lineDiff lists the lines of want and got that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out strings.Builder
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			fmt.Fprintf(&out, "-%s\n+%s\n", a, b)
		}
	}
	return out.String()
}

// TestCorpusEquivalences checks relations between corpus files that the
// equivalence rules promise.
func TestCorpusEquivalences(t *testing.T) {
	_, bodies := corpus(t)
	canon := func(name string) string { return string(normalize.Canonical(decode(t, bodies[name]))) }
	for _, pair := range [][2]string{
		{"simple", "single_text_part"},
		{"simple", "defaults_explicit"},
		{"simple", "metadata_unkeyed"},
		{"simple", "stream"},
	} {
		if a, b := canon(pair[0]), canon(pair[1]); a != b {
			t.Errorf("%s and %s should share a key:\n%s\n%s", pair[0], pair[1], a, b)
		}
	}
	for name, body := range bodies {
		c := normalize.Canonical(decode(t, body))
		for _, inline := range []string{"base64,", "UklGR"} {
			if bytes.Contains(c, []byte(inline)) {
				t.Errorf("canonical form of %s contains inline data %q: %s", name, inline, c)
			}
		}
	}
}
