// Package redact strips secrets that Go's errors quote from them.
package redact

import (
	"errors"
	"fmt"
	"net/url"
)

// URLError drops the URL a *url.Error quotes (it may hold a password, or a
// key in its query string), keeping the operation and the cause in the
// chain, so errors.Is(err, context.Canceled) and timeouts still match.
// Other errors are returned as they are.
func URLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
