package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// countingListener counts the writes made to the connections it accepts.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.l.writes.Add(1)
	return c.Conn.Write(p)
}

// A stream's last events go out with the end of the response: a replayed
// (cached) stream that fits net/http's buffers is one write to the
// connection, not a flush and then the chunked terminator. Both the
// stream and the HTTP response must still be complete.
func TestStreamEndsInOneWrite(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	hs := g.HTTPServer(ln.Addr().String())
	go hs.Serve(cl)
	t.Cleanup(func() { hs.Close() })
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	body := chatBody("one write", true)
	send := func() (string, string) {
		t.Helper()
		resp, err := client.Post("http://"+ln.Addr().String()+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var last string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line := sc.Text(); line != "" {
				last = line
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatalf("after the stream: %v", err)
		}
		return resp.Header.Get("X-Ditto-Cache"), last
	}
	if status, last := send(); status != "MISS" || last != "data: [DONE]" {
		t.Fatalf("first: %s ending %q, want MISS ending data: [DONE]", status, last)
	}
	before := cl.writes.Load()
	status, last := send()
	if status != "HIT" || last != "data: [DONE]" {
		t.Fatalf("second: %s ending %q, want HIT ending data: [DONE]", status, last)
	}
	if n := cl.writes.Load() - before; n != 1 {
		t.Errorf("writes to the connection for a replayed stream = %d, want 1 (headers, events and the end together)", n)
	}
}
