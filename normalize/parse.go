package normalize

import (
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Parsing a request body, shared by every dialect's decoder: the same
// checks before parsing, the same errors, one parser pool per package.

// CheckJSONText rejects what DecodeOpenAI rejects before parsing a body:
// invalid UTF-8, string escapes other than JSON's, and unpaired UTF-16
// surrogates (fastjson would otherwise decode "\x" and "\\x" to the same
// text). Errors are *Error values wrapping ErrInvalid.
func CheckJSONText(body []byte) error {
	if !utf8.Valid(body) {
		return invalid("", "The request body is not valid UTF-8.")
	}
	return checkEscapes(body)
}

// ParseObject checks body as every decoder checks a request body
// (CheckJSONText), parses it with p and returns its top-level object. The
// object lives in p: it is valid until p is reused or returned to its pool.
// Errors are *Error values with an empty Param.
func ParseObject(p *fastjson.Parser, body []byte) (*fastjson.Object, error) {
	if err := CheckJSONText(body); err != nil {
		return nil, err
	}
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, invalid("", "We could not parse the JSON body of your request: %v", err)
	}
	obj, err := v.Object()
	if err != nil {
		return nil, invalid("", "The request body must be a JSON object.")
	}
	return obj, nil
}

// DecodeObject parses body with a parser from pool, as ParseObject does,
// and hands its top-level object to use, returning use's error. The
// object is only valid during use.
func DecodeObject(pool *fastjson.ParserPool, body []byte, use func(*fastjson.Object) error) error {
	p := pool.Get()
	defer pool.Put(p)
	obj, err := ParseObject(p, body)
	if err != nil {
		return err
	}
	return use(obj)
}

// DecodeTranslated decodes a request of a dialect that translates into
// chat completions (Anthropic Messages, legacy completions): it parses
// body (DecodeObject), has translate write the equivalent chat-completions
// body, and decodes that with DecodeOpenAI, so the dialect's body is
// checked as strictly as a chat body. translate's errors are returned as
// they are; mapErr turns DecodeOpenAI's, which name chat parameters, into
// the dialect's.
func DecodeTranslated(pool *fastjson.ParserPool, body []byte, translate func(*fastjson.Object) ([]byte, error), mapErr func(error) error) (*Request, error) {
	var chat []byte
	err := DecodeObject(pool, body, func(obj *fastjson.Object) (err error) {
		chat, err = translate(obj)
		return err
	})
	if err != nil {
		return nil, err
	}
	req, err := DecodeOpenAI(chat)
	if err != nil {
		return nil, mapErr(err)
	}
	return req, nil
}
