package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that serve and its shutdown leave no goroutine behind
// (listeners, log flusher, pprof, telemetry).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
