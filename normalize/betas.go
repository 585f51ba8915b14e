package normalize

import (
	"fmt"
	"slices"
	"strings"
)

// MaxBetas bounds the beta features one request may name.
const MaxBetas = 32

// ParseBetas reads the values of anthropic-beta request headers (each a
// comma-separated list, as Anthropic's SDKs send them; the header may
// repeat) into Request.Betas's form: names trimmed, sorted, without
// repeats; nil when there are none. A name with characters other than
// visible ASCII, or more than MaxBetas names, is an error whose message
// names the header.
func ParseBetas(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			for i := 0; i < len(name); i++ {
				if c := name[i]; c <= ' ' || c > '~' {
					return nil, fmt.Errorf("anthropic-beta: %q is not a beta feature name", name)
				}
			}
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxBetas {
		return nil, fmt.Errorf("anthropic-beta: %d beta features, at most %d", len(out), MaxBetas)
	}
	return out, nil
}
