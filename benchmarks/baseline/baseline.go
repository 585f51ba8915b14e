// Package baseline holds the reference servers Ditto's benchmark figures are
// divided by: the least work a cache or a proxy on the same request path can
// do, written plainly, so a ratio shows what Ditto's features cost.
//
//   - Memory (a): answers from a map keyed by xxhash of the body; the hit floor.
//     A miss is forwarded; an event stream is relayed as it comes and kept.
//   - Redis (b): the same with one Redis GET and, on a miss, one SET; the
//     Redis floor.
//   - Forwarder (c): passes requests through a tuned http.Transport; the miss floor.
//   - NewReverseProxy: a bare httputil.ReverseProxy with the default
//     transport (2 idle connections per host), for comparison only.
//
// All of them forward the request path unchanged to the upstream origin and
// mark answers with X-Ditto-Cache (HIT or MISS) as Ditto does, so the load
// generator counts them alike. They are safe for concurrent use.
package baseline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"
)

// Forwarder is baseline (c): a minimal forwarder with a tuned transport.
type Forwarder struct {
	// ErrorLog receives upstream failures. Nil: they are not logged.
	ErrorLog *log.Logger

	origin string // scheme://host:port, no trailing slash
	client *http.Client
}

func (f *Forwarder) logf(format string, args ...any) {
	if f.ErrorLog != nil {
		f.ErrorLog.Printf(format, args...)
	}
}

// NewForwarder returns a forwarder to origin (e.g. http://127.0.0.1:9000)
// that keeps up to idle connections per host open (0 means 1024).
func NewForwarder(origin string, idle int) *Forwarder {
	if idle <= 0 {
		idle = 1024
	}
	return &Forwarder{
		origin: strings.TrimRight(origin, "/"),
		client: &http.Client{
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        0,
				MaxIdleConnsPerHost: idle,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// forwardedHeaders are the request headers passed upstream.
var forwardedHeaders = []string{"Content-Type", "Authorization", "Accept", "Openai-Organization", "Openai-Project"}

func (f *Forwarder) do(ctx context.Context, r *http.Request, body io.Reader, length int64) (*http.Response, error) {
	out, err := http.NewRequestWithContext(ctx, r.Method, f.origin+r.URL.RequestURI(), body)
	if err != nil {
		return nil, err
	}
	out.ContentLength = length
	for _, h := range forwardedHeaders {
		if v := r.Header.Values(h); len(v) > 0 {
			out.Header[h] = v
		}
	}
	return f.client.Do(out)
}

// ServeHTTP streams the request to the upstream and the answer back,
// flushing each read of an event stream at once.
func (f *Forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read the request body first, as a gateway that looks at it must; it
	// also keeps the transport from still reading the incoming body while the
	// answer streams back.
	buf, ok := readBody(w, r)
	if !ok {
		return
	}
	defer bodyBufs.Put(buf)
	resp, err := f.do(r.Context(), r, bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		f.logf("forward: %v", err)
		badGateway(w, err)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	if !isStream(resp.Header) {
		// writerOnly hides the ResponseWriter's ReadFrom, which would flush the
		// first 512 bytes on their own and then write the rest in a second
		// syscall; a plain copy keeps a small answer in one write.
		io.CopyBuffer(writerOnly{w}, resp.Body, *bp)
		return
	}
	if werr, rerr := relayStream(w, resp.Body, *bp, nil); werr != nil {
		f.logf("stream to client: %v", werr)
	} else if rerr != nil {
		f.logf("stream from upstream: %v", rerr)
	}
}

// relayStream writes each read of body to w and flushes it at once, until
// body ends (rerr nil at EOF) or a write fails; with kept set it also
// appends what it relayed there.
func relayStream(w http.ResponseWriter, body io.Reader, buf []byte, kept *[]byte) (werr, rerr error) {
	rc := http.NewResponseController(w)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if kept != nil {
				*kept = append(*kept, buf[:n]...)
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr, nil
			}
			rc.Flush()
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

type writerOnly struct{ io.Writer }

// fetch forwards a buffered body and reads the whole answer. An event
// stream that answers 200 is relayed to w as it comes (each read written
// and flushed, as the forwarder does, marked MISS) while it is kept:
// relayed is then true and the answer has been written.
func (f *Forwarder) fetch(w http.ResponseWriter, r *http.Request, body []byte) (status int, e entry, relayed bool, err error) {
	resp, err := f.do(r.Context(), r, bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return 0, entry{}, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !isStream(resp.Header) {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, entry{}, false, err
		}
		return resp.StatusCode, entry{stream: isStream(resp.Header), body: b}, false, nil
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Ditto-Cache", "MISS")
	w.WriteHeader(http.StatusOK)
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	var kept []byte
	if werr, rerr := relayStream(w, resp.Body, *bp, &kept); werr != nil || rerr != nil {
		return 0, entry{}, true, errors.Join(werr, rerr)
	}
	return http.StatusOK, entry{stream: true, body: kept}, true, nil
}

func isStream(h http.Header) bool {
	return strings.HasPrefix(h.Get("Content-Type"), "text/event-stream")
}

func badGateway(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"upstream_error","param":null,"code":null}}`, err.Error())
}

// NewReverseProxy returns a bare httputil.ReverseProxy to origin with the
// default transport, which keeps only 2 idle connections per host.
func NewReverseProxy(origin string) (http.Handler, error) {
	u, err := url.Parse(origin)
	if err != nil {
		return nil, err
	}
	return httputil.NewSingleHostReverseProxy(u), nil
}

// entry is one cached answer: the upstream's body as it came.
type entry struct {
	stream bool
	body   []byte
}

func (e entry) write(w http.ResponseWriter, status string) {
	h := w.Header()
	if e.stream {
		h.Set("Content-Type", "text/event-stream")
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(e.body)))
	h.Set("X-Ditto-Cache", status)
	w.Write(e.body)
}

var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads r's body into a pooled buffer (the caller puts it back);
// on failure it answers 400 and returns false.
func readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, bool) {
	buf := bodyBufs.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(r.Body); err != nil {
		bodyBufs.Put(buf)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	return buf, true
}

// cached is the shared hit/miss logic of Memory and Redis.
type cached struct {
	fwd *Forwarder
	get func(ctx context.Context, k uint64) (entry, bool)
	set func(ctx context.Context, k uint64, e entry)
}

func (c *cached) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf, ok := readBody(w, r)
	if !ok {
		return
	}
	defer bodyBufs.Put(buf)
	k := xxhash.Sum64(buf.Bytes())
	if e, ok := c.get(r.Context(), k); ok {
		e.write(w, "HIT")
		return
	}
	status, e, relayed, err := c.fwd.fetch(w, r, buf.Bytes())
	if err != nil {
		if !relayed {
			badGateway(w, err)
		}
		return // a stream cut short is not kept
	}
	if status != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(e.body)
		return
	}
	c.set(r.Context(), k, e)
	if !relayed {
		e.write(w, "MISS")
	}
}

// NewMemory returns baseline (a): a map from xxhash of the request body to
// the upstream's answer, filled on miss through fwd.
func NewMemory(fwd *Forwarder) http.Handler {
	var mu sync.RWMutex
	m := map[uint64]entry{}
	return &cached{
		fwd: fwd,
		get: func(_ context.Context, k uint64) (entry, bool) {
			mu.RLock()
			e, ok := m[k]
			mu.RUnlock()
			return e, ok
		},
		set: func(_ context.Context, k uint64, e entry) {
			mu.Lock()
			m[k] = e
			mu.Unlock()
		},
	}
}

// NewRedis returns baseline (b): one GET per request under prefix, filled
// on miss through fwd with one SET. A Redis error is a miss.
func NewRedis(fwd *Forwarder, rdb redis.UniversalClient, prefix string) http.Handler {
	key := func(k uint64) string { return prefix + strconv.FormatUint(k, 16) }
	return &cached{
		fwd: fwd,
		get: func(ctx context.Context, k uint64) (entry, bool) {
			b, err := rdb.Get(ctx, key(k)).Bytes()
			if err != nil || len(b) == 0 {
				return entry{}, false
			}
			return entry{stream: b[0] == 's', body: b[1:]}, true
		},
		set: func(ctx context.Context, k uint64, e entry) {
			tag := byte('j')
			if e.stream {
				tag = 's'
			}
			rdb.Set(ctx, key(k), append([]byte{tag}, e.body...), 0)
		},
	}
}
