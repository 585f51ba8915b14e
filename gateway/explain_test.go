package gateway

import (
	"strings"
	"testing"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/configs"
)

// TestExplainLooseMatching checks that a route's looser matching options
// reach the key: ignored fields and trailing white space share a key, and
// the key lives in a tagged namespace, apart from strict entries.
func TestExplainLooseMatching(t *testing.T) {
	cfg := configs.Default()
	cfg.Routes = []configs.Route{
		{Model: "loose", Provider: "openai", UpstreamModel: "gpt-4o-mini",
			Cache: configs.RouteCache{IgnoreFields: []string{"seed"}, TrimTrailingWhitespace: true}},
		{Model: "strict", Provider: "openai", UpstreamModel: "gpt-4o-mini"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	explainBody := func(body string) *cache.Explanation {
		t.Helper()
		e, err := Explain(cfg, "acme", []byte(body))
		if err != nil {
			t.Fatalf("Explain(%s) = %v", body, err)
		}
		return e
	}
	a := explainBody(`{"model":"loose","messages":[{"role":"user","content":"Hi"}],"seed":1}`)
	b := explainBody(`{"model":"loose","messages":[{"role":"user","content":"Hi \n"}],"seed":2}`)
	if a.Key != b.Key {
		t.Errorf("loose route: keys differ:\n%s\n%s\n%v", a.Key, b.Key, cache.Compare(a, b))
	}
	if !strings.HasPrefix(a.Namespace, "acme/loose:") || a.Match == "" || !strings.HasSuffix(a.Namespace, a.Match) {
		t.Errorf("loose route: namespace %q, match %q; want acme/<tag>", a.Namespace, a.Match)
	}
	s1 := explainBody(`{"model":"strict","messages":[{"role":"user","content":"Hi"}],"seed":1}`)
	s2 := explainBody(`{"model":"strict","messages":[{"role":"user","content":"Hi"}],"seed":2}`)
	if s1.Key == s2.Key || s1.Namespace != "acme" || s1.Match != "" {
		t.Errorf("strict route: keys %s and %s, namespace %q, match %q", s1.Key, s2.Key, s1.Namespace, s1.Match)
	}
	// Same upstream model, same canonical bytes: only the namespace keeps
	// loose and strict entries apart.
	s3 := explainBody(`{"model":"strict","messages":[{"role":"user","content":"Hi"}]}`)
	a3 := explainBody(`{"model":"loose","messages":[{"role":"user","content":"Hi"}]}`)
	if s3.Route != a3.Route || string(s3.Canonical) != string(a3.Canonical) || s3.Key == a3.Key {
		t.Errorf("loose and strict entries mix: %s vs %s", s3.Key, a3.Key)
	}
}
