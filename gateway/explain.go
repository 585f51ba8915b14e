package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"

	"github.com/cespare/xxhash/v2"
	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/normalize"
)

// Explanation shows how a request body maps to its cache key.
type Explanation struct {
	Model     string          `json:"model"`
	Route     string          `json:"route"`           // provider/upstream-model: the key's route part
	Namespace string          `json:"namespace"`       // key namespace: tenant, sub-namespace, loose-matching tag
	Match     string          `json:"match,omitempty"` // the route's loose-matching tag, empty when strict
	Key       string          `json:"key"`             // store key
	Digest    string          `json:"digest"`          // SHA-256 verification digest, hex
	Canonical json.RawMessage `json:"canonical"`       // the keyed canonical form
	Cacheable bool            `json:"cacheable"`       // the route caches at all
}

// Explain computes the canonical form and cache key of an OpenAI chat
// request body under cfg's routing, without calling any provider.
func Explain(cfg *configs.Config, namespace string, body []byte) (*Explanation, error) {
	req, err := normalize.DecodeOpenAI(body)
	if err != nil {
		return nil, err
	}
	route, err := newRouter(cfg).resolve(req.Model)
	if err != nil {
		return nil, err
	}
	if route.SharedNamespace != "" {
		namespace = sharedNamespace(route)
	}
	return explain(xxhash.Sum64, req, route, namespace), nil
}

// explain describes req's key in namespace (tenant or shared, already
// resolved), exactly as the chat handler derives it.
func explain(h cachekey.Hasher, req *normalize.Request, route Route, namespace string) *Explanation {
	k, canon := requestKey(h, req, route, namespace)
	return &Explanation{
		Model: req.Model, Route: route.Key(), Namespace: k.Namespace, Match: route.Match.Tag(),
		Key: k.String(), Digest: digestHex(k.Digest), Canonical: canon, Cacheable: route.CacheEnabled,
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

// explainHandler serves POST /v1/cache/explain: the canonical form and key
// of a request body under the caller's namespace, without calling upstream.
func (s *Server) explainHandler(c echo.Context) error {
	req, route, pol, err := s.parseChat(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, explain(s.hasher, req, route, s.namespace(c, route, pol)))
}
