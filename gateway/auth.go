package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/configs"
)

// maxBearer bounds the Authorization value; longer ones are rejected before
// any parsing (a 64 KiB token of dots must cost nothing).
const maxBearer = 8 << 10

// principal is the authenticated caller.
type principal struct {
	tenant string
	admin  bool
}

// authenticator maps a bearer credential to a principal. It never touches
// the store, so authentication keeps working while Redis is down.
type authenticator struct {
	required bool
	keys     []apiKey
	admin    [32]byte // SHA-256 of the admin key; zero when disabled
	hasAdmin bool

	jwt       bool
	jwtOpts   []jwt.ParserOption
	jwtKey    any
	jwtClaim  string
	jwtMethod []string
}

type apiKey struct {
	digest [32]byte
	tenant string
	admin  bool
}

func newAuthenticator(c configs.Auth) (*authenticator, error) {
	a := &authenticator{required: len(c.Keys) > 0 || c.JWT.Enabled()}
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
func (a *authenticator) setupJWT(c configs.JWT) error {
	a.jwt, a.jwtClaim = true, c.TenantClaim
	if c.HMACSecretEnv != "" {
		a.jwtKey = []byte(c.HMACSecret.Value())
		a.jwtMethod = []string{"HS256", "HS384", "HS512"}
	} else {
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

var errUnauthenticated = apiError(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "",
	"Incorrect API key provided. Send a valid key or token as 'Authorization: Bearer <key>'.")

// bearer extracts the credential from Authorization (or api-key, which
// Azure-style clients send).
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > maxBearer {
		return ""
	}
	if v, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(v)
	}
	if v := r.Header.Get("Api-Key"); len(v) <= maxBearer {
		return strings.TrimSpace(v)
	}
	return ""
}

// authenticate returns the caller's principal. Open gateways give everyone
// the default tenant.
func (a *authenticator) authenticate(r *http.Request, defaultTenant string) (principal, error) {
	tok := bearer(r)
	if tok != "" {
		if a.hasAdmin && a.isAdminKey(tok) {
			return principal{tenant: defaultTenant, admin: true}, nil
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
			return principal{tenant: found.tenant, admin: found.admin}, nil
		}
		if a.jwt && strings.Count(tok, ".") == 2 {
			return a.verifyJWT(tok)
		}
	}
	if a.required {
		return principal{}, errUnauthenticated
	}
	return principal{tenant: defaultTenant}, nil
}

func (a *authenticator) isAdminKey(tok string) bool {
	d := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(d[:], a.admin[:]) == 1
}

func (a *authenticator) verifyJWT(tok string) (principal, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return a.jwtKey, nil }, a.jwtOpts...)
	if err != nil {
		return principal{}, errUnauthenticated
	}
	tenant, _ := claims[a.jwtClaim].(string)
	if !configs.ValidName(tenant) {
		return principal{}, apiError(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "",
			"The token has no valid '"+a.jwtClaim+"' claim.")
	}
	return principal{tenant: tenant}, nil
}

// authMiddleware authenticates API requests and records the tenant. Health,
// metrics and the dashboard are not behind it.
func (s *Server) authMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.auth.authenticate(c.Request(), s.cfg.Cache.Namespace)
		if err != nil {
			return err
		}
		st := stateOf(c)
		st.tenant, st.admin = p.tenant, p.admin
		return next(c)
	}
}

// requireAdmin guards admin endpoints.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if stateOf(c).admin {
			return next(c)
		}
		if !s.auth.hasAdmin && !s.auth.anyAdminKey() {
			return apiError(http.StatusForbidden, "permission_error", "admin_disabled", "",
				"Admin endpoints are disabled: set the admin key in the environment variable named by auth.admin_key_env (DITTO_ADMIN_KEY by default).")
		}
		return apiError(http.StatusForbidden, "permission_error", "admin_required", "", "This endpoint requires the admin key.")
	}
}

func (a *authenticator) anyAdminKey() bool {
	for _, k := range a.keys {
		if k.admin {
			return true
		}
	}
	return false
}
