package gemini

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a stream or request outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
