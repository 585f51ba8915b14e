package redistest

import (
	"bytes"
	"runtime"
	"testing"
	"time"
)

// dialProbe is go-redis's background dial: while a node is unreachable, a
// pool probes its address once a second until the probe succeeds or the
// client is closed, so it can outlive Close by up to a second.
const dialProbe = "internal/pool.(*ConnPool).tryDial"

// settleClients registers a cleanup, to run after every later one (clients
// closing included), that waits up to 3 s for go-redis's dial probes of
// killed nodes to notice their clients are closed, so a goroutine-leak check
// after the test sees none. A probe still running then is left to goleak:
// some client was not closed.
func settleClients(t testing.TB) {
	t.Cleanup(func() {
		buf := make([]byte, 1<<20)
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			n := runtime.Stack(buf, true)
			if !bytes.Contains(buf[:n], []byte(dialProbe)) {
				return
			}
		}
	})
}
