package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/router"
)

// APIError is an error the client sees, in OpenAI's error shape. Handlers
// return it (or any error); errorHandler is the one place that writes it.
type APIError struct {
	Status     int
	Type       string
	Code       string
	Param      string
	Message    string
	RetryAfter int // seconds; sets Retry-After when > 0
}

func (e *APIError) Error() string { return e.Message }

func apiError(status int, typ, code, param, msg string) *APIError {
	return &APIError{Status: status, Type: typ, Code: code, Param: param, Message: msg}
}

// toAPIError maps any error to what the client is told. Upstream errors keep
// their status and message; everything else gets a generic message so that
// internal details (addresses, credentials in URLs) never leak.
func toAPIError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var re *router.RouteError
	if errors.As(err, &re) {
		return apiError(http.StatusNotFound, "invalid_request_error", "model_not_found", "model", re.Error())
	}
	if errors.Is(err, router.ErrStalled) {
		return errStreamStalled
	}
	var oe *router.CircuitOpenError
	if errors.As(err, &oe) {
		out := apiError(http.StatusServiceUnavailable, "server_error", "upstream_circuit_open", "", oe.Error())
		out.RetryAfter = int((oe.RetryAfter + time.Second - 1) / time.Second)
		return out
	}
	var ce *router.ErrCannotEmbed
	if errors.As(err, &ce) {
		return apiError(http.StatusBadRequest, "invalid_request_error", "model_not_supported", "model", ce.Error())
	}
	var ne *normalize.Error
	if errors.As(err, &ne) {
		return apiError(http.StatusBadRequest, "invalid_request_error", "invalid_request", ne.Param, ne.Message)
	}
	if pe, ok := providers.AsError(err); ok {
		status := pe.Status
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		out := apiError(status, pe.Type, pe.Code, pe.Param, pe.Message)
		if out.Type == "" {
			out.Type = providers.TypeForStatus(status)
		}
		if pe.RetryAfter > 0 {
			out.RetryAfter = int((pe.RetryAfter + 999_999_999) / 1_000_000_000)
		}
		return out
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apiError(http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", "",
			"The request body exceeds the limit of "+strconv.FormatInt(mbe.Limit, 10)+" bytes.")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, normalize.ErrIncomplete) || errors.Is(err, cache.ErrIncomplete) {
		return apiError(http.StatusBadGateway, "server_error", "upstream_incomplete", "",
			"The upstream provider ended its answer early; the partial answer was not cached.")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apiError(http.StatusGatewayTimeout, "server_error", "upstream_timeout", "", "The upstream provider did not answer in time.")
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; the status is for logs only.
		return apiError(499, "server_error", "client_closed_request", "", "The request was cancelled.")
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		typ := "invalid_request_error"
		code := ""
		switch he.Code {
		case http.StatusNotFound:
			code = "not_found"
			msg = "Unknown endpoint. Ditto serves POST /v1/chat/completions, GET /v1/models and the endpoints in its README."
		case http.StatusMethodNotAllowed:
			code = "method_not_allowed"
		}
		if he.Code >= 500 {
			typ = "server_error"
		}
		return apiError(he.Code, typ, code, "", msg)
	}
	if errors.Is(err, router.ErrUpstream) {
		var ue *url.Error
		var ne net.Error
		if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) {
			return apiError(http.StatusBadGateway, "server_error", "upstream_unavailable", "", "The upstream provider could not be reached.")
		}
		return apiError(http.StatusBadGateway, "server_error", "upstream_invalid_response", "", "The upstream provider's answer could not be read.")
	}
	return errInternal
}

// errInternal is every error the gateway has no better word for: its own,
// never the provider's.
var errInternal = apiError(http.StatusInternalServerError, "server_error", "internal_error", "", "Internal error.")

// errStreamStalled ends a stream whose upstream sent nothing for
// upstream.stream_idle_timeout.
var errStreamStalled = &APIError{Status: http.StatusGatewayTimeout, Type: "server_error", Code: "upstream_stalled",
	Message: "The upstream stream stalled and was cut; the partial answer was not cached."}

// errorBody renders OpenAI's {"error":{...}} object.
func errorBody(e *APIError) []byte {
	b := make([]byte, 0, 128+len(e.Message))
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, e.Message)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, e.Type)
	b = append(b, `,"param":`...)
	b = appendNullable(b, e.Param)
	b = append(b, `,"code":`...)
	b = appendNullable(b, e.Code)
	return append(b, `}}`...)
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

// errorHandler is echo's HTTPErrorHandler: every error leaves as OpenAI JSON.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := toAPIError(err)
	if ae.Status == 499 {
		return
	}
	if ae == errInternal {
		s.log.Error("internal error", "path", c.Path(), "err", err)
	}
	d := stateOf(c).dialect
	if d == nil {
		d = dialectOfPath(c.Path())
	}
	writeAPIError(c.Response(), ae, d.errorBody(ae))
}

// dialectOfPath is the dialect whose error shape a request to path gets
// when it fails before its handler runs (authentication, limits).
func dialectOfPath(path string) dialect {
	if path == "/v1/messages" || path == "/v1/messages/count_tokens" {
		return messagesAPI{}
	}
	return chat{}
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

func writeAPIError(w http.ResponseWriter, ae *APIError, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if ae.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	w.WriteHeader(ae.Status)
	w.Write(body)
}
