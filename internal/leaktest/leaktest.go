// Package leaktest is the goroutine-leak check every Ditto test package
// runs from its TestMain.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyTestMain runs the package's tests and fails if any goroutine
// outlives them. Idle keep-alive connections of shared HTTP transports are
// not leaks and are ignored.
func VerifyTestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
