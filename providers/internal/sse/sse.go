// Package sse reads server-sent events as the WHATWG EventSource algorithm
// describes them, leniently enough for the model providers' real streams.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
)

// MaxLine bounds one line of the stream (a single data: line can carry a
// whole JSON chunk, inline images included).
const MaxLine = 16 << 20

// Event is one dispatched event. Name is "" when the stream sent no event:
// field. Data joins the event's data: lines with "\n".
type Event struct {
	Name string
	Data []byte
}

// Reader splits a stream into events. Lines may end in "\n", "\r\n" or
// "\r"; comment lines (":...") and id:/retry: fields are ignored. An event
// still pending when the stream ends is dispatched, even if its last line
// has no terminator, because some providers omit the final blank line; a
// line cut in the middle therefore reaches the caller, whose JSON decoding
// rejects it. Not safe for concurrent use.
type Reader struct {
	sc   *bufio.Scanner
	buf  *[]byte // the scanner's initial buffer, from lineBufs
	view bool    // NextView: Data is not copied
	name string
	data bytes.Buffer
	has  bool // at least one data: line in the pending event
	done bool
	err  error
}

// NewReader returns a Reader of r. Call Release when done with it.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	buf := lineBufs.Get().(*[]byte)
	sc.Buffer(*buf, MaxLine)
	sc.Split(scanLines)
	return &Reader{sc: sc, buf: buf}
}

// lineBufs recycles the scanners' initial line buffers (one per stream).
var lineBufs = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// errReleased is what Next returns after Release.
var errReleased = errors.New("sse: reader released")

// Release returns the Reader's buffer for reuse by later streams; every
// later Next fails. Safe to call more than once.
func (r *Reader) Release() {
	if r.buf == nil {
		return
	}
	// The scanner may still point into the buffer: make it unusable first.
	r.sc = nil
	r.done, r.err = true, errReleased
	lineBufs.Put(r.buf)
	r.buf = nil
}

// Next returns the next event. It returns io.EOF once the stream has ended
// cleanly and every event has been returned, and the read error (never
// io.EOF) when reading failed, again on every later call. The returned
// Data is not retained by the Reader.
func (r *Reader) Next() (Event, error) {
	for !r.done {
		if !r.sc.Scan() {
			r.done = true
			if err := r.sc.Err(); err != nil {
				// An event cut by a read error is never dispatched.
				r.err = err
				if errors.Is(err, bufio.ErrTooLong) {
					r.err = errors.New("sse: line longer than 16 MiB")
				}
			}
			break
		}
		line := r.sc.Bytes()
		if len(line) == 0 {
			if ev, ok := r.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			r.name = string(value)
		case "data":
			if r.has {
				r.data.WriteByte('\n')
			}
			r.data.Write(value)
			r.has = true
		}
	}
	if r.err != nil {
		return Event{}, r.err
	}
	if ev, ok := r.dispatch(); ok {
		return ev, nil
	}
	return Event{}, io.EOF
}

// NextView is Next without copying: the returned Data is only valid until
// the next call to Next or NextView. For callers that decode each event
// into values of their own before reading the next.
func (r *Reader) NextView() (Event, error) {
	r.view = true
	defer func() { r.view = false }()
	return r.Next()
}

func (r *Reader) dispatch() (Event, bool) {
	if !r.has {
		r.name = ""
		return Event{}, false
	}
	data := r.data.Bytes()
	if !r.view {
		data = bytes.Clone(data)
	}
	ev := Event{Name: r.name, Data: data}
	r.name, r.has = "", false
	r.data.Reset()
	return ev, true
}

// scanLines is bufio.ScanLines accepting "\n", "\r\n" and a lone "\r".
func scanLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		// '\r': a following '\n' belongs to the same terminator.
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // need one more byte to tell "\r" from "\r\n"
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
