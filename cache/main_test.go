package cache_test

import (
	"testing"

	"github.com/dittocache/ditto/internal/leaktest"
)

// TestMain fails the package if a flight, a lease wait or a store client
// outlives its test.
func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
