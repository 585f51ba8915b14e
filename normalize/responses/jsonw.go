package responses

import (
	"bytes"
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// JSON writing and validation helpers shared by the decoder and the
// renderers. They append to caller-owned buffers and never reflect.

// appendString writes s as a JSON string, escaped as every JSON writer in
// normalize escapes (wirejson.AppendString).
func appendString(dst []byte, s string) []byte { return wirejson.AppendString(dst, s) }

// appendKey writes ,"name": (name must need no escaping).
func appendKey(dst []byte, name string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }

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
