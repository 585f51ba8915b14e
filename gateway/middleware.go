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

	"github.com/dittocache/ditto/normalize"
)

// Keys of values handlers leave in the echo context for the request log.
const (
	ctxModel  = "ditto.model"
	ctxTenant = "ditto.tenant"
	ctxAdmin  = "ditto.admin"
	ctxPrompt = "ditto.prompt"
)

// requestLog assigns a request id and writes one structured line per
// request: no prompts, no credentials.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := c.Request().Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			var b [12]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header().Set("X-Request-Id", id)
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", c.Request().Method),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if m, ok := c.Get(ctxModel).(string); ok {
			attrs = append(attrs, slog.String("model", m))
		}
		if cs := c.Response().Header().Get("X-Ditto-Cache"); cs != "" {
			attrs = append(attrs, slog.String("cache", cs))
		}
		if p, ok := c.Get(ctxPrompt).(string); ok {
			attrs = append(attrs, slog.String("prompt", p)) // only with log.prompts: true
		}
		if err != nil && status >= 500 {
			// Transport errors name hosts, never credentials (adapters
			// strip URLs); prompts never appear in errors.
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		attrs = s.telemetryLogAttrs(c, attrs)
		s.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
		return nil
	}
}

// headerLimit answers requests whose headers exceed server.max_header_bytes
// with a 431 in OpenAI's error shape.
func (s *Server) headerLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		n := 0
		for k, vs := range c.Request().Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4 // ": " and CRLF
			}
		}
		if n > s.cfg.Server.MaxHeaderBytes {
			return apiError(http.StatusRequestHeaderFieldsTooLarge, "invalid_request_error", "headers_too_large", "",
				"The request headers exceed the limit of "+strconv.Itoa(s.cfg.Server.MaxHeaderBytes)+" bytes.")
		}
		return next(c)
	}
}

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
