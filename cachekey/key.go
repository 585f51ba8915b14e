// Package cachekey derives Ditto's cache keys from canonical request bytes.
//
// A Key names one cache entry: the server-derived namespace (tenant and
// sub-namespace), the resolved route (provider and upstream model), and a
// 64-bit xxhash of the canonical request bytes produced by package normalize.
// Because 64 bits can collide, every Key also carries a SHA-256 verification
// digest over all three inputs; stores keep the digest inside the entry and a
// reader treats a mismatch as a miss.
package cachekey

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Version is the key format and canonicalization rule version. Any change to
// normalize's canonical encoding, or to how keys are derived, must bump it so
// entries written under old rules are never served.
const Version = 1

// prefix starts every key string; it embeds Version.
var prefix = "ditto:v" + strconv.Itoa(Version) + ":"

// Hasher computes the 64-bit hash of canonical bytes. Tests inject weak
// hashers to force collisions.
type Hasher func([]byte) uint64

// Key identifies one cache entry. The zero Key is not valid.
type Key struct {
	Namespace string   // server-derived tenant scope, e.g. "default" or "acme/support"
	Route     string   // resolved route, e.g. "openai/gpt-4o-mini"
	Hash      uint64   // Hasher(canonical bytes)
	Digest    [32]byte // SHA-256 over namespace, route and canonical bytes
}

// New derives the key for canonical bytes with xxhash64.
func New(namespace, route string, canonical []byte) Key {
	return Derive(xxhash.Sum64, namespace, route, canonical)
}

// Derive derives a key using the given 64-bit hasher. The verification digest
// is always SHA-256, independent of h.
func Derive(h Hasher, namespace, route string, canonical []byte) Key {
	return Key{
		Namespace: namespace,
		Route:     route,
		Hash:      h(canonical),
		Digest:    digest(namespace, route, canonical),
	}
}

// digest length-prefixes each input so ("ab","c") and ("a","bc") differ.
func digest(namespace, route string, canonical []byte) [32]byte {
	var n [binary.MaxVarintLen64]byte
	h := sha256.New()
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(namespace)))])
	h.Write([]byte(namespace))
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(route)))])
	h.Write([]byte(route))
	h.Write(canonical)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// String renders the store key: "ditto:v1:<namespace>:<route>:<16 hex digits>".
// Namespace and route are escaped so that ':' and '%' cannot make two keys
// ambiguous. The string contains nothing secret.
func (k Key) String() string {
	var b strings.Builder
	b.Grow(len(prefix) + len(k.Namespace) + len(k.Route) + 18)
	b.WriteString(prefix)
	var sb [96]byte
	b.Write(k.AppendScope(sb[:0]))
	var hex [16]byte
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		hex[i] = digits[(k.Hash>>(uint(15-i)*4))&0xf]
	}
	b.Write(hex[:])
	return b.String()
}

// Prefix returns the store-key prefix shared by every entry of a namespace,
// or of a namespace and route when route is non-empty. Purges use it.
func Prefix(namespace, route string) string {
	b := append(make([]byte, 0, len(prefix)+len(namespace)+len(route)+2), prefix...)
	b = append(appendEscaped(b, namespace), ':')
	if route != "" {
		b = append(appendEscaped(b, route), ':')
	}
	return string(b)
}

// AppendScope appends the part of k's String() between the version prefix
// and the hash: the escaped namespace and route, each followed by ':'.
func (k Key) AppendScope(dst []byte) []byte {
	dst = appendEscaped(dst, k.Namespace)
	dst = append(dst, ':')
	dst = appendEscaped(dst, k.Route)
	return append(dst, ':')
}

// appendEscaped appends s with ':' (it separates fields), '%' and the
// glob characters (they would break SCAN MATCH purges) percent-encoded.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ':', '%', '*', '?', '[', ']', '\\':
			dst = append(dst, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
