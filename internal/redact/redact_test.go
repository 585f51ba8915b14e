package redact_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/dittocache/ditto/internal/redact"
)

func TestURLError(t *testing.T) {
	err := redact.URLError(&url.Error{Op: "Post", URL: "https://u:secret@h/x?key=k2", Err: context.Canceled})
	if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "k2") || !errors.Is(err, context.Canceled) {
		t.Errorf("URLError = %v (canceled %v), want no URL and the cause kept", err, errors.Is(err, context.Canceled))
	}
	plain := errors.New("x")
	if redact.URLError(plain) != plain {
		t.Error("a non-URL error was changed")
	}
}
