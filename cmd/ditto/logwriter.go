package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logWriter buffers log output and flushes it every interval, when the
// buffer fills, and on Close, so a busy gateway does not pay one write(2)
// per request line. At most one interval of lines is lost if the process is
// killed. Safe for concurrent use.
type logWriter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	done chan struct{}
	wg   sync.WaitGroup
}

func newLogWriter(w io.Writer, every time.Duration) *logWriter {
	l := &logWriter{w: bufio.NewWriterSize(w, 64<<10), done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				l.flush()
			case <-l.done:
				return
			}
		}
	}()
	return l
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *logWriter) flush() {
	l.mu.Lock()
	l.w.Flush()
	l.mu.Unlock()
}

// Close stops the flusher and writes out what is buffered.
func (l *logWriter) Close() error {
	close(l.done)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Flush()
}
