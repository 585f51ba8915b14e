package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/configs"
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

// idp is an identity provider for JWKS tests: it serves a key set that a
// test can rotate, and counts fetches.
type idp struct {
	srv     *httptest.Server
	mu      sync.Mutex
	set     []byte
	fetches atomic.Int64
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	p := &idp{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(p.set)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// publish serves exactly these keys (kid → public key or, for "oct", a
// symmetric secret).
func (p *idp) publish(t *testing.T, keys map[string]any) {
	t.Helper()
	var set jwkset.JWKSMarshal
	for kid, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig}, Marshal: jwkset.JWKMarshalOptions{Private: true}})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.set = b
	p.mu.Unlock()
}

func jwksAuth(t *testing.T, url string, minRefresh time.Duration) *authenticator {
	t.Helper()
	j := configs.Default().Auth.JWT
	j.JWKSURL, j.TenantClaim, j.Issuer, j.Audience = url, "org", "https://idp.example", "ditto"
	j.JWKSMinRefreshInterval = minRefresh
	a, err := newAuthenticator(configs.Auth{JWT: j})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	return a
}

func withKid(t *testing.T, method jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authAs(a *authenticator, token string, hdr ...string) (principal, error) {
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return a.authenticate(r, "default")
}

func TestJWKS(t *testing.T) {
	rsaOld, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaNew, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	secret := []byte("a-symmetric-secret-published-in-the-jwks")
	p := newIDP(t)
	p.publish(t, map[string]any{"old": &rsaOld.PublicKey, "ec": &ec.PublicKey, "sym": secret})
	a := jwksAuth(t, p.srv.URL, time.Hour)
	if got := p.fetches.Load(); got != 1 {
		t.Fatalf("fetches at start = %d, want 1", got)
	}
	now := time.Now()
	good := jwt.MapClaims{"org": "acme", "iss": "https://idp.example", "aud": "ditto", "exp": now.Add(time.Hour).Unix()}
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
	for name, tok := range map[string]string{
		"RS256 old kid": withKid(t, jwt.SigningMethodRS256, "old", rsaOld, good),
		"PS384 old kid": withKid(t, jwt.SigningMethodPS384, "old", rsaOld, good),
		"ES256":         withKid(t, jwt.SigningMethodES256, "ec", ec, good),
	} {
		if pr, err := authAs(a, tok); err != nil || pr.tenant != "acme" {
			t.Errorf("%s: tenant %q, err %v, want acme", name, pr.tenant, err)
		}
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaOld.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	bad := map[string]string{
		"wrong issuer":          withKid(t, jwt.SigningMethodRS256, "old", rsaOld, with("iss", "https://evil.example")),
		"wrong audience":        withKid(t, jwt.SigningMethodRS256, "old", rsaOld, with("aud", "someone-else")),
		"expired":               withKid(t, jwt.SigningMethodRS256, "old", rsaOld, with("exp", now.Add(-time.Hour).Unix())),
		"no exp":                withKid(t, jwt.SigningMethodRS256, "old", rsaOld, with("exp", nil)),
		"nbf in the future":     withKid(t, jwt.SigningMethodRS256, "old", rsaOld, with("nbf", now.Add(time.Hour).Unix())),
		"alg none":              withKid(t, jwt.SigningMethodNone, "old", jwt.UnsafeAllowNoneSignatureType, good),
		"HS256 with RSA pubkey": withKid(t, jwt.SigningMethodHS256, "old", pubPEM, good),
		"HS256 with RSA DER":    withKid(t, jwt.SigningMethodHS256, "old", pubDER, good),
		"HS256 with oct key":    withKid(t, jwt.SigningMethodHS256, "sym", secret, good),
		"signed by another key": withKid(t, jwt.SigningMethodRS256, "old", rsaNew, good),
		"ec key, RSA kid":       withKid(t, jwt.SigningMethodES256, "old", ec, good),
		"tenant key-":           withKid(t, jwt.SigningMethodRS256, "old", rsaOld, with("org", "key-0123456789abcdef0123456789abcdef")),
		"no tenant":             withKid(t, jwt.SigningMethodRS256, "old", rsaOld, with("org", nil)),
	}
	for name, tok := range bad {
		if pr, err := authAs(a, tok); err == nil {
			t.Errorf("%s: accepted as %q, want 401", name, pr.tenant)
		} else if ae, ok := err.(*APIError); !ok || ae.Status != http.StatusUnauthorized {
			t.Errorf("%s: err = %v, want a 401 APIError", name, err)
		}
	}

	// Rotation: the IdP now signs with a new key and drops the old one.
	// The first token with the new kid refetches the set; no restart.
	p.publish(t, map[string]any{"new": &rsaNew.PublicKey})
	before := p.fetches.Load()
	if pr, err := authAs(a, withKid(t, jwt.SigningMethodRS256, "new", rsaNew, good)); err != nil || pr.tenant != "acme" {
		t.Fatalf("token with the rotated-in kid: %q %v, want acme", pr.tenant, err)
	}
	if got := p.fetches.Load() - before; got != 1 {
		t.Errorf("fetches for the new kid = %d, want 1", got)
	}
	if _, err := authAs(a, withKid(t, jwt.SigningMethodRS256, "old", rsaOld, good)); err == nil {
		t.Error("token with the rotated-out kid still accepted")
	}
	// A storm of unknown kids (and the known one, in parallel) makes no
	// further fetch within jwks_min_refresh_interval.
	before = p.fetches.Load()
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for i := range 200 {
		wg.Go(func() {
			kid := "forged-" + strconv.Itoa(i)
			if i%10 == 0 {
				kid = "new"
			}
			if _, err := authAs(a, withKid(t, jwt.SigningMethodRS256, kid, rsaNew, good)); err == nil {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	if got := p.fetches.Load() - before; got != 0 {
		t.Errorf("unknown-kid storm of 180 tokens made %d fetches, want 0 (one per jwks_min_refresh_interval)", got)
	}
	if accepted.Load() != 20 {
		t.Errorf("tokens accepted in the storm = %d, want the 20 with the known kid", accepted.Load())
	}
}

// TestJWKSUnknownKidShareOneFetch: concurrent tokens with a new kid wait
// for one refetch instead of each failing or each fetching.
func TestJWKSUnknownKidShareOneFetch(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := newIDP(t)
	p.publish(t, map[string]any{"k1": &k1.PublicKey})
	a := jwksAuth(t, p.srv.URL, time.Hour)
	p.publish(t, map[string]any{"k1": &k1.PublicKey, "k2": &k2.PublicKey})
	tok := withKid(t, jwt.SigningMethodES256, "k2", k2, jwt.MapClaims{
		"org": "beta", "iss": "https://idp.example", "aud": "ditto", "exp": time.Now().Add(time.Hour).Unix()})
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 50 {
		wg.Go(func() {
			if pr, err := authAs(a, tok); err == nil && pr.tenant == "beta" {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if got := p.fetches.Load(); got != 2 {
		t.Errorf("fetches = %d, want 2 (start and one refetch)", got)
	}
	// Those that arrived after the refetch read the cached set; those that
	// arrived during it waited for it. Nobody arriving later can fail.
	if pr, err := authAs(a, tok); err != nil || pr.tenant != "beta" {
		t.Errorf("after the refetch: %q %v", pr.tenant, err)
	}
	if ok.Load() != 50 {
		t.Errorf("concurrent tokens with the new kid accepted = %d, want all 50 (they share the one refetch)", ok.Load())
	}
}

func TestJWKSDownAtStartRecovers(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := newIDP(t)
	p.set = []byte("not json") // the IdP is broken when Ditto starts
	a := jwksAuth(t, p.srv.URL, time.Millisecond)
	p.publish(t, map[string]any{"k": &k.PublicKey})
	tok := withKid(t, jwt.SigningMethodES256, "k", k, jwt.MapClaims{
		"org": "acme", "iss": "https://idp.example", "aud": "ditto", "exp": time.Now().Add(time.Hour).Unix()})
	if pr, err := authAs(a, tok); err != nil || pr.tenant != "acme" {
		t.Errorf("once the IdP answers: %q %v, want acme", pr.tenant, err)
	}
}

func TestJWTAlgorithmsNarrowed(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	path := filepath.Join(t.TempDir(), "pub.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	claims := jwt.MapClaims{"tenant": "acme", "exp": time.Now().Add(time.Hour).Unix()}
	a, err := newAuthenticator(configs.Auth{JWT: configs.JWT{PublicKeyFile: path, TenantClaim: "tenant", Algorithms: []string{"ES384"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authAs(a, signed(t, jwt.SigningMethodES256, priv, claims)); err == nil {
		t.Error("ES256 token accepted with algorithms [ES384]")
	}
	if _, err := newAuthenticator(configs.Auth{JWT: configs.JWT{PublicKeyFile: path, TenantClaim: "tenant", Algorithms: []string{"RS256"}}}); err == nil {
		t.Error("an ECDSA key with algorithms [RS256] was accepted")
	}
}

func TestPassThroughIdentity(t *testing.T) {
	const (
		providerA = "sk-proj-client-a-0123456789"
		providerB = "sk-proj-client-b-0123456789"
	)
	open, _ := newAuthenticator(configs.Auth{})
	keyed, _ := newAuthenticator(configs.Auth{Keys: []configs.APIKey{{Tenant: "acme", SHA256: sha(keyAcme)}}})
	anon, _ := newAuthenticator(configs.Auth{Keys: []configs.APIKey{{Tenant: "acme", SHA256: sha(keyAcme)}}, PassThroughAnonymous: true})
	jwtAnon, _ := newAuthenticator(configs.Auth{PassThroughAnonymous: true,
		JWT: configs.JWT{HMACSecretEnv: "X", HMACSecret: hmacKey, TenantClaim: "tenant"}})
	expired := signed(t, jwt.SigningMethodHS256, []byte(hmacKey), jwt.MapClaims{"tenant": "acme", "exp": time.Now().Add(-time.Hour).Unix()})
	tA, tB := passThroughTenant(providerA), passThroughTenant(providerB)

	tests := []struct {
		name       string
		a          *authenticator
		token      string
		hdr        []string
		pass       bool
		wantTenant string
		wantKey    string
		wantErr    bool
	}{
		{"open, plain route", open, providerA, nil, false, "default", "", false},
		{"open, pass-through", open, providerA, nil, true, tA, providerA, false},
		{"open, another key", open, providerB, nil, true, tB, providerB, false},
		{"open, anthropic style", open, "", []string{"X-Api-Key", providerB}, true, tB, providerB, false},
		{"open, azure style", open, "", []string{"Api-Key", providerA}, true, tA, providerA, false},
		{"open, no key", open, "", nil, true, "default", "", false},
		{"ditto key + x-api-key", keyed, keyAcme, []string{"X-Api-Key", providerA}, true, tA, providerA, false},
		{"ditto key, plain route", keyed, keyAcme, []string{"X-Api-Key", providerA}, false, "acme", "", false},
		{"ditto key only", keyed, keyAcme, nil, true, "acme", "", false},
		{"provider key only, no anonymous", keyed, providerA, nil, true, "", "", true},
		{"anonymous, pass-through", anon, providerA, nil, true, tA, providerA, false},
		{"anonymous, plain route", anon, providerA, nil, false, "", "", true},
		{"failed JWT is not a provider key", jwtAnon, expired, nil, true, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := authAs(tt.a, tt.token, tt.hdr...)
			var tenant, key string
			if err == nil {
				tenant, key, err = p.forRoute(tt.pass)
			}
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				if ae, ok := err.(*APIError); !ok || ae.Status != http.StatusUnauthorized {
					t.Errorf("err = %v, want 401", err)
				}
				return
			}
			if tenant != tt.wantTenant || key != tt.wantKey {
				t.Errorf("forRoute(%v) = %q, %q, want %q, %q", tt.pass, tenant, key, tt.wantTenant, tt.wantKey)
			}
		})
	}
	if tA == tB || passThroughTenant(providerA) != tA {
		t.Errorf("tenants %q and %q: want one per key, stable", tA, tB)
	}
	for _, tn := range []string{tA, tB} {
		if !configs.ValidName(tn) || !strings.HasPrefix(tn, "key-") || strings.Contains(tn, "client") {
			t.Errorf("tenant %q: want a valid key-… name revealing nothing of the key", tn)
		}
	}
}

// TestRouteIdentityThroughMiddleware: the principal reaches the handler
// only when pass-through is configured, and a pass-only caller is refused
// there for a route without pass-through.
func TestRouteIdentityThroughMiddleware(t *testing.T) {
	const provider = "sk-ant-api03-client-0123456789"
	a, _ := newAuthenticator(configs.Auth{Keys: []configs.APIKey{{Tenant: "acme", SHA256: sha(keyAcme)}}, PassThroughAnonymous: true})
	s := &Server{cfg: configs.Default(), auth: a}
	run := func(passThrough, route bool, hdr ...string) (tenant, key string, err error) {
		a.passThrough = passThrough
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
	if err != nil || tn != passThroughTenant(provider) || key != provider {
		t.Errorf("Ditto key + provider key on a pass-through route: %q %q %v", tn, key, err)
	}
	if tn, key, err := run(true, false, "X-Api-Key", provider); err == nil {
		t.Errorf("pass-only caller on a plain route: %q %q, want 401", tn, key)
	}
	if tn, key, err := run(true, true, "X-Api-Key", provider); err != nil || tn != passThroughTenant(provider) || key != provider {
		t.Errorf("pass-only caller on a pass-through route: %q %q %v", tn, key, err)
	}
	// The memo's tenant tells two pass-through callers apart.
	memo := func(hdr ...string) (m string) {
		a.passThrough = true
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

// FuzzAuthenticate: hostile credential headers never panic, and whatever
// identity comes out is a valid namespace that never contains the raw
// provider key.
func FuzzAuthenticate(f *testing.F) {
	f.Add("Bearer sk-abc", "", "")
	f.Add("Bearer "+keyAcme, "sk-ant-123", "")
	f.Add("Bearer a.b.c", "", "azure-key")
	f.Add("Basic Zm9vOmJhcg==", "\x00", strings.Repeat("k", 9000))
	keyed, _ := newAuthenticator(configs.Auth{Keys: []configs.APIKey{{Tenant: "acme", SHA256: sha(keyAcme)}}, PassThroughAnonymous: true,
		JWT: configs.JWT{HMACSecretEnv: "X", HMACSecret: hmacKey, TenantClaim: "tenant"}})
	open, _ := newAuthenticator(configs.Auth{})
	f.Fuzz(func(t *testing.T, authz, xAPIKey, apiKey string) {
		r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
		r.Header["Authorization"] = []string{authz}
		r.Header["X-Api-Key"] = []string{xAPIKey}
		r.Header["Api-Key"] = []string{apiKey}
		for _, a := range []*authenticator{keyed, open} {
			p, err := a.authenticate(r, "default")
			if err != nil {
				continue
			}
			for _, pass := range []bool{false, true} {
				tenant, key, err := p.forRoute(pass)
				if err != nil {
					continue
				}
				if !configs.ValidName(tenant) {
					t.Fatalf("forRoute(%v) tenant %q is not a valid name", pass, tenant)
				}
				if key != "" && len(key) >= 4 && strings.Contains(tenant, key) {
					t.Fatalf("tenant %q contains the provider key", tenant)
				}
			}
		}
	})
}
