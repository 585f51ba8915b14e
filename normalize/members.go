package normalize

import "strconv"

// Member writers shared by the canonical form (canonical.go) and the
// OpenAI wire encoder (encode.go). Each appends `,"name":value`, and the
// optional ones nothing when the value is absent, so both writers say
// what they emit and not how.

// appendKey writes ,"name": for a parameter.
func appendKey(dst []byte, name string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

// AppendMembers writes ,"name":value for each field, in order (a request's
// or message's Extra, passed on as the client sent it).
func AppendMembers(dst []byte, fs []Field) []byte {
	for _, f := range fs {
		dst = append(dst, ',')
		dst = appendString(dst, f.Name)
		dst = append(dst, ':')
		dst = append(dst, f.Value...)
	}
	return dst
}

// appendOptString writes key (a `,"name":` literal) and v as a JSON string
// when v is not empty.
func appendOptString(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return appendString(append(dst, key...), v)
}

// appendOptRaw writes key (a `,"name":` literal) and v verbatim when v is
// not nil.
func appendOptRaw(dst []byte, key string, v []byte) []byte {
	if v == nil {
		return dst
	}
	return append(append(dst, key...), v...)
}

func appendFloatMember(dst []byte, name string, v *float64) []byte {
	if v == nil {
		return dst
	}
	return appendFloat(appendKey(dst, name), *v)
}

func appendIntMember(dst []byte, name string, v *int) []byte {
	if v == nil {
		return dst
	}
	return strconv.AppendInt(appendKey(dst, name), int64(*v), 10)
}

func appendInt64Member(dst []byte, name string, v *int64) []byte {
	if v == nil {
		return dst
	}
	return strconv.AppendInt(appendKey(dst, name), *v, 10)
}

func appendBoolMember(dst []byte, name string, v *bool) []byte {
	if v == nil {
		return dst
	}
	return strconv.AppendBool(appendKey(dst, name), *v)
}

func appendStringMember(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	return appendString(appendKey(dst, name), v)
}

func appendRawMember(dst []byte, name string, v []byte) []byte {
	if v == nil {
		return dst
	}
	return append(appendKey(dst, name), v...)
}

// appendStringsMember writes ,"name":[...] when v is not empty.
func appendStringsMember(dst []byte, name string, v []string) []byte {
	if len(v) == 0 {
		return dst
	}
	return appendEach(appendKey(dst, name), "[", v, func(dst []byte, s *string) []byte {
		return appendString(dst, *s)
	})
}

// appendEach writes open, then each element of xs by f, comma-separated,
// then ']'.
func appendEach[T any](dst []byte, open string, xs []T, f func([]byte, *T) []byte) []byte {
	dst = append(dst, open...)
	for i := range xs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = f(dst, &xs[i])
	}
	return append(dst, ']')
}

// appendToolChoice writes ,"tool_choice": with an object verbatim and a
// mode ("auto", "none", "required") as a string.
func appendToolChoice(dst []byte, v string) []byte {
	dst = append(dst, `,"tool_choice":`...)
	if v[0] == '{' {
		return append(dst, v...)
	}
	return appendString(dst, v)
}

// appendToolSpec writes the members a function tool shares in both forms:
// description, parameters and strict, each when present.
func appendToolSpec(dst []byte, t *Tool) []byte {
	dst = appendOptString(dst, `,"description":`, t.Description)
	dst = appendOptRaw(dst, `,"parameters":`, t.Parameters)
	return appendBoolMember(dst, "strict", t.Strict)
}
