package normalize

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// Canonical JSON, as used for every JSON value Ditto does not model field by
// field (unknown fields, tool schemas, response_format, logit_bias, ...):
//
//   - objects have their members sorted by the UTF-8 bytes of their names;
//     a duplicate name is an error;
//   - inside JSON Schemas (schema mode), the members of a "properties" object
//     keep the client's order, because structured outputs and guided decoding
//     generate fields in schema order; the data keywords "enum", "const",
//     "default" and "examples" are plain values again;
//   - no insignificant whitespace;
//   - strings are written one fixed way (see appendString);
//   - numbers are exact decimals in one spelling (see appendDecimal): 1, 1.0,
//     10e-1 and 1E0 are all written 1, while 0.1 and 0.10000000000000001 stay
//     distinct because they are different numbers as written.

type jsonMode uint8

const (
	modePlain  jsonMode = iota
	modeSchema          // value is, or may contain, a JSON Schema
)

// canonWriter holds scratch space reused across the values of one request,
// so canonicalization allocates nothing per number or object.
type canonWriter struct {
	num    []byte // a number literal
	digits []byte // its significant digits
}

func (w *canonWriter) value(dst []byte, v *fastjson.Value, mode jsonMode) ([]byte, error) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		return w.object(dst, o, mode, false)
	case fastjson.TypeArray:
		a, _ := v.Array()
		var err error
		dst, _ = wirejson.AppendArray(dst, a, func(dst []byte, _ int, e *fastjson.Value) ([]byte, bool) {
			dst, err = w.value(dst, e, mode)
			return dst, err == nil
		})
		if err != nil {
			return nil, err
		}
		return dst, nil
	case fastjson.TypeString:
		return appendStringBytes(dst, v.GetStringBytes()), nil
	case fastjson.TypeNumber:
		return w.number(dst, v)
	case fastjson.TypeTrue:
		return append(dst, "true"...), nil
	case fastjson.TypeFalse:
		return append(dst, "false"...), nil
	default:
		return append(dst, "null"...), nil
	}
}

// member is one object member during canonicalization. The key aliases the
// parser's buffer, which outlives the call.
type member struct {
	key []byte
	val *fastjson.Value
}

// smallObject is the member count handled without heap allocation.
const smallObject = 16

func (w *canonWriter) object(dst []byte, o *fastjson.Object, mode jsonMode, keepOrder bool) ([]byte, error) {
	var buf [smallObject]member
	members := buf[:0]
	if o.Len() > smallObject {
		members = make([]member, 0, o.Len())
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		members = append(members, member{k, v})
	})
	if keepOrder {
		if k, dup := duplicateKey(members); dup {
			return nil, &Error{Message: "duplicate key " + strconv.Quote(string(k))}
		}
	} else {
		sortMembers(members)
		for i := 1; i < len(members); i++ {
			if bytes.Equal(members[i].key, members[i-1].key) {
				return nil, &Error{Message: "duplicate key " + strconv.Quote(string(members[i].key))}
			}
		}
	}
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendStringBytes(dst, m.key)
		dst = append(dst, ':')
		var err error
		switch {
		case mode == modeSchema && !keepOrder && string(m.key) == "properties" && m.val.Type() == fastjson.TypeObject:
			// Members of "properties" are property schemas, in generation order.
			po, _ := m.val.Object()
			dst, err = w.object(dst, po, modeSchema, true)
		case mode == modeSchema && !keepOrder && isSchemaDataKeyword(m.key):
			dst, err = w.value(dst, m.val, modePlain)
		default:
			dst, err = w.value(dst, m.val, mode)
		}
		if err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// isSchemaDataKeyword reports JSON Schema keywords whose values are data,
// not schemas: their objects are plain JSON, sorted like any other.
func isSchemaDataKeyword(k []byte) bool {
	switch string(k) {
	case "enum", "const", "default", "examples":
		return true
	}
	return false
}

// sortMembers sorts by key bytes: insertion sort for the common small
// objects (no allocation, no closure), slices.SortFunc for large ones.
func sortMembers(ms []member) {
	if len(ms) > smallObject {
		slices.SortFunc(ms, func(a, b member) int { return bytes.Compare(a.key, b.key) })
		return
	}
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && bytes.Compare(ms[j].key, ms[j-1].key) < 0; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// duplicateKey reports a key that occurs twice, without reordering ms.
func duplicateKey(ms []member) ([]byte, bool) {
	if len(ms) <= smallObject {
		for i := 1; i < len(ms); i++ {
			for j := 0; j < i; j++ {
				if bytes.Equal(ms[i].key, ms[j].key) {
					return ms[i].key, true
				}
			}
		}
		return nil, false
	}
	keys := make([][]byte, len(ms))
	for i := range ms {
		keys[i] = ms[i].key
	}
	slices.SortFunc(keys, bytes.Compare)
	for i := 1; i < len(keys); i++ {
		if bytes.Equal(keys[i], keys[i-1]) {
			return keys[i], true
		}
	}
	return nil, false
}

// objectDuplicate reports a member name that occurs twice in o. Decoders
// that read objects member by member use it: fastjson's Get returns the
// first of two equal names while other parsers take the last, so duplicates
// are rejected rather than guessed at.
func objectDuplicate(o *fastjson.Object) ([]byte, bool) {
	if o.Len() < 2 {
		return nil, false
	}
	var buf [smallObject]member
	ms := buf[:0]
	if o.Len() > smallObject {
		ms = make([]member, 0, o.Len())
	}
	o.Visit(func(k []byte, v *fastjson.Value) { ms = append(ms, member{k, v}) })
	return duplicateKey(ms)
}

func cmpString(a, b string) int { return strings.Compare(a, b) }

// decimal is an exactly parsed JSON number: (-1)^neg × 0.digits × 10^point.
// digits has no leading or trailing zeros; it is empty for zero.
type decimal struct {
	neg    bool
	digits []byte
	point  int // position of the decimal point relative to the digits
}

// maxExponent bounds exponents so that point arithmetic cannot overflow.
const maxExponent = 1 << 30

// parseDecimal parses a JSON number exactly, enforcing RFC 8259's grammar
// (fastjson's parser is lenient: it accepts 01, 1., .5, +1 and NaN). buf is
// scratch space for the digits.
func parseDecimal(s []byte, buf []byte) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	// Integer part: 0 or [1-9][0-9]*.
	start := i
	if i < len(s) && s[i] == '0' {
		i++
	} else {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i == start {
		return d, false
	}
	digits := buf[:0]
	point := 0
	for _, c := range s[start:i] {
		if c == '0' && len(digits) == 0 {
			continue // leading zero
		}
		digits = append(digits, c)
		point++
	}
	if i < len(s) && s[i] == '.' {
		i++
		fstart := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if c := s[i]; c == '0' && len(digits) == 0 {
				point-- // 0.00x: shifts the point, adds no digit
			} else {
				digits = append(digits, c)
			}
			i++
		}
		if i == fstart {
			return d, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		estart := i
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if exp < maxExponent {
				exp = exp*10 + int(s[i]-'0')
			}
			i++
		}
		if i == estart || exp >= maxExponent {
			return d, false
		}
		if eneg {
			exp = -exp
		}
		point += exp
	}
	if i != len(s) {
		return d, false
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return decimal{}, true // -0, 0.0 and 0e5 are all zero
	}
	d.digits, d.point = digits, point
	return d, true
}

// appendDecimal writes d in the layout of ECMAScript's Number::toString
// (RFC 8785), applied to the exact digits: plain integers up to 21 digits,
// plain fractions down to 1e-6, exponent notation beyond.
func appendDecimal(dst []byte, d decimal) []byte {
	if len(d.digits) == 0 {
		return append(dst, '0')
	}
	if d.neg {
		dst = append(dst, '-')
	}
	k, n := len(d.digits), d.point
	switch {
	case k <= n && n <= 21:
		dst = append(dst, d.digits...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, d.digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, d.digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, d.digits...)
	default:
		dst = append(dst, d.digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, d.digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

// integer returns d as an int64 if it is an integer in range.
func (d decimal) integer() (int64, bool) {
	if len(d.digits) == 0 {
		return 0, true
	}
	if d.point < len(d.digits) || d.point > 19 {
		return 0, false
	}
	var u uint64
	for i := range d.point {
		c := byte('0')
		if i < len(d.digits) {
			c = d.digits[i]
		}
		u = u*10 + uint64(c-'0')
	}
	if d.neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// appendNumber writes a JSON number in its canonical spelling.
func appendNumber(dst []byte, v *fastjson.Value) ([]byte, error) {
	var w canonWriter
	return w.number(dst, v)
}

// decimal parses the number v exactly; ok is false for anything outside
// JSON's number grammar. The result aliases w's scratch space.
func (w *canonWriter) decimal(v *fastjson.Value) (d decimal, lit []byte, ok bool) {
	if v.Type() != fastjson.TypeNumber {
		return decimal{}, nil, false
	}
	w.num = v.MarshalTo(w.num[:0])
	d, ok = parseDecimal(w.num, w.digits[:0])
	if ok {
		w.digits = d.digits[:0]
	}
	return d, w.num, ok
}

func (w *canonWriter) number(dst []byte, v *fastjson.Value) ([]byte, error) {
	d, lit, ok := w.decimal(v)
	if !ok {
		return nil, &Error{Message: "invalid number " + strconv.Quote(string(lit))}
	}
	return appendDecimal(dst, d), nil
}

// appendFloat writes f in the same spelling appendNumber gives the shortest
// decimal that parses back to f. f must be finite.
func appendFloat(dst []byte, f float64) []byte {
	var buf [32]byte
	var dbuf [32]byte
	d, _ := parseDecimal(strconv.AppendFloat(buf[:0], f, 'e', -1, 64), dbuf[:0])
	return appendDecimal(dst, d)
}

// appendString writes s as a JSON string, escaped as wirejson.AppendString
// escapes (invalid UTF-8 becomes U+FFFD: DecodeOpenAI rejects it, so that
// only concerns Requests built in Go).
func appendString(dst []byte, s string) []byte { return wirejson.AppendString(dst, s) }

// appendStringBytes is appendString for a byte slice, through a read-only
// view: s is neither kept nor modified.
func appendStringBytes(dst []byte, s []byte) []byte {
	return appendString(dst, unsafe.String(unsafe.SliceData(s), len(s)))
}

// appendDigest writes the lowercase hex SHA-256 of s as a JSON string.
// Inline media is keyed by it, so payloads of any size cost 64 bytes.
func appendDigest(dst []byte, s string) []byte {
	// A read-only view: hashing a multi-megabyte data URL should not copy it.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(s), len(s)))
	dst = append(dst, '"')
	dst = hex.AppendEncode(dst, sum[:])
	return append(dst, '"')
}

// isInline reports whether a URL carries its bytes inline (a data: URL).
func isInline(url string) bool {
	return len(url) >= 5 && strings.EqualFold(url[:5], "data:")
}
