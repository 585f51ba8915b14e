package gemini

import (
	"testing"

	"github.com/dittocache/ditto/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
