package gateway

import (
	"crypto/sha256"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache"
)

// maxIdempotencyKey bounds the Idempotency-Key header (Stripe's limit).
const maxIdempotencyKey = 255

// claim handles a request's Idempotency-Key: the recorded answer of an
// earlier request with the same key and body (rec), or the claim to run
// it (nil, nil without a key). The key is scoped to the caller's tenant.
func (s *Server) claim(c echo.Context, x *exchange) (*cache.Claim, *cache.Answer, error) {
	k := c.Request().Header.Get("Idempotency-Key")
	if k == "" {
		return nil, nil, nil
	}
	if len(k) > maxIdempotencyKey || !printable(k) {
		return nil, nil, apiError(http.StatusBadRequest, "invalid_request_error", "invalid_header", "Idempotency-Key",
			"Idempotency-Key must be 1-255 printable ASCII characters.")
	}
	h := sha256.New()
	h.Write([]byte(dialectID(x.d)))
	h.Write([]byte{0})
	h.Write(x.body)
	var fp [32]byte
	h.Sum(fp[:0])
	ns := cache.Scope{Tenant: x.tenant, Sub: c.Request().Header.Get("X-Ditto-Namespace")}.Namespace()
	cl, rec, err := s.engine.Claim(c.Request().Context(), cache.Once{
		Key: cache.RecordKey(ns, "idempotency", k), Fingerprint: fp, TTL: s.cfg.Cache.IdempotencyTTL})
	switch {
	case err == cache.ErrConflict:
		return nil, nil, apiError(http.StatusUnprocessableEntity, "invalid_request_error", "idempotency_key_reused", "Idempotency-Key",
			"This Idempotency-Key was already used with a different request; use a new key for a new request.")
	case err != nil:
		return nil, nil, err // the client left while waiting
	case rec != nil:
		return nil, s.engine.Replay(rec), nil
	}
	return cl, nil, nil
}

// finishClaim records a's answer for the retries of x's Idempotency-Key,
// or gives the key up when there is no complete answer (a retry then runs
// the request again: failures are never recorded, as they are never
// cached).
func finishClaim(c echo.Context, cl *cache.Claim, a *cache.Answer) {
	if cl == nil {
		return
	}
	if a != nil && a.Complete() {
		cl.Done(c.Request().Context(), a.Entry)
		return
	}
	cl.Abort()
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
