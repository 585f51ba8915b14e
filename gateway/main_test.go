package gateway

import (
	"testing"

	"github.com/dittocache/ditto/internal/leaktest"
)

// TestMain fails the package if any test leaves a goroutine behind:
// flights, stream relays, statistics flushers and store clients must all
// stop with their gateway.
func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
