// Package auth authenticates API callers: Ditto keys (kept as SHA-256
// digests and compared in constant time), the admin key, JWTs (HMAC, a
// public key file, or a JWKS URL with rotation) and callers' own provider
// keys for pass-through routes. It never touches the cache store, so
// authentication keeps working while Redis is down, and it knows nothing
// of HTTP but the request's headers: the gateway renders its errors.
package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/dittocache/ditto/configs"
)

// maxBearer bounds the Authorization value; longer ones are rejected before
// any parsing (a 64 KiB token of dots must cost nothing).
const maxBearer = 8 << 10

// Principal is the authenticated caller.
type Principal struct {
	Tenant string
	Admin  bool
	// ClientKey is a provider credential the caller sent that did not
	// authenticate it to Ditto (x-api-key, api-key or Authorization:
	// Bearer), for pass-through routes; see ForRoute. Never logged.
	ClientKey string
	// PassOnly marks a caller no Ditto credential authenticated, admitted
	// on a gateway that requires one only because
	// auth.pass_through_anonymous is set: only pass-through routes serve it.
	PassOnly bool
}

// ForRoute returns the tenant under which a route serves the caller and the
// provider key to send upstream ("" for the provider's own). pass is the
// route's pass-through setting (configs.Route.PassesThrough). With pass
// and a client key the tenant is PassThroughTenant(key), so two callers'
// keys never share entries, limits or budgets (a route's shared_namespace
// still shares entries, as the route asks). A pass-only caller on a route
// without pass-through is refused with 401.
func (p Principal) ForRoute(pass bool) (tenant, clientKey string, err error) {
	switch {
	case pass && p.ClientKey != "":
		return PassThroughTenant(p.ClientKey), p.ClientKey, nil
	case p.PassOnly:
		return "", "", ErrPassOnly
	default:
		return p.Tenant, "", nil
	}
}

// PassThroughTenant is the tenant of a caller using its own provider key:
// "key-" and 32 hex digits of a domain-separated SHA-256 of the key. It is
// a valid namespace name (configs.ValidName), reveals nothing usable of the
// key, and cannot be a configured tenant (configs reserves the prefix).
func PassThroughTenant(key string) string {
	h := sha256.New()
	h.Write([]byte("ditto pass-through tenant\x00"))
	h.Write([]byte(key))
	var sum [sha256.Size]byte
	return configs.PassThroughTenantPrefix + hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// Error is a refused credential; the gateway answers it 401 with the
// message.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

// ErrPassOnly refuses a caller admitted only for pass-through routes
// (auth.pass_through_anonymous) on a route without pass-through.
var ErrPassOnly = &Error{"This model does not accept your own provider key. Send a valid Ditto key or token as 'Authorization: Bearer <key>'."}

// Authenticator maps a bearer credential to a principal. It never touches
// the store, so authentication keeps working while Redis is down.
type Authenticator struct {
	required bool
	keys     []apiKey
	admin    [32]byte // SHA-256 of the admin key; zero when disabled
	hasAdmin bool
	// passAnonymous: auth.pass_through_anonymous.
	passAnonymous bool
	// PassThrough tells the gateway to keep each caller's principal until
	// its route is known; the server sets it when any route or provider passes
	// keys through (configs.Config.PassThroughConfigured).
	PassThrough bool

	jwt       bool
	jwtOpts   []jwt.ParserOption
	jwtKey    any
	jwtClaim  string
	jwtMethod []string
	jwks      *jwks // JWKS mode; nil otherwise
}

type apiKey struct {
	digest [32]byte
	tenant string
	admin  bool
}

// New builds the authenticator of an auth configuration; with a JWKS URL
// it starts the key set's refresh goroutine, which Close stops.
func New(c configs.Auth) (*Authenticator, error) {
	a := &Authenticator{required: len(c.Keys) > 0 || c.JWT.Enabled(), passAnonymous: c.PassThroughAnonymous}
	if c.AdminKey != "" {
		a.admin, a.hasAdmin = sha256.Sum256([]byte(c.AdminKey.Value())), true
	}
	for i, k := range c.Keys {
		ak := apiKey{tenant: k.Tenant, admin: k.Admin}
		if k.KeyEnv != "" {
			ak.digest = sha256.Sum256([]byte(k.Key.Value()))
		} else if _, err := hex.Decode(ak.digest[:], []byte(strings.ToLower(k.SHA256))); err != nil {
			return nil, fmt.Errorf("auth.keys[%d].sha256: %w", i, err)
		}
		a.keys = append(a.keys, ak)
	}
	if c.JWT.Enabled() {
		if err := a.setupJWT(c.JWT); err != nil {
			return nil, fmt.Errorf("auth.jwt: %w", err)
		}
	}
	return a, nil
}

// setupJWT pins the accepted algorithms to the configured key's family, so
// an HS256 token signed with a public key (algorithm confusion) or
// alg=none is always rejected.
func (a *Authenticator) setupJWT(c configs.JWT) error {
	a.jwt, a.jwtClaim = true, c.TenantClaim
	switch {
	case c.JWKSURL != "":
		k, err := newJWKS(c)
		if err != nil {
			return err
		}
		a.jwks = k
		// Asymmetric only: a JWKS can publish an "oct" key, and an HS256
		// token keyed with it would be signed with a public value.
		a.jwtMethod = configs.AsymmetricAlgorithms
	case c.HMACSecretEnv != "":
		a.jwtKey = []byte(c.HMACSecret.Value())
		a.jwtMethod = configs.HMACAlgorithms
	default:
		pem, err := os.ReadFile(c.PublicKeyFile)
		if err != nil {
			return err
		}
		key, err := parsePublicKey(pem)
		if err != nil {
			return err
		}
		a.jwtKey = key
		switch key.(type) {
		case *rsa.PublicKey:
			a.jwtMethod = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
		case *ecdsa.PublicKey:
			a.jwtMethod = []string{"ES256", "ES384", "ES512"}
		case ed25519.PublicKey:
			a.jwtMethod = []string{"EdDSA"}
		default:
			return errors.New("unsupported public key type")
		}
	}
	if len(c.Algorithms) > 0 {
		a.jwtMethod = slices.DeleteFunc(slices.Clone(a.jwtMethod), func(m string) bool { return !slices.Contains(c.Algorithms, m) })
		if len(a.jwtMethod) == 0 {
			a.Close()
			return fmt.Errorf("algorithms %v: none fits the configured key", c.Algorithms)
		}
	}
	a.jwtOpts = []jwt.ParserOption{
		jwt.WithValidMethods(a.jwtMethod),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(c.Leeway),
	}
	if c.Issuer != "" {
		a.jwtOpts = append(a.jwtOpts, jwt.WithIssuer(c.Issuer))
	}
	if c.Audience != "" {
		a.jwtOpts = append(a.jwtOpts, jwt.WithAudience(c.Audience))
	}
	return nil
}

func parsePublicKey(pem []byte) (crypto.PublicKey, error) {
	if k, err := jwt.ParseRSAPublicKeyFromPEM(pem); err == nil {
		return k, nil
	}
	if k, err := jwt.ParseECPublicKeyFromPEM(pem); err == nil {
		return k, nil
	}
	if k, err := jwt.ParseEdPublicKeyFromPEM(pem); err == nil {
		return k, nil
	}
	return nil, errors.New("public_key_file holds no RSA, ECDSA or Ed25519 public key in PEM form")
}

// ErrUnauthenticated refuses a missing or wrong credential where one is
// required.
var ErrUnauthenticated = &Error{"Incorrect API key provided. Send a valid key or token as 'Authorization: Bearer <key>' (or as 'x-api-key: <key>', as Anthropic's SDKs do)."}

// bearer extracts the credential from Authorization (or api-key, which
// Azure-style clients send, or x-api-key, which Anthropic's SDKs send), and
// which header held it.
func bearer(r *http.Request) (tok, header string) {
	h := r.Header.Get("Authorization")
	if len(h) > maxBearer {
		return "", ""
	}
	if v, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(v), "Authorization"
	}
	for _, name := range [...]string{"Api-Key", "X-Api-Key"} {
		if v := r.Header.Get(name); v != "" && len(v) <= maxBearer {
			return strings.TrimSpace(v), name
		}
	}
	return "", ""
}

// clientKey is the caller's own provider credential for pass-through: the
// first of x-api-key (Anthropic-style), api-key (Azure-style) and
// Authorization: Bearer (OpenAI-style) other than skip, the header that
// authenticated the caller to Ditto.
func clientKey(r *http.Request, skip string) string {
	for _, name := range [...]string{"X-Api-Key", "Api-Key", "Authorization"} {
		if name == skip {
			continue
		}
		v := r.Header.Get(name)
		if name == "Authorization" {
			var ok bool
			if v, ok = strings.CutPrefix(v, "Bearer "); !ok {
				continue
			}
		}
		if v = strings.TrimSpace(v); v != "" && len(v) <= maxBearer {
			return v
		}
	}
	return ""
}

// Authenticate returns the caller's principal. Open gateways give everyone
// the default tenant.
func (a *Authenticator) Authenticate(r *http.Request, defaultTenant string) (Principal, error) {
	tok, header := bearer(r)
	if tok != "" {
		if a.hasAdmin && a.isAdminKey(tok) {
			return Principal{Tenant: defaultTenant, Admin: true, ClientKey: clientKey(r, header)}, nil
		}
		var found *apiKey
		if len(a.keys) > 0 {
			d := sha256.Sum256([]byte(tok))
			for i := range a.keys {
				// Compare every key, in constant time, so timing reveals nothing.
				if subtle.ConstantTimeCompare(d[:], a.keys[i].digest[:]) == 1 {
					found = &a.keys[i]
				}
			}
		}
		if found != nil {
			return Principal{Tenant: found.tenant, Admin: found.admin, ClientKey: clientKey(r, header)}, nil
		}
		if a.jwt && strings.Count(tok, ".") == 2 {
			// A token that fails is refused, never mistaken for a provider
			// key: it must not travel upstream.
			p, err := a.verifyJWT(r.Context(), tok)
			p.ClientKey = clientKey(r, header)
			return p, err
		}
	}
	if !a.required {
		return Principal{Tenant: defaultTenant, ClientKey: clientKey(r, "")}, nil
	}
	if k := clientKey(r, ""); a.passAnonymous && k != "" {
		return Principal{Tenant: PassThroughTenant(k), ClientKey: k, PassOnly: true}, nil
	}
	return Principal{}, ErrUnauthenticated
}

func (a *Authenticator) isAdminKey(tok string) bool {
	d := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(d[:], a.admin[:]) == 1
}

func (a *Authenticator) verifyJWT(ctx context.Context, tok string) (Principal, error) {
	claims := jwt.MapClaims{}
	kf := func(*jwt.Token) (any, error) { return a.jwtKey, nil }
	if a.jwks != nil {
		kf = a.jwks.kf.KeyfuncCtx(ctx)
	}
	if _, err := jwt.ParseWithClaims(tok, claims, kf, a.jwtOpts...); err != nil {
		return Principal{}, ErrUnauthenticated
	}
	tenant, _ := claims[a.jwtClaim].(string)
	// Pass-through tenants are derived from provider keys only: a token
	// naming one must not read that caller's entries.
	if !configs.ValidName(tenant) || strings.HasPrefix(tenant, configs.PassThroughTenantPrefix) {
		return Principal{}, &Error{"The token has no valid '" + a.jwtClaim + "' claim."}
	}
	return Principal{Tenant: tenant}, nil
}

// AdminEnabled reports whether any credential (the admin key or an API
// key marked admin) can reach the admin endpoints.
func (a *Authenticator) AdminEnabled() bool {
	if a.hasAdmin {
		return true
	}
	for _, k := range a.keys {
		if k.admin {
			return true
		}
	}
	return false
}

// Close stops the JWKS refresh goroutine, if any. Safe to call more than
// once.
func (a *Authenticator) Close() {
	if a != nil && a.jwks != nil {
		a.jwks.close()
	}
}

// maxJWKSBody bounds a key-set response: a JWKS is a few KiB.
const maxJWKSBody = 1 << 20

// jwks is the identity provider's key set: fetched at start, refreshed
// every jwks_refresh_interval by jwkset's goroutine and, for a token whose
// kid it does not know, at most once per jwks_min_refresh_interval. Keys
// are resolved only from the set in memory: a token never makes Ditto
// fetch anything but the configured URL.
type jwks struct {
	kf     keyfunc.Keyfunc
	cancel context.CancelFunc
	once   sync.Once
	st     *jwksStorage
}

func newJWKS(c configs.JWT) (*jwks, error) {
	ctx, cancel := context.WithCancel(context.Background())
	client := &http.Client{Timeout: c.JWKSTimeout, Transport: limitBody{http.DefaultTransport}}
	remote, err := jwkset.NewStorageFromHTTP(c.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:          client,
		Ctx:             ctx,
		HTTPTimeout:     c.JWKSTimeout,
		RefreshInterval: c.JWKSRefreshInterval,
		// An identity provider that is down at start must not stop the
		// gateway: keys arrive with the next refresh.
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       func(context.Context, error) {},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwks_url: %w", err)
	}
	urls := map[string]jwkset.Storage{c.JWKSURL: remote}
	cached, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{HTTPURLs: urls})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwks_url: %w", err)
	}
	// Refetches on an unknown kid; our gate already bounds how often, so
	// its own limiter never waits.
	refetching, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          urls,
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
		RateLimitWaitMax:  c.JWKSTimeout,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwks_url: %w", err)
	}
	st := &jwksStorage{
		Storage:    cached,
		refetching: refetching,
		gate:       rate.NewLimiter(rate.Every(c.JWKSMinRefreshInterval), 1),
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: st, UseWhitelist: []jwkset.USE{jwkset.UseSig}})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwks_url: %w", err)
	}
	return &jwks{kf: kf, cancel: cancel, st: st}, nil
}

func (j *jwks) close() { j.once.Do(j.cancel) }

// jwksStorage reads keys from the cached set and, for an unknown kid,
// refetches the set without ever blocking on a rate limit: one refetch at
// a time (concurrent unknown-kid tokens wait for it, bounded by their
// context and jwks_timeout) and at most one per gate interval; past that,
// unknown kids are refused at once.
type jwksStorage struct {
	jwkset.Storage // the cached set, never fetched on read
	refetching     jwkset.Storage
	gate           *rate.Limiter

	mu       sync.Mutex
	inflight chan struct{}
	refetch  atomic.Int64 // refetches triggered by unknown kids
}

func (s *jwksStorage) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	k, err := s.Storage.KeyRead(ctx, kid)
	if !errors.Is(err, jwkset.ErrKeyNotFound) {
		return k, err
	}
	s.mu.Lock()
	wait := s.inflight
	if wait == nil {
		if !s.gate.Allow() {
			s.mu.Unlock()
			// A refetch may have finished between our first read and
			// the lock: its keys are in the cached set by now.
			return s.Storage.KeyRead(ctx, kid)
		}
		wait = make(chan struct{})
		s.inflight = wait
		s.mu.Unlock()
		s.refetch.Add(1)
		// Detached: the caller leaving must not abort the fetch others wait for.
		_, _ = s.refetching.KeyRead(context.WithoutCancel(ctx), kid)
		s.mu.Lock()
		s.inflight = nil
		s.mu.Unlock()
		close(wait)
	} else {
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return k, err
		}
	}
	return s.Storage.KeyRead(ctx, kid)
}

// limitBody bounds response bodies, so a misbehaving key-set endpoint
// cannot make Ditto read without end.
type limitBody struct{ rt http.RoundTripper }

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(r)
	if err == nil {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, maxJWKSBody), resp.Body}
	}
	return resp, err
}
