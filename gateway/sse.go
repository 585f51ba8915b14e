package gateway

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/normalize"
)

// sseWriter writes chat.completion.chunk events. Each flush pushes the
// buffered events to the client immediately and extends the connection's
// write deadline, so a server-wide WriteTimeout cannot cut a long stream.
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

// chunk buffers one event. Usage is only sent to clients that asked for it
// with stream_options.include_usage; the gateway always asks upstream.
func (s *sseWriter) chunk(c *normalize.Chunk, includeUsage bool) error {
	if s.err != nil {
		return s.err
	}
	if !includeUsage && c.Usage != nil {
		if len(c.Choices) == 0 {
			return nil // usage-only chunk
		}
		cc := *c
		cc.Usage = nil
		c = &cc
	}
	s.buf = append(s.buf, "data: "...)
	s.buf = normalize.AppendOpenAIChunk(s.buf, c)
	s.buf = append(s.buf, '\n', '\n')
	if len(s.buf) > 32<<10 {
		return s.flush()
	}
	return nil
}

// buffered reports whether events wait for a flush.
func (s *sseWriter) buffered() bool { return len(s.buf) > 0 }

func (s *sseWriter) flush() error {
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
	if err := s.rc.Flush(); err != nil {
		s.err = err
	}
	return s.err
}

// done ends a complete stream.
func (s *sseWriter) done() {
	if s.err != nil {
		return
	}
	s.buf = append(s.buf, "data: [DONE]\n\n"...)
	s.flush()
}

// error ends a stream that failed after it started: an OpenAI-shaped error
// event the SDKs raise, rather than a silent EOF.
func (s *sseWriter) error(e *APIError) {
	if s.err != nil {
		return
	}
	s.buf = append(s.buf, "data: "...)
	s.buf = append(s.buf, errorBody(e)...)
	s.buf = append(s.buf, '\n', '\n')
	s.flush()
}
