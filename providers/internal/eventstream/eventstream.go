// Package eventstream turns a provider's server-sent events into a
// normalize.Stream. The adapter translates each event into zero or more
// chunks; the Stream delivers them in order, makes the first error sticky,
// and ends with io.EOF only once the adapter has seen the provider's
// terminal event or accepted the end of the body.
package eventstream

import (
	"fmt"
	"io"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/internal/sse"
)

// Stream is a normalize.Stream over an SSE body. Adapters embed it in
// their stream type and queue chunks with Push from their event handler.
// Not safe for concurrent use.
type Stream struct {
	name   string
	body   io.ReadCloser
	events *sse.Reader
	event  func(data []byte) error
	end    func() error

	queue []*normalize.Chunk
	done  bool  // the answer is complete: io.EOF once the queue is empty
	err   error // sticky, delivered once the queue is empty
}

// New returns a Stream reading body for the adapter called name. event
// handles the data of each event: it queues chunks with Push and calls
// Finish at the provider's terminal event; an error ends the stream after
// the chunks queued before it. end runs when the body ends cleanly before
// Finish: nil accepts the answer as complete (end may still Push), an error
// is what the stream ends with.
func New(name string, body io.ReadCloser, event func(data []byte) error, end func() error) *Stream {
	return &Stream{name: name, body: body, events: sse.NewReader(body), event: event, end: end}
}

// Push queues c for Recv.
func (s *Stream) Push(c *normalize.Chunk) {
	s.queue = append(s.queue, c)
}

// Finish marks the answer complete: no more events are read, and Recv
// returns io.EOF once the queued chunks are delivered.
func (s *Stream) Finish() {
	s.done = true
}

// Recv returns the next chunk; see New for how the stream ends. Read
// errors are wrapped as "NAME: reading stream: …".
func (s *Stream) Recv() (*normalize.Chunk, error) {
	for {
		if len(s.queue) > 0 {
			c := s.queue[0]
			s.queue = s.queue[1:]
			return c, nil
		}
		if s.err != nil {
			return nil, s.err
		}
		if s.done {
			return nil, io.EOF
		}
		ev, err := s.events.Next()
		switch {
		case err == io.EOF:
			if s.err = s.end(); s.err == nil {
				s.done = true
			}
		case err != nil:
			s.err = fmt.Errorf("%s: reading stream: %w", s.name, err)
		default:
			s.err = s.event(ev.Data)
		}
	}
}

// Close closes the body.
// Close closes the body and recycles the event reader's buffer; like Recv,
// it must not run concurrently with Recv.
func (s *Stream) Close() error {
	err := s.body.Close()
	s.events.Release()
	return err
}

// Choices tracks which choices of an OpenAI-format stream have finished.
// The zero value is ready to use.
type Choices struct {
	finished map[int]bool // choice index → has a finish reason
}

// Track records the choices c carries and their finish reasons.
func (f *Choices) Track(c *normalize.Chunk) {
	if f.finished == nil {
		f.finished = make(map[int]bool, 1)
	}
	for _, cc := range c.Choices {
		if cc.FinishReason != "" {
			f.finished[cc.Index] = true
		} else if _, ok := f.finished[cc.Index]; !ok {
			f.finished[cc.Index] = false
		}
	}
}

// Complete reports whether at least one choice was seen and all have
// finished.
func (f *Choices) Complete() bool {
	if len(f.finished) == 0 {
		return false
	}
	for _, done := range f.finished {
		if !done {
			return false
		}
	}
	return true
}
