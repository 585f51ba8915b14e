package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/internal/auth"
	"github.com/dittocache/ditto/normalize"
)

// requestState is what one request's middleware and handlers share: the
// telemetry of a traced request, the caller auth found, and what the chat
// handler leaves for the log line. front allocates it together with the
// echo.Context it passes on (stateContext), instead of a boxed value per
// field in echo's per-request map.
type requestState struct {
	tel    requestTelemetry
	traced bool // tel is in use (the route is traced)

	dialect   dialect         // the client API being served, for the error shape
	tenant    string          // set by authMiddleware
	principal *auth.Principal // the caller, kept when pass-through is configured (auth.go)
	admin     bool
	model     string // the requested model, for the log line
	prompt    string // only with log.prompts: true
	hasPrompt bool
}

// stateContext is the echo.Context front hands to the rest of the chain:
// echo's own, with the request's state beside it.
type stateContext struct {
	echo.Context
	st requestState
}

// ctxState is the echo context key of a request's *requestState when it
// was not created by front (handlers called on their own).
const ctxState = "ditto.state"

// stateOf returns the request's state, creating it if no middleware has.
func stateOf(c echo.Context) *requestState {
	if sc, ok := c.(*stateContext); ok {
		return &sc.st
	}
	if st, ok := c.Get(ctxState).(*requestState); ok {
		return st
	}
	st := &requestState{}
	c.Set(ctxState, st)
	return st
}

// logRequest assigns a request id and writes one structured line per
// request: no prompts (unless log.prompts), no credentials.
func (s *Server) logRequest(c echo.Context, next echo.HandlerFunc) error {
	start := time.Now()
	id := c.Request().Header.Get("X-Request-Id")
	if id == "" || len(id) > 128 {
		var b [12]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Response().Header()["X-Request-Id"] = []string{id}
	err := s.limitHeaders(c, next)
	if err != nil {
		c.Error(err)
	}
	s.writeLog(c, id, start, err)
	return nil
}

// writeLog writes the request's line. It is a function of its own, kept out
// of line, so its large frame (the record and the attribute array) is not
// on the stack while the request is handled: deep handler stacks make
// goroutine stacks grow, and shrink again at every GC.
//
//go:noinline
func (s *Server) writeLog(c echo.Context, id string, start time.Time, err error) {
	status := c.Response().Status
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	ctx := c.Request().Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	// The record is built by hand, without the caller's program counter
	// (nothing logs source lines), and from a stack array: this line is
	// written for every request.
	var buf [12]slog.Attr
	attrs := append(buf[:0],
		slog.String("request_id", id),
		slog.String("method", c.Request().Method),
		slog.String("path", c.Path()),
		slog.Int("status", status),
		// Whole microseconds: slog's JSON handler formats a float through
		// encoding/json (reflection, and a stack deep enough to grow the
		// goroutine's), an integer directly.
		slog.Int64("latency_us", time.Since(start).Microseconds()),
	)
	st := stateOf(c)
	if st.model != "" {
		attrs = append(attrs, slog.String("model", st.model))
	}
	if cs := c.Response().Header()["X-Ditto-Cache"]; len(cs) > 0 {
		attrs = append(attrs, slog.String("cache", cs[0]))
	}
	if st.hasPrompt {
		attrs = append(attrs, slog.String("prompt", st.prompt)) // only with log.prompts: true
	}
	if err != nil && status >= 500 {
		// Transport errors name hosts, never credentials (adapters
		// strip URLs); prompts never appear in errors.
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	attrs = s.telemetryLogAttrs(c, st, attrs)
	r := slog.NewRecord(time.Now(), level, "request", 0)
	r.AddAttrs(attrs...)
	_ = s.log.Handler().Handle(ctx, r)
}

// maxCredentialBytes bounds a credential header's value: no API key and no
// sensible JWT is longer, so a longer one is refused as a bad credential
// (401), not as oversized headers. Credential headers do not count toward
// server.max_header_bytes.
const maxCredentialBytes = 16 << 10

// credentialHeaders are the headers clients send keys and tokens in.
var credentialHeaders = map[string]bool{"Authorization": true, "X-Api-Key": true, "Api-Key": true}

// limitHeaders answers requests whose headers exceed server.max_header_bytes
// or server.max_header_count with a 431, and requests with an oversized
// credential with a 401, both in OpenAI's error shape.
func (s *Server) limitHeaders(c echo.Context, next echo.HandlerFunc) error {
	n, lines := 0, 0
	for k, vs := range c.Request().Header {
		lines += len(vs)
		cred := credentialHeaders[k]
		for _, v := range vs {
			if cred {
				if len(v) > maxCredentialBytes {
					return errCredentialTooLong
				}
				continue
			}
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	if lines > s.cfg.Server.MaxHeaderCount {
		return apiError(http.StatusRequestHeaderFieldsTooLarge, "invalid_request_error", "headers_too_large", "",
			"The request has more than "+strconv.Itoa(s.cfg.Server.MaxHeaderCount)+" header lines.")
	}
	if n > s.cfg.Server.MaxHeaderBytes {
		return apiError(http.StatusRequestHeaderFieldsTooLarge, "invalid_request_error", "headers_too_large", "",
			"The request headers exceed the limit of "+strconv.Itoa(s.cfg.Server.MaxHeaderBytes)+" bytes.")
	}
	return next(c)
}

var errCredentialTooLong = apiError(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "",
	"Incorrect API key provided: the credential is longer than any key this gateway accepts.")

// maxLoggedPrompt bounds the prompt text a request log line carries.
const maxLoggedPrompt = 2000

// loggedPrompt is the last user message's text, cut to maxLoggedPrompt
// bytes (at a rune boundary), for log.prompts: true.
func loggedPrompt(req *normalize.Request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role != normalize.RoleUser {
			continue
		}
		t := req.Messages[i].Text()
		if len(t) > maxLoggedPrompt {
			t = strings.ToValidUTF8(t[:maxLoggedPrompt], "") + "…"
		}
		return t
	}
	return ""
}
