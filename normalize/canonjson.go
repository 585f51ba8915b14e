package normalize

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Canonical JSON: objects with members sorted by key bytes (duplicates are an
// error), no insignificant whitespace, strings re-escaped one fixed way, and
// numbers in one spelling (integers in decimal, others in Go's shortest 'g'
// form). Inside JSON Schemas the members of "properties" keep their order,
// because structured outputs generate fields in schema order.

type jsonMode uint8

const (
	modePlain  jsonMode = iota
	modeSchema          // value is a JSON Schema
)

// appendCanonical appends the canonical JSON of v to dst.
func appendCanonical(dst []byte, v *fastjson.Value, mode jsonMode, param string) ([]byte, error) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		return appendCanonicalObject(dst, o, mode, false, param)
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendCanonical(dst, e, mode, param); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case fastjson.TypeString:
		return appendString(dst, string(v.GetStringBytes())), nil
	case fastjson.TypeNumber:
		return appendNumber(dst, v)
	case fastjson.TypeTrue:
		return append(dst, "true"...), nil
	case fastjson.TypeFalse:
		return append(dst, "false"...), nil
	default:
		return append(dst, "null"...), nil
	}
}

type member struct {
	key string
	val *fastjson.Value
}

func appendCanonicalObject(dst []byte, o *fastjson.Object, mode jsonMode, keepOrder bool, param string) ([]byte, error) {
	members := make([]member, 0, o.Len())
	o.Visit(func(k []byte, v *fastjson.Value) {
		members = append(members, member{string(k), v})
	})
	if !keepOrder {
		slices.SortStableFunc(members, func(a, b member) int { return cmpString(a.key, b.key) })
		for i := 1; i < len(members); i++ {
			if members[i].key == members[i-1].key {
				return nil, invalid(param, "duplicate key %q", members[i].key)
			}
		}
	} else if hasDuplicate(members) {
		return nil, invalid(param, "duplicate key in object")
	}
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, m.key)
		dst = append(dst, ':')
		var err error
		if mode == modeSchema && m.key == "properties" && !keepOrder && m.val.Type() == fastjson.TypeObject {
			// Members of "properties" are property schemas, in generation order.
			po, _ := m.val.Object()
			dst, err = appendCanonicalObject(dst, po, modeSchema, true, param)
		} else {
			dst, err = appendCanonical(dst, m.val, mode, param)
		}
		if err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

func hasDuplicate(ms []member) bool {
	if len(ms) < 2 {
		return false
	}
	seen := make(map[string]struct{}, len(ms))
	for _, m := range ms {
		if _, ok := seen[m.key]; ok {
			return true
		}
		seen[m.key] = struct{}{}
	}
	return false
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendNumber writes a JSON number in its canonical spelling.
func appendNumber(dst []byte, v *fastjson.Value) ([]byte, error) {
	raw := v.MarshalTo(nil)
	if isIntLiteral(raw) {
		if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return strconv.AppendInt(dst, i, 10), nil
		}
		// Out of int64 range: the literal itself is already canonical
		// except for a leading "-0", which isIntLiteral excludes.
		return append(dst, raw...), nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, invalid("", "number %s out of range", raw)
	}
	return appendFloat(dst, f), nil
}

func appendFloat(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

func isIntLiteral(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	s := b
	if s[0] == '-' {
		s = s[1:]
		if len(s) == 1 && s[0] == '0' {
			return false // "-0" → canonical "0" via the float path
		}
	}
	if len(s) == 0 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string: '"', '\\' and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, everything else literal.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// Escaped so the output is also safe to embed in JavaScript.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// digestString returns "sha256:<hex>" of s; inline media is keyed by it.
func digestString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// isInline reports whether a URL carries its bytes inline (data: URL).
func isInline(url string) bool {
	return len(url) >= 5 && bytes.EqualFold([]byte(url[:5]), []byte("data:"))
}
