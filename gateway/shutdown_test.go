package gateway

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/dittocache/ditto/configs"
)

// A request still running when server.shutdown_timeout ends is cut and
// Serve returns nil: the end of a graceful shutdown is not a failure (the
// process exits 0).
func TestServeCutsWhatOutlivesTheShutdownTimeout(t *testing.T) {
	g := newTestGateway(t, testOpts{cfg: func(c *configs.Config) { c.Server.ShutdownTimeout = 200 * time.Millisecond }})
	release := g.up.Block()
	defer release()
	arrived := g.up.Arrivals()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Server.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	cut := make(chan error, 1)
	go func() {
		resp, err := post(context.Background(), t, url, chatBody("still running at shutdown", true))
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		cut <- err
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the provider")
	}
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after a shutdown that cut a request = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the shutdown timeout")
	}
	select {
	case <-cut:
	case <-time.After(10 * time.Second):
		t.Fatal("the running request was not cut")
	}
}
