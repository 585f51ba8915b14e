package providers

import (
	"net"
	"net/http"
	"time"
)

// HTTPOptions tunes the HTTP client adapters use. Zero fields take the
// defaults noted on each.
type HTTPOptions struct {
	ConnectTimeout      time.Duration // default 10s
	FirstByteTimeout    time.Duration // until response headers; default 120s
	MaxIdleConnsPerHost int           // default 256
}

// NewHTTPClient returns a client for upstream calls. Unlike
// http.DefaultTransport it keeps enough idle connections per host for a busy
// gateway (the default keeps 2) and bounds connecting and waiting for
// headers. It sets no overall timeout: callers bound non-streaming calls with
// a context, and streams may run long.
func NewHTTPClient(o HTTPOptions) *http.Client {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.FirstByteTimeout <= 0 {
		o.FirstByteTimeout = 120 * time.Second
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 256
	}
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          o.MaxIdleConnsPerHost * 4,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.FirstByteTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: t}
}
