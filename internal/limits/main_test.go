package limits_test

import (
	"testing"

	"github.com/dittocache/ditto/internal/leaktest"
)

// TestMain fails the package if a test leaves a goroutine behind (batched
// Redis calls must all return).
func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
