package gosdk

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a gateway, flight or store client outlives
// its test. Idle keep-alive connections of the SDKs' shared transports are
// not leaks.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
