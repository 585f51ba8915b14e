package auth

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
	"errors"
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

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

const (
	keyAcme = "sk-acme-0123456789abcdef"
	hmacKey = "0123456789abcdef0123456789abcdef-hmac"
)

func sha(s string) string { d := sha256.Sum256([]byte(s)); return hex.EncodeToString(d[:]) }

// refused reports whether err is the 401 the gateway renders.
func refused(err error) bool {
	var ae *Error
	return errors.As(err, &ae)
}

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
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

func jwksAuth(t *testing.T, url string, minRefresh time.Duration) *Authenticator {
	t.Helper()
	j := configs.Default().Auth.JWT
	j.JWKSURL, j.TenantClaim, j.Issuer, j.Audience = url, "org", "https://idp.example", "ditto"
	j.JWKSMinRefreshInterval = minRefresh
	a, err := New(configs.Auth{JWT: j})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
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

func authAs(a *Authenticator, token string, hdr ...string) (Principal, error) {
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return a.Authenticate(r, "default")
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
		if pr, err := authAs(a, tok); err != nil || pr.Tenant != "acme" {
			t.Errorf("%s: tenant %q, err %v, want acme", name, pr.Tenant, err)
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
			t.Errorf("%s: accepted as %q, want 401", name, pr.Tenant)
		} else if !refused(err) {
			t.Errorf("%s: err = %v, want an *Error (401)", name, err)
		}
	}

	// Rotation: the IdP now signs with a new key and drops the old one.
	// The first token with the new kid refetches the set; no restart.
	p.publish(t, map[string]any{"new": &rsaNew.PublicKey})
	before := p.fetches.Load()
	if pr, err := authAs(a, withKid(t, jwt.SigningMethodRS256, "new", rsaNew, good)); err != nil || pr.Tenant != "acme" {
		t.Fatalf("token with the rotated-in kid: %q %v, want acme", pr.Tenant, err)
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
			if pr, err := authAs(a, tok); err == nil && pr.Tenant == "beta" {
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
	if pr, err := authAs(a, tok); err != nil || pr.Tenant != "beta" {
		t.Errorf("after the refetch: %q %v", pr.Tenant, err)
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
	if pr, err := authAs(a, tok); err != nil || pr.Tenant != "acme" {
		t.Errorf("once the IdP answers: %q %v, want acme", pr.Tenant, err)
	}
}

func TestJWTAlgorithmsNarrowed(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	path := filepath.Join(t.TempDir(), "pub.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	claims := jwt.MapClaims{"tenant": "acme", "exp": time.Now().Add(time.Hour).Unix()}
	a, err := New(configs.Auth{JWT: configs.JWT{PublicKeyFile: path, TenantClaim: "tenant", Algorithms: []string{"ES384"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authAs(a, signed(t, jwt.SigningMethodES256, priv, claims)); err == nil {
		t.Error("ES256 token accepted with algorithms [ES384]")
	}
	if _, err := New(configs.Auth{JWT: configs.JWT{PublicKeyFile: path, TenantClaim: "tenant", Algorithms: []string{"RS256"}}}); err == nil {
		t.Error("an ECDSA key with algorithms [RS256] was accepted")
	}
}

func TestPassThroughIdentity(t *testing.T) {
	const (
		providerA = "sk-proj-client-a-0123456789"
		providerB = "sk-proj-client-b-0123456789"
	)
	open, _ := New(configs.Auth{})
	keyed, _ := New(configs.Auth{Keys: []configs.APIKey{{Tenant: "acme", SHA256: sha(keyAcme)}}})
	anon, _ := New(configs.Auth{Keys: []configs.APIKey{{Tenant: "acme", SHA256: sha(keyAcme)}}, PassThroughAnonymous: true})
	jwtAnon, _ := New(configs.Auth{PassThroughAnonymous: true,
		JWT: configs.JWT{HMACSecretEnv: "X", HMACSecret: hmacKey, TenantClaim: "tenant"}})
	expired := signed(t, jwt.SigningMethodHS256, []byte(hmacKey), jwt.MapClaims{"tenant": "acme", "exp": time.Now().Add(-time.Hour).Unix()})
	tA, tB := PassThroughTenant(providerA), PassThroughTenant(providerB)

	tests := []struct {
		name       string
		a          *Authenticator
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
				tenant, key, err = p.ForRoute(tt.pass)
			}
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				if !refused(err) {
					t.Errorf("err = %v, want an *Error (401)", err)
				}
				return
			}
			if tenant != tt.wantTenant || key != tt.wantKey {
				t.Errorf("forRoute(%v) = %q, %q, want %q, %q", tt.pass, tenant, key, tt.wantTenant, tt.wantKey)
			}
		})
	}
	if tA == tB || PassThroughTenant(providerA) != tA {
		t.Errorf("tenants %q and %q: want one per key, stable", tA, tB)
	}
	for _, tn := range []string{tA, tB} {
		if !configs.ValidName(tn) || !strings.HasPrefix(tn, "key-") || strings.Contains(tn, "client") {
			t.Errorf("tenant %q: want a valid key-… name revealing nothing of the key", tn)
		}
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
	keyed, _ := New(configs.Auth{Keys: []configs.APIKey{{Tenant: "acme", SHA256: sha(keyAcme)}}, PassThroughAnonymous: true,
		JWT: configs.JWT{HMACSecretEnv: "X", HMACSecret: hmacKey, TenantClaim: "tenant"}})
	open, _ := New(configs.Auth{})
	f.Fuzz(func(t *testing.T, authz, xAPIKey, apiKey string) {
		r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
		r.Header["Authorization"] = []string{authz}
		r.Header["X-Api-Key"] = []string{xAPIKey}
		r.Header["Api-Key"] = []string{apiKey}
		for _, a := range []*Authenticator{keyed, open} {
			p, err := a.Authenticate(r, "default")
			if err != nil {
				continue
			}
			for _, pass := range []bool{false, true} {
				tenant, key, err := p.ForRoute(pass)
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
