package gateway

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/normalize"
)

// sseWriter writes a stream's events (rendered by a dialect's
// streamRenderer into buf). Each flush pushes the buffered events to the
// client immediately and extends the connection's write deadline, so a
// server-wide WriteTimeout cannot cut a long stream.
type sseWriter struct {
	w        *echo.Response
	rc       *http.ResponseController
	buf      []byte
	err      error
	deadline time.Time // the write deadline last set
}

// streamWriteWindow is how long one flush may take before the client is
// considered gone.
const streamWriteWindow = 60 * time.Second

func newSSEWriter(w *echo.Response) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w: w, rc: http.NewResponseController(w.Writer), buf: *sseBufs.Get().(*[]byte)}
}

// sseBufs recycles event buffers: every stream needs one for its lifetime.
var sseBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// release returns the buffer; the writer must not be used afterwards. Nil
// safe.
func (s *sseWriter) release() {
	if s == nil || s.buf == nil {
		return
	}
	if cap(s.buf) <= 64<<10 { // do not pin buffers grown by huge events
		b := s.buf[:0]
		sseBufs.Put(&b)
	}
	s.buf, s.err = nil, errSSEReleased
}

var errSSEReleased = errors.New("sse writer released")

// replay writes a complete answer as a stream: the canonical replay of
// resp (normalize.Replay, usage included: renderers drop what their client
// did not ask for) through sr, then its end.
func (s *sseWriter) replay(sr streamRenderer, resp *normalize.Response) {
	for _, ch := range normalize.Replay(resp, true) {
		s.buf = sr.Chunk(s.buf, &ch)
		if len(s.buf) > 32<<10 && s.flush() != nil {
			return
		}
	}
	s.buf = sr.End(s.buf, resp)
	_ = s.end()
}

// replayed renders a complete answer's whole stream, as replay writes it.
func replayed(sr streamRenderer, resp *normalize.Response) []byte {
	var b []byte
	for _, ch := range normalize.Replay(resp, true) {
		b = sr.Chunk(b, &ch)
	}
	return sr.End(b, resp)
}

// buffered reports whether events wait for a flush.
func (s *sseWriter) buffered() bool { return len(s.buf) > 0 }

func (s *sseWriter) flush() error {
	if err := s.write(); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
	}
	return s.err
}

// end writes the stream's last events without flushing them: net/http
// sends them with the end of the response as the handler returns, in one
// write to the connection instead of two. A handler with more to do
// before it returns that may take a while (a store round trip) flushes
// first (serve's idempotency claim does).
func (s *sseWriter) end() error { return s.write() }

// write hands the buffered events to the response writer.
func (s *sseWriter) write() error {
	if s.err != nil {
		return s.err
	}
	if len(s.buf) > 0 {
		// Extending the deadline re-arms a runtime timer: once a second
		// is plenty for a one-minute window.
		if now := time.Now(); s.deadline.Sub(now) < streamWriteWindow-time.Second {
			s.deadline = now.Add(streamWriteWindow)
			_ = s.rc.SetWriteDeadline(s.deadline)
		}
		if _, err := s.w.Write(s.buf); err != nil {
			s.err = err
			return err
		}
		s.buf = s.buf[:0]
	}
	return nil
}
