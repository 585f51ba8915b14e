package cache

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
)

// Explanation shows how a request maps to its cache key.
type Explanation struct {
	Model     string          `json:"model"`
	Dialect   string          `json:"dialect,omitempty"` // the client API when the request keys within it
	Route     string          `json:"route"`             // provider/upstream-model: the key's route part
	Namespace string          `json:"namespace"`         // key namespace: tenant, sub-namespace, loose-matching tag
	Match     string          `json:"match,omitempty"`   // the route's loose-matching tag, empty when strict
	Key       string          `json:"key"`               // store key
	Digest    string          `json:"digest"`            // SHA-256 verification digest, hex
	Canonical json.RawMessage `json:"canonical"`         // the keyed canonical form
	Cacheable bool            `json:"cacheable"`         // the route caches at all
}

// Explain describes req's key in scope on route exactly as the engine's
// callers derive it with Key. cacheable is whether the route caches.
func Explain(h cachekey.Hasher, req *normalize.Request, scope Scope, route string, cacheable bool) *Explanation {
	k, canon := KeyCanonical(h, req, scope, route)
	return &Explanation{
		Model: req.Model, Dialect: req.Dialect, Route: route, Namespace: k.Namespace, Match: scope.Match.Tag(),
		Key: k.String(), Digest: hex.EncodeToString(k.Digest[:]), Canonical: canon, Cacheable: cacheable,
	}
}

// Compare lists, one line each, why a and b have different keys; nil when
// they share one.
func Compare(a, b *Explanation) []string {
	var out []string
	if a.Namespace != b.Namespace {
		out = append(out, fmt.Sprintf("namespace: %q vs %q", a.Namespace, b.Namespace))
	}
	if a.Route != b.Route {
		out = append(out, fmt.Sprintf("route: %q vs %q (provider/upstream model)", a.Route, b.Route))
	}
	var va, vb any
	_ = json.Unmarshal(a.Canonical, &va)
	_ = json.Unmarshal(b.Canonical, &vb)
	diffValues("", va, vb, &out)
	if len(out) == 0 && a.Key != b.Key {
		out = append(out, "keys differ although the canonical forms are equal (different key versions?)")
	}
	return out
}

func diffValues(path string, a, b any, out *[]string) {
	if reflect.DeepEqual(a, b) {
		return
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := k
			if path != "" {
				p = path + "." + k
			}
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case !inA:
				*out = append(*out, fmt.Sprintf("%s: only in B (%s)", p, short(y)))
			case !inB:
				*out = append(*out, fmt.Sprintf("%s: only in A (%s)", p, short(x)))
			default:
				diffValues(p, x, y, out)
			}
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		if len(av) != len(bv) {
			*out = append(*out, fmt.Sprintf("%s: %d items vs %d", path, len(av), len(bv)))
		}
		for i := 0; i < min(len(av), len(bv)); i++ {
			diffValues(path+"["+strconv.Itoa(i)+"]", av[i], bv[i], out)
		}
		return
	}
	*out = append(*out, fmt.Sprintf("%s: %s vs %s", path, short(a), short(b)))
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}
