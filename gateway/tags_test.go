package gateway

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/redistest"
)

// tagSteps stores tagged answers for two tenants on store, purges by tag
// on purge (another replica, or the same gateway) and checks what is left.
func tagSteps(t *testing.T, store, purge *testGateway) {
	t.Helper()
	chat := store.url + "/v1/chat/completions"
	cache := func(tok, prompt string, hdr ...string) string {
		t.Helper()
		status, h, m := call(t, "POST", chat, tok, chatBody(prompt, false), hdr...)
		if status != 200 {
			t.Fatalf("%s: %d %v", prompt, status, m)
		}
		return h.Get("X-Ditto-Cache")
	}
	cache(keyAcme, "q1", "X-Ditto-Tags", "docs, v2")
	cache(keyAcme, "q2", "X-Ditto-Tags", "docs", "X-Ditto-Namespace", "sub")
	cache(keyAcme, "q3", "X-Ditto-Tags", "v2")
	cache(keyAcme, "q4")
	cache(keyBeta, "q1", "X-Ditto-Tags", "docs")

	// A tenant purges its own tag without the admin key, and only its own.
	status, _, m := call(t, "DELETE", purge.url+"/v1/cache?tag=docs", keyAcme, "")
	if status != 200 || m["deleted"] != float64(2) {
		t.Fatalf("acme purge tag=docs: %d %v, want 2 deleted", status, m)
	}
	for _, st := range []struct {
		tok, prompt, want string
		hdr               []string
	}{
		{keyAcme, "q1", "MISS", nil},
		{keyAcme, "q2", "MISS", []string{"X-Ditto-Namespace", "sub"}},
		{keyAcme, "q3", "HIT", nil},
		{keyAcme, "q4", "HIT", nil},
		{keyBeta, "q1", "HIT", nil}, // beta's "docs" is not acme's
	} {
		if got := cache(st.tok, st.prompt, st.hdr...); got != st.want {
			t.Errorf("%s after acme's purge: %s, want %s", st.prompt, got, st.want)
		}
	}
	// Naming another tenant needs the admin key; the admin key may.
	if status, _, m := call(t, "DELETE", purge.url+"/v1/cache?tag=docs&namespace=beta", keyAcme, ""); status != 403 {
		t.Errorf("acme purging beta's tag: %d %v, want 403", status, m)
	}
	if status, _, m := call(t, "DELETE", purge.url+"/v1/cache?tag=docs&namespace=beta", adminKey, ""); status != 200 || m["deleted"] != float64(1) {
		t.Errorf("admin purging beta's tag: %d %v, want 1 deleted", status, m)
	}
	if got := cache(keyBeta, "q1"); got != "MISS" {
		t.Errorf("beta q1 after the admin's purge: %s, want MISS", got)
	}
}

func tagAuth(c *configs.Config) {
	c.Auth.Keys = []configs.APIKey{
		{Name: "acme", Tenant: "acme", SHA256: sha(keyAcme)},
		{Name: "beta", Tenant: "beta", SHA256: sha(keyBeta)},
	}
	c.Auth.AdminKey = adminKey
}

func TestPurgeByTag(t *testing.T) {
	g := newTestGateway(t, testOpts{cfg: tagAuth})
	tagSteps(t, g, g)
}

// Two replicas on one Redis: a tag purge on one deletes what the other
// stored.
func TestPurgeByTagAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	replica := func() *testGateway {
		return newTestGateway(t, testOpts{cfg: func(c *configs.Config) {
			tagAuth(c)
			c.Cache.Redis.URL = configs.Secret(srv.URL())
		}})
	}
	tagSteps(t, replica(), replica())
}

func TestTagsValidated(t *testing.T) {
	g := newTestGateway(t, testOpts{cfg: tagAuth})
	chat := g.url + "/v1/chat/completions"
	for _, bad := range []string{
		"a,,b", " , ", "has space", "ünicode", "a\tb",
		strings.Repeat("x", 65),
		manyTags(17),
	} {
		status, _, m := call(t, "POST", chat, keyAcme, chatBody("q", false), "X-Ditto-Tags", bad)
		e, _ := m["error"].(map[string]any)
		if status != 400 || e == nil || e["param"] != "X-Ditto-Tags" || e["type"] != "invalid_request_error" {
			t.Errorf("X-Ditto-Tags %q: %d %v, want a 400 OpenAI error on X-Ditto-Tags", bad, status, m)
		}
	}
	if g.up.Calls() != 0 {
		t.Errorf("upstream calls = %d, want 0 for refused requests", g.up.Calls())
	}
	// Sixteen tags, duplicates and spaces around commas are fine.
	ok := manyTags(15) + ", t1 ,a:b/c"
	if status, _, m := call(t, "POST", chat, keyAcme, chatBody("q", false), "X-Ditto-Tags", ok); status != 200 {
		t.Errorf("X-Ditto-Tags %q: %d %v, want 200", ok, status, m)
	}
	for _, q := range []string{"tag=", "tag=a%20b", "tag=" + strings.Repeat("x", 65), "tag=a&namespace=acme/sub"} {
		if status, _, m := call(t, "DELETE", g.url+"/v1/cache?"+q, adminKey, ""); status != 400 || m["error"] == nil {
			t.Errorf("DELETE ?%s: %d %v, want 400", q, status, m)
		}
	}
	if status, _, _ := call(t, "DELETE", g.url+"/v1/cache?tag=a", "", ""); status != 401 {
		t.Errorf("DELETE ?tag=a without a key: %d, want 401", status)
	}
}

// manyTags is "t1,t2,...,tN".
func manyTags(n int) string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i+1)
	}
	return strings.Join(tags, ",")
}
