package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/auth"
)

const (
	keyAcme  = "sk-acme-0123456789abcdef"
	keyBeta  = "sk-beta-0123456789abcdef"
	adminKey = "admin-0123456789abcdef"
	hmacKey  = "0123456789abcdef0123456789abcdef-hmac"
)

func sha(s string) string { d := sha256.Sum256([]byte(s)); return hex.EncodeToString(d[:]) }

func authedGateway(t *testing.T, edit func(*configs.Auth)) *testGateway {
	t.Helper()
	return newTestGateway(t, testOpts{cfg: func(c *configs.Config) {
		c.Auth.Keys = []configs.APIKey{
			{Name: "acme", Tenant: "acme", SHA256: sha(keyAcme)},
			{Name: "beta", Tenant: "beta", KeyEnv: "X", Key: keyBeta},
		}
		c.Auth.AdminKey = adminKey
		if edit != nil {
			edit(&c.Auth)
		}
	}})
}

func call(t *testing.T, method, url, token, body string, hdr ...string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m
}

func TestAPIKeysSelectTenantsAndIsolateThem(t *testing.T) {
	g := authedGateway(t, nil)
	chat := g.url + "/v1/chat/completions"
	body := chatBody("What's the weather like in SF?", false)
	for _, tok := range []string{"", "sk-wrong", strings.Repeat(".", 60<<10)} {
		status, _, m := call(t, "POST", chat, tok, body)
		if status != 401 || m["error"] == nil {
			t.Errorf("token %.10q: %d %v, want 401 OpenAI error", tok, status, m)
		}
	}
	steps := []struct {
		token, header, want string
	}{
		{keyAcme, "", "MISS"},
		{keyBeta, "", "MISS"}, // same prompt, other tenant: never a cross-tenant hit
		{keyAcme, "", "HIT"},
		{keyBeta, "", "HIT"},
		{keyBeta, "acme", "MISS"}, // X-Ditto-Namespace is a sub-namespace of beta, not tenant acme
	}
	for i, st := range steps {
		var hdr []string
		if st.header != "" {
			hdr = []string{"X-Ditto-Namespace", st.header}
		}
		status, h, _ := call(t, "POST", chat, st.token, body, hdr...)
		if status != 200 || h.Get("X-Ditto-Cache") != st.want {
			t.Errorf("step %d: %d %s, want %s", i, status, h.Get("X-Ditto-Cache"), st.want)
		}
	}
	// A body "user" field cannot forge a tenant either.
	forged := `{"model":"gpt-4o","user":"acme","metadata":{"tenant":"acme"},"messages":[{"role":"user","content":"What's the weather like in SF?"}]}`
	_, h, _ := call(t, "POST", chat, keyBeta, forged)
	if h.Get("X-Ditto-Cache") != "HIT" || !strings.Contains(h.Get("X-Ditto-Cache-Key"), ":beta:") {
		t.Errorf("forged body: %s key %s, want beta's own entry", h.Get("X-Ditto-Cache"), h.Get("X-Ditto-Cache-Key"))
	}
	if g.up.Calls() != 3 {
		t.Errorf("upstream calls = %d, want 3", g.up.Calls())
	}
	if status, _, _ := call(t, "GET", g.url+"/healthz", "", ""); status != 200 {
		t.Errorf("/healthz needs no key, got %d", status)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, _, _ := call(t, "HEAD", g.url+path, "", ""); status != 200 {
			t.Errorf("HEAD %s: %d, want 200 (probes that use HEAD)", path, status)
		}
	}
}

func TestPurgeIsAdminOnly(t *testing.T) {
	g := authedGateway(t, nil)
	chat := g.url + "/v1/chat/completions"
	call(t, "POST", chat, keyAcme, chatBody("q1", false))
	call(t, "POST", chat, keyAcme, chatBody("q2", false))
	for _, tok := range []string{keyAcme, ""} {
		status, _, m := call(t, "DELETE", g.url+"/v1/cache?all=true", tok, "")
		if tok == keyAcme && status != 403 || tok == "" && status != 401 {
			t.Errorf("purge with %q: %d %v", tok, status, m)
		}
	}
	status, _, m := call(t, "DELETE", g.url+"/v1/cache", adminKey, "")
	if status != 400 {
		t.Errorf("purge without selector: %d %v", status, m)
	}
	status, _, m = call(t, "DELETE", g.url+"/v1/cache?model=gpt-4o&namespace=acme", adminKey, "")
	if status != 200 || m["deleted"] != float64(2) {
		t.Fatalf("purge model: %d %v, want 2 deleted", status, m)
	}
	_, h, _ := call(t, "POST", chat, keyAcme, chatBody("q1", false))
	if h.Get("X-Ditto-Cache") != "MISS" {
		t.Errorf("after purge: %s, want MISS", h.Get("X-Ditto-Cache"))
	}
	_, _, m = call(t, "DELETE", g.url+"/v1/cache?key="+h.Get("X-Ditto-Cache-Key"), adminKey, "")
	if m["deleted"] != float64(1) {
		t.Errorf("purge by key: %v", m)
	}
}

func TestPurgeDisabledWithoutAdminKey(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	status, _, m := call(t, "DELETE", g.url+"/v1/cache?all=true", "anything", "")
	if status != 403 || m["error"].(map[string]any)["code"] != "admin_disabled" {
		t.Errorf("purge on an open gateway without admin key: %d %v", status, m)
	}
}

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWT(t *testing.T) {
	g := authedGateway(t, func(a *configs.Auth) {
		a.JWT = configs.JWT{HMACSecretEnv: "X", HMACSecret: hmacKey, TenantClaim: "tenant", Issuer: "https://idp.example", Audience: "ditto"}
	})
	chat := g.url + "/v1/chat/completions"
	future := time.Now().Add(time.Hour).Unix()
	good := jwt.MapClaims{"tenant": "acme", "exp": future, "iss": "https://idp.example", "aud": "ditto"}
	tok := signed(t, jwt.SigningMethodHS256, []byte(hmacKey), good)
	status, h, _ := call(t, "POST", chat, tok, chatBody("jwt", false))
	if status != 200 || !strings.Contains(h.Get("X-Ditto-Cache-Key"), ":acme:") {
		t.Fatalf("valid JWT: %d key %s", status, h.Get("X-Ditto-Cache-Key"))
	}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	none := signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good)
	bad := map[string]string{
		"alg none":         none,
		"wrong secret":     signed(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), good),
		"expired":          signed(t, jwt.SigningMethodHS256, []byte(hmacKey), with("exp", time.Now().Add(-time.Hour).Unix())),
		"no exp":           signed(t, jwt.SigningMethodHS256, []byte(hmacKey), with("exp", nil)),
		"wrong issuer":     signed(t, jwt.SigningMethodHS256, []byte(hmacKey), with("iss", "https://evil")),
		"wrong audience":   signed(t, jwt.SigningMethodHS256, []byte(hmacKey), with("aud", "other")),
		"no tenant":        signed(t, jwt.SigningMethodHS256, []byte(hmacKey), with("tenant", nil)),
		"hostile tenant":   signed(t, jwt.SigningMethodHS256, []byte(hmacKey), with("tenant", "../acme:*")),
		"truncated":        tok[:len(tok)-5],
		"60 KiB of dots":   strings.Repeat(".", 60<<10),
		"hostile kid/none": "eyJhbGciOiJub25lIiwia2lkIjoiLi4vLi4vZXRjL3Bhc3N3ZCJ9.eyJ0ZW5hbnQiOiJhY21lIn0.",
	}
	for name, tok := range bad {
		status, _, m := call(t, "POST", chat, tok, chatBody("jwt", false))
		if status != 401 || m["error"] == nil {
			t.Errorf("%s: %d %v, want 401", name, status, m)
		}
	}
}

func TestJWTAlgorithmConfusion(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	path := filepath.Join(t.TempDir(), "pub.pem")
	os.WriteFile(path, pubPEM, 0o600)
	g := authedGateway(t, func(a *configs.Auth) {
		a.JWT = configs.JWT{PublicKeyFile: path, TenantClaim: "tenant"}
	})
	chat := g.url + "/v1/chat/completions"
	claims := jwt.MapClaims{"tenant": "acme", "exp": time.Now().Add(time.Hour).Unix()}
	if status, _, m := call(t, "POST", chat, signed(t, jwt.SigningMethodES256, priv, claims), chatBody("x", false)); status != 200 {
		t.Fatalf("ES256 token: %d %v", status, m)
	}
	// HS256 "signed" with the public key's bytes must not pass.
	forged := signed(t, jwt.SigningMethodHS256, pubPEM, claims)
	if status, _, _ := call(t, "POST", chat, forged, chatBody("x", false)); status != 401 {
		t.Errorf("algorithm confusion token: %d, want 401", status)
	}
}

func TestUnknownPathIsOpenAI404(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	status, _, m := call(t, "GET", g.url+"/v1/nope", "", "")
	if status != 404 || m["error"] == nil {
		t.Errorf("unknown path: %d %v", status, m)
	}
	status, _, m = call(t, "GET", g.url+"/v1/chat/completions", "", "")
	if status != 405 || m["error"] == nil {
		t.Errorf("wrong method: %d %v", status, m)
	}
}

// TestRouteIdentityThroughMiddleware: the principal reaches the handler
// only when pass-through is configured, and a pass-only caller is refused
// there for a route without pass-through.
func TestRouteIdentityThroughMiddleware(t *testing.T) {
	const provider = "sk-ant-api03-client-0123456789"
	a, _ := auth.New(configs.Auth{Keys: []configs.APIKey{{Tenant: "acme", SHA256: sha(keyAcme)}}, PassThroughAnonymous: true})
	s := &Server{cfg: configs.Default(), auth: a}
	run := func(passThrough, route bool, hdr ...string) (tenant, key string, err error) {
		a.PassThrough = passThrough
		e := echo.New()
		req := httptest.NewRequest("POST", "/v1/messages", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		c := e.NewContext(req, httptest.NewRecorder())
		err = s.authMiddleware(func(c echo.Context) error {
			tenant, key, err = s.routeIdentity(c, route)
			return err
		})(c)
		return tenant, key, err
	}
	tn, key, err := run(true, true, "Authorization", "Bearer "+keyAcme, "X-Api-Key", provider)
	if err != nil || tn != auth.PassThroughTenant(provider) || key != provider {
		t.Errorf("Ditto key + provider key on a pass-through route: %q %q %v", tn, key, err)
	}
	if tn, key, err := run(true, false, "X-Api-Key", provider); err == nil {
		t.Errorf("pass-only caller on a plain route: %q %q, want 401", tn, key)
	}
	if tn, key, err := run(true, true, "X-Api-Key", provider); err != nil || tn != auth.PassThroughTenant(provider) || key != provider {
		t.Errorf("pass-only caller on a pass-through route: %q %q %v", tn, key, err)
	}
	// The memo's tenant tells two pass-through callers apart.
	memo := func(hdr ...string) (m string) {
		a.PassThrough = true
		req := httptest.NewRequest("POST", "/v1/messages", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		c := echo.New().NewContext(req, httptest.NewRecorder())
		s.authMiddleware(func(c echo.Context) error { m = s.memoTenant(c); return nil })(c)
		return m
	}
	m1, m2, m3 := memo("Authorization", "Bearer "+keyAcme, "X-Api-Key", provider), memo("Authorization", "Bearer "+keyAcme, "X-Api-Key", provider+"x"), memo("Authorization", "Bearer "+keyAcme)
	if m1 == m2 || m1 == m3 || m3 != "acme" || strings.Contains(m1, provider) {
		t.Errorf("memo tenants %q, %q, %q: want distinct per client key, acme without one, never the key", m1, m2, m3)
	}
	// Not configured: nothing is kept, the Ditto tenant stands.
	if tn, key, err := run(false, true, "Authorization", "Bearer "+keyAcme, "X-Api-Key", provider); err != nil || tn != "acme" || key != "" {
		t.Errorf("pass-through not configured: %q %q %v, want acme and no key", tn, key, err)
	}
}
