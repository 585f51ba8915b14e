package responses

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// JSON writing and validation helpers shared by the decoder and the
// renderers. They append to caller-owned buffers and never reflect.

const hexDigits = "0123456789abcdef"

// needsEscape marks the ASCII bytes a JSON string cannot hold literally.
var needsEscape = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = true // looked at more closely: U+2028, U+2029 and invalid UTF-8
	}
	return t
}()

// appendString writes s as a JSON string: '"', '\\' and control characters
// escaped, U+2028 and U+2029 escaped (safe inside JavaScript), invalid UTF-8
// replaced by U+FFFD, everything else literal.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if !needsEscape[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
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
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendKey writes ,"name": (name must need no escaping).
func appendKey(dst []byte, name string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }

// checkText rejects what DecodeOpenAI rejects before parsing, for the same
// reasons (docs/normalization.md): invalid UTF-8, escapes fastjson would keep
// verbatim ("\x", short "\u") and unpaired UTF-16 surrogates. The decoder
// re-encodes strings on their way into the chat body, so these checks must
// run on the client's bytes.
func checkText(body []byte) error {
	if !utf8.Valid(body) {
		return &normalize.Error{Message: "The request body is not valid UTF-8."}
	}
	if bad, ok := wirejson.CheckEscapes(body); !ok {
		return &normalize.Error{Message: "We could not parse the JSON body of your request: invalid escape " + strconv.Quote(string(bad)) + " in a string."}
	}
	return nil
}

// duplicate reports the first member name that occurs twice in o. Objects the
// decoder interprets member by member are checked here; values copied into
// the chat body whole are checked again by normalize.DecodeOpenAI.
func duplicate(o *fastjson.Object) (string, bool) {
	n := o.Len()
	if n < 2 {
		return "", false
	}
	var buf [16][]byte
	keys := buf[:0]
	var dup []byte
	o.Visit(func(k []byte, _ *fastjson.Value) {
		if dup != nil {
			return
		}
		for _, seen := range keys {
			if string(seen) == string(k) {
				dup = k
				return
			}
		}
		keys = append(keys, k)
	})
	if dup != nil {
		return string(dup), true
	}
	return "", false
}

// intMember reads a non-negative integer member of a compact JSON object
// written by a machine (usage details as normalize stores them), without
// parsing the object. Absent or malformed: 0.
func intMember(obj []byte, name string) int {
	var key [48]byte
	k := append(append(append(key[:0], '"'), name...), '"', ':')
	i := bytes.Index(obj, k)
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range obj[i+len(k):] {
		if c == ' ' && n == 0 {
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		if n > 1<<40 {
			return 0
		}
	}
	return n
}
