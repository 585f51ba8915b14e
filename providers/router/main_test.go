package router_test

import (
	"testing"

	"github.com/dittocache/ditto/internal/leaktest"
)

// TestMain fails the package if a call's watchdog or stream outlives it.
func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
