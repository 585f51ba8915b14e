package cache

import (
	"strings"
	"sync"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
)

// Scope is where a request's entries live: the namespace part of its key,
// derived on the server from the authenticated caller (never from the
// request body).
type Scope struct {
	// Tenant is the authenticated tenant, or the configured default
	// namespace for an open gateway.
	Tenant string
	// Sub is the caller's X-Ditto-Namespace, a sub-namespace within the
	// tenant ("" for none).
	Sub string
	// Shared, when set, is the route's shared namespace: an explicit
	// opt-in to sharing entries across tenants, replacing Tenant and Sub.
	Shared string
	// Match is the route's looser matching (ignored fields, trailing
	// white space); its tag keeps loose entries apart from strict ones.
	Match normalize.Options
}

// SharedPrefix starts shared namespaces. Tenant names and sub-namespaces
// are letters, digits, '.', '_' and '-' (configs.ValidName), so a tenant
// namespace can never collide with a shared one.
const SharedPrefix = "@shared/"

// Namespace is the key namespace of s: tenant[/sub] or @shared/NAME, then
// "/" and the matching tag under loose matching (tags contain ':', which
// names cannot, so the two never collide).
func (s Scope) Namespace() string {
	ns := s.Tenant
	switch {
	case s.Shared != "":
		ns = SharedPrefix + s.Shared
	case s.Sub != "":
		ns = s.Tenant + "/" + s.Sub
	}
	if tag := s.Match.Tag(); tag != "" {
		return ns + "/" + tag
	}
	return ns
}

// NamespacePrefixes are the store-key prefixes of everything under a
// namespace (a tenant, tenant/sub, or @shared/NAME): its own entries and
// those of every namespace below it (a tenant's sub-namespaces, loose-
// matching tags). Purging a tenant purges all it owns.
func NamespacePrefixes(ns string) []string {
	return []string{cachekey.Prefix(ns, ""), strings.TrimSuffix(cachekey.Prefix(ns+"/", ""), ":")}
}

// RoutePrefix is the store-key prefix of a route's entries in a namespace
// (a tenant or @shared/NAME) under the route's matching: routes that share
// an upstream model but match differently keep their entries apart.
func RoutePrefix(ns string, match normalize.Options, route string) string {
	if tag := match.Tag(); tag != "" {
		ns += "/" + tag
	}
	return cachekey.Prefix(ns, route)
}

// canonPool recycles canonical-form buffers: keys only hash them.
var canonPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// Key derives the cache key of req in scope on route ("provider/upstream
// model": aliases of one upstream model share entries). h nil selects
// xxhash64.
func Key(h cachekey.Hasher, req *normalize.Request, scope Scope, route string) cachekey.Key {
	bp := canonPool.Get().(*[]byte)
	canon := normalize.AppendCanonicalWith((*bp)[:0], req, scope.Match)
	k := derive(h, scope.Namespace(), route, canon)
	if cap(canon) <= 1<<20 { // do not pin huge buffers
		*bp = canon[:0]
		canonPool.Put(bp)
	}
	return k
}

// KeyCanonical is Key that also returns the canonical bytes it hashed (for
// explanations).
func KeyCanonical(h cachekey.Hasher, req *normalize.Request, scope Scope, route string) (cachekey.Key, []byte) {
	canon := normalize.CanonicalWith(req, scope.Match)
	return derive(h, scope.Namespace(), route, canon), canon
}

func derive(h cachekey.Hasher, ns, route string, canon []byte) cachekey.Key {
	if h == nil {
		return cachekey.New(ns, route, canon)
	}
	return cachekey.Derive(h, ns, route, canon)
}
