// Package wirejson writes JSON for the dialect codecs (normalize/messages,
// normalize/completions): strings escaped one way, values re-encoded from a
// parse with the same strictness normalize.DecodeOpenAI applies to a body.
//
// The codecs translate a client's body into another wire form and decode
// that with normalize, so anything the translation re-encodes must be
// checked first: fastjson keeps invalid escapes ("\x") as text, reads
// numbers leniently ("01", "NaN") and keeps duplicate member names, and a
// re-encoding would otherwise turn each into something valid that another
// spelling also produces.
package wirejson

import (
	"bytes"
	"math/bits"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
)

const hexDigits = "0123456789abcdef"

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// AppendString appends s as a JSON string, the one escaping every JSON
// writer in normalize uses (the canonical form, the dialect codecs and
// the renderers): '"', '\\' and control characters escaped (\n, \r, \t,
// others as \u00XX), U+2028 and U+2029 escaped (so the output is also
// safe inside JavaScript), invalid UTF-8 replaced by U+FFFD, everything
// else literal.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendStringContent(dst, s)
	return append(dst, '"')
}

// AppendStringContent is AppendString without the quotes, for a string
// written in pieces (a data: URL assembled from a media type and data).
func AppendStringContent(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Skip 8 bytes at a time while none is a control character, '"',
		// '\\' or non-ASCII (SWAR: a per-byte test on one uint64).
		for ; i+8 <= len(s); i += 8 {
			w := s[i : i+8]
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			q, b := x^(lsb*'"'), x^(lsb*'\\')
			if t := ((x-lsb*0x20)&^x | (q-lsb)&^q | (b-lsb)&^b | x) & msb; t != 0 {
				// The lowest flagged byte is exact (borrows only
				// propagate upwards): go straight to it.
				i += bits.TrailingZeros64(t) >> 3
				break
			}
		}
		if i >= len(s) {
			break
		}
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
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// FirstErr keeps the first error a decoder's walk meets; the walk goes on
// or stops as the decoder chooses, but reports that one.
type FirstErr struct{ Err error }

// Fail records err unless an error is recorded already.
func (f *FirstErr) Fail(err error) {
	if f.Err == nil {
		f.Err = err
	}
}

// Comma separates the elements of a list written piece by piece: Next
// writes ',' before every element but the first.
type Comma int

// Next writes the separator due before the next element.
func (c *Comma) Next(dst []byte) []byte {
	if *c > 0 {
		dst = append(dst, ',')
	}
	*c++
	return dst
}

// AppendStringBytes is AppendString for a byte slice, through a read-only
// view: s is neither kept nor modified.
func AppendStringBytes(dst []byte, s []byte) []byte {
	return AppendString(dst, unsafe.String(unsafe.SliceData(s), len(s)))
}

// Error is a value that cannot be re-encoded: Path is the dotted path of
// the offending member below the value ("" for the value itself, ".a.0"
// for the first element of member a).
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string { return e.Path + ": " + e.Message }

// AppendValue appends v as compact JSON, member order and number
// spellings kept. It fails on a duplicate member name in any object and on
// a number outside RFC 8259's grammar. Strings are escaped as AppendString
// does; the input's escapes must have been checked with CheckEscapes.
func AppendValue(dst []byte, v *fastjson.Value) ([]byte, error) {
	w := writer{strict: true}
	dst = w.value(dst, v)
	if w.err != nil {
		return dst, w.err
	}
	return dst, nil
}

// AppendValueAsIs is AppendValue without the checks: duplicate members and
// numbers are kept as they are, for a decoder further on to reject.
func AppendValueAsIs(dst []byte, v *fastjson.Value) []byte {
	var w writer
	return w.value(dst, v)
}

// writer re-encodes one value. The path of a failure is built while the
// recursion unwinds, so the success path keeps no stack of names.
type writer struct {
	strict bool // fail on duplicate members and invalid numbers
	err    *Error
}

func (w *writer) fail(msg string) {
	if w.err == nil {
		w.err = &Error{Message: msg}
	}
}

// under prefixes the failure's path with one segment.
func (w *writer) under(seg string) {
	w.err.Path = "." + seg + w.err.Path
}

func (w *writer) value(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		if k, dup := Duplicate(o); dup && w.strict {
			w.fail("duplicate key " + strconv.Quote(k))
			return dst
		}
		dst = append(dst, '{')
		first := true
		o.Visit(func(k []byte, e *fastjson.Value) {
			if w.err != nil {
				return
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = AppendStringBytes(dst, k)
			dst = append(dst, ':')
			dst = w.value(dst, e)
			if w.err != nil {
				w.under(string(k))
			}
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst, _ = AppendArray(dst, a, func(dst []byte, i int, e *fastjson.Value) ([]byte, bool) {
			dst = w.value(dst, e)
			if w.err != nil {
				w.under(strconv.Itoa(i))
				return dst, false
			}
			return dst, true
		})
		return dst
	case fastjson.TypeString:
		return AppendStringBytes(dst, v.GetStringBytes())
	case fastjson.TypeNumber:
		start := len(dst)
		dst = v.MarshalTo(dst) // the number as written
		if w.strict && !ValidNumber(dst[start:]) {
			w.fail("invalid number " + strconv.Quote(string(dst[start:])))
		}
		return dst
	default:
		return v.MarshalTo(dst) // true, false, null
	}
}

// AppendArray writes the elements of a as a JSON array, each written by
// each; it stops, leaving the array unclosed and returning false, at the
// first element for which each returns false. The JSON writers that walk a
// parsed value (here, and normalize's canonical form) share it.
func AppendArray(dst []byte, a []*fastjson.Value, each func(dst []byte, i int, e *fastjson.Value) ([]byte, bool)) ([]byte, bool) {
	dst = append(dst, '[')
	for i, e := range a {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = each(dst, i, e); !ok {
			return dst, false
		}
	}
	return append(dst, ']'), true
}

// ValidNumber reports whether b is a number in RFC 8259's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func ValidNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if n := digits(b, i); n > i {
			i = n
		} else {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if n := digits(b, i); n > i {
			i = n
		} else {
			return false
		}
	}
	return i == len(b)
}

// digits returns the index of the first byte at or after i in b that is
// not an ASCII digit.
func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Duplicate returns a member name that occurs twice in o.
func Duplicate(o *fastjson.Object) (string, bool) {
	n := o.Len()
	if n < 2 {
		return "", false
	}
	var buf [16][]byte
	keys := buf[:0]
	if n > len(buf) {
		keys = make([][]byte, 0, n)
	}
	o.Visit(func(k []byte, _ *fastjson.Value) { keys = append(keys, k) })
	if n <= len(buf) {
		for i := 1; i < len(keys); i++ {
			for j := 0; j < i; j++ {
				if bytes.Equal(keys[i], keys[j]) {
					return string(keys[i]), true
				}
			}
		}
		return "", false
	}
	seen := make(map[string]struct{}, n)
	for _, k := range keys {
		if _, ok := seen[string(k)]; ok {
			return string(k), true
		}
		seen[string(k)] = struct{}{}
	}
	return "", false
}

// CheckEscapes returns the text around the first string escape that is not
// one of \" \\ \/ \b \f \n \r \t \uXXXX, or that is an unpaired UTF-16
// surrogate; ok is true when there is none. Backslashes only occur inside
// strings in valid JSON, so a scan of the whole body is enough.
func CheckEscapes(body []byte) (bad []byte, ok bool) {
	for i := 0; ; {
		j := bytes.IndexByte(body[i:], '\\')
		if j < 0 {
			return nil, true
		}
		at := i + j
		i = at + 1
		badAt := body[at:min(at+12, len(body))]
		if i >= len(body) {
			return badAt, false
		}
		switch body[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			r, ok := hex4(body[i+1:])
			if !ok {
				return badAt, false
			}
			i += 5
			if r < 0xD800 || r > 0xDFFF {
				continue
			}
			if r >= 0xDC00 || i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
				return badAt, false
			}
			if r2, ok := hex4(body[i+2:]); !ok || r2 < 0xDC00 || r2 > 0xDFFF {
				return badAt, false
			}
			i += 6
		default:
			return badAt, false
		}
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// Int reads an integer number, accepting any integral spelling (2, 2.0,
// 2e0) as normalize does for integer parameters; ok is false for anything
// else, fractions and values outside int32 included. scratch is working
// space, returned grown for reuse.
func Int(scratch []byte, v *fastjson.Value) (n int, ok bool, _ []byte) {
	if v == nil || v.Type() != fastjson.TypeNumber {
		return 0, false, scratch
	}
	b := v.MarshalTo(scratch[:0])
	n, ok = parseInt(b)
	return n, ok, b
}

func parseInt(b []byte) (int, bool) {
	if !ValidNumber(b) {
		return 0, false
	}
	if i, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(b), len(b)), 10, 32); err == nil {
		return int(i), true
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil || f != float64(int32(f)) {
		return 0, false
	}
	return int(f), true
}
