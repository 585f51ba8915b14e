// Package completions is Ditto's codec for OpenAI's legacy text
// completions API (POST /v1/completions), which vLLM and other
// OpenAI-compatible servers still serve: it decodes a request into the
// canonical normalize.Request and renders canonical answers as
// text_completion objects and streams.
//
// A raw prompt is not a chat: completions requests are keyed within their
// own dialect (Request.Dialect "completions"), with the members chat cannot
// say (prompt, echo, suffix, best_of, logprobs) in Request.DialectFields.
// The generation parameters both APIs share are decoded by
// normalize.DecodeOpenAI, so they follow chat's equivalence rules.
// Providers that cannot speak legacy completions can serve a single text
// prompt as a one-message chat: Portable makes that request.
//
// Everything here is a pure function of its input and safe for concurrent
// use.
package completions

import (
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// Dialect is the Request.Dialect of a legacy completions request.
const Dialect = "completions"

// DefaultMaxTokens is the legacy API's default output limit: a request
// without max_tokens gets at most 16 tokens.
const DefaultMaxTokens = 16

// Limits of the legacy API.
const (
	MaxLogprobs = 5
	MaxBestOf   = 20
)

// Names of the DialectFields a completions Request may carry.
const (
	FieldBestOf   = "best_of"
	FieldEcho     = "echo"
	FieldLogprobs = "logprobs"
	FieldPrompt   = "prompt"
	FieldSuffix   = "suffix"
)

var parserPool fastjson.ParserPool

// Decode decodes a legacy completions request body into its canonical
// form. Errors wrap normalize.ErrInvalid as *normalize.Error naming the
// offending member; the body is checked as strictly as DecodeOpenAI
// checks a chat body. The returned Request does not alias body.
//
// The Request has Dialect "completions" and DialectFields (sorted, each a
// canonical JSON value; defaults left out):
//
//   - prompt: a string, an array of strings, an array of token ids, or an
//     array of token-id arrays; a one-element batch is its element
//     (["x"] is "x", [[1,2]] is [1,2]);
//   - echo: true (false is the default); suffix: a string; best_of: an
//     integer n..20 (1 is the default); logprobs: an integer 0..5.
//
// Shared parameters (temperature, top_p, n, max_tokens, stop, penalties,
// logit_bias, seed, user, stream, stream_options, and vLLM's
// response_format) are in Params as chat has them; max_tokens 16 is the
// default and left out, max_tokens 0 (prompt scoring with echo) is kept.
// Other unknown members are kept in Extra, as chat keeps them. Messages is
// the prompt as one user message when the prompt is one string, and empty
// otherwise.
func Decode(body []byte) (*normalize.Request, error) {
	d := decoders.Get().(*decoder)
	defer d.release()
	req, err := normalize.DecodeTranslated(&parserPool, body, d.translate, promptError)
	if err != nil {
		return nil, err
	}
	if !d.single {
		req.Messages = nil // the placeholder turn: the prompt is not text
	}
	if d.zeroTokens {
		zero := 0
		req.Params.MaxTokens = &zero
	}
	req.MaxTokensField = "max_tokens"
	if n := 1; req.Params.N != nil {
		n = *req.Params.N
		if d.bestOf > 0 && d.bestOf < n {
			return nil, invalid(FieldBestOf, "best_of must be greater than or equal to n")
		}
	}
	req.Dialect = Dialect
	req.DialectFields = d.fields()
	return req, nil
}

func invalid(param, format string, args ...any) error {
	return normalize.Invalid(param, format, args...)
}

// decoder writes the chat body and collects the dialect fields of one
// request.
type decoder struct {
	out    []byte // the chat body
	prompt []byte // canonical JSON of the prompt
	scr    []byte // scratch for numbers
	single bool   // the prompt is one string
	echo   bool
	suffix []byte // canonical JSON string, nil when absent
	bestOf int    // 0 when absent or the default
	logp   int    // -1 when absent
	// zeroTokens is max_tokens 0, which chat cannot say.
	zeroTokens bool
	wirejson.FirstErr
}

var decoders = sync.Pool{New: func() any { return &decoder{out: make([]byte, 0, 1024)} }}

func (d *decoder) release() {
	if cap(d.out) > 256<<10 {
		d.out = make([]byte, 0, 1024)
	}
	if cap(d.prompt) > 256<<10 {
		d.prompt = nil
	}
	*d = decoder{out: d.out[:0], prompt: d.prompt[:0], scr: d.scr[:0]}
	decoders.Put(d)
}

// Chat members the legacy API does not have: passed through they would
// take their chat meaning.
var chatOnly = map[string]bool{
	"messages": true, "tools": true, "tool_choice": true, "parallel_tool_calls": true, "functions": true,
	"function_call": true, "max_completion_tokens": true, "top_logprobs": true, "modalities": true,
	"audio": true, "prediction": true, "reasoning_effort": true, "verbosity": true, "service_tier": true,
	"store": true, "metadata": true, "safety_identifier": true, "prompt_cache_key": true, "prompt_cache_retention": true,
}

// translate writes the chat body for obj.
func (d *decoder) translate(obj *fastjson.Object) ([]byte, error) {
	err := d.top(obj)
	return d.out, err
}

// promptError names the prompt in an error about the chat body's one
// user message, which carries it.
func promptError(err error) error {
	if e, ok := err.(*normalize.Error); ok && strings.HasPrefix(e.Param, "messages") {
		return &normalize.Error{Param: FieldPrompt, Message: e.Message}
	}
	return err
}

func (d *decoder) top(obj *fastjson.Object) error {
	if k, dup := wirejson.Duplicate(obj); dup {
		return invalid(k, "duplicate key %q", k)
	}
	d.logp = -1
	var model, prompt, maxTokens *fastjson.Value
	obj.Visit(func(kb []byte, v *fastjson.Value) {
		if d.Err != nil || v.Type() == fastjson.TypeNull {
			return // null means "not sent"
		}
		switch k := string(kb); k {
		case "model":
			model = v
		case FieldPrompt:
			prompt = v
		case "max_tokens":
			maxTokens = v
		case FieldEcho:
			switch v.Type() {
			case fastjson.TypeTrue:
				d.echo = true
			case fastjson.TypeFalse:
			default:
				d.Fail(invalid(k, "echo must be a boolean"))
			}
		case FieldSuffix:
			if v.Type() != fastjson.TypeString {
				d.Fail(invalid(k, "suffix must be a string"))
				return
			}
			d.suffix = wirejson.AppendStringBytes(nil, v.GetStringBytes())
		case FieldBestOf:
			n, ok := d.int(v)
			if !ok || n < 0 || n > MaxBestOf {
				d.Fail(invalid(k, "best_of must be an integer between 0 and %d", MaxBestOf))
				return
			}
			switch n {
			case 0:
				d.Fail(invalid(k, "best_of must be greater than or equal to n"))
			case 1: // the default
			default:
				d.bestOf = n
			}
		case FieldLogprobs:
			n, ok := d.int(v)
			if !ok || n < 0 || n > MaxLogprobs {
				d.Fail(invalid(k, "logprobs must be an integer between 0 and %d", MaxLogprobs))
				return
			}
			d.logp = n
		default:
			if chatOnly[k] {
				d.Fail(invalid(k, "%s is not a parameter of the completions API (POST /v1/completions); chat requests go to /v1/chat/completions", k))
			}
		}
	})
	if d.Err != nil {
		return d.Err
	}
	switch {
	case model == nil:
		return invalid("model", "you must provide a model parameter")
	case prompt == nil:
		return invalid(FieldPrompt, "Missing required parameter: 'prompt'.")
	}
	d.out = append(d.out, `{"model":`...)
	d.value("model", model)
	d.out = append(d.out, `,"messages":[{"role":"user","content":`...)
	if d.promptValue(prompt); d.Err != nil {
		return d.Err
	}
	if d.single {
		d.out = append(d.out, d.prompt...) // a canonical JSON string
	} else {
		d.out = append(d.out, `""`...)
	}
	d.out = append(d.out, `}]`...)
	if maxTokens != nil {
		n, ok := d.int(maxTokens)
		switch {
		case !ok || n < 0:
			return invalid("max_tokens", "max_tokens must be a non-negative integer")
		case n == 0:
			d.zeroTokens = true
		case n != DefaultMaxTokens:
			d.out = append(d.out, `,"max_tokens":`...)
			d.out = strconv.AppendInt(d.out, int64(n), 10)
		}
	}
	obj.Visit(func(kb []byte, v *fastjson.Value) {
		if d.Err != nil || v.Type() == fastjson.TypeNull {
			return
		}
		switch string(kb) {
		case "model", FieldPrompt, "max_tokens", FieldEcho, FieldSuffix, FieldBestOf, FieldLogprobs:
			return // modeled above
		}
		d.out = append(d.out, ',')
		d.out = wirejson.AppendStringBytes(d.out, kb)
		d.out = append(d.out, ':')
		d.value(string(kb), v)
	})
	d.out = append(d.out, '}')
	return d.Err
}

func (d *decoder) int(v *fastjson.Value) (int, bool) {
	n, ok, scr := wirejson.Int(d.scr, v)
	d.scr = scr
	return n, ok
}

// value writes v re-encoded and checked; param names it in errors.
func (d *decoder) value(param string, v *fastjson.Value) {
	var err error
	if d.out, err = wirejson.AppendValue(d.out, v); err != nil {
		we := err.(*wirejson.Error)
		d.Fail(invalid(param+we.Path, "%s", we.Message))
	}
}

// promptValue writes the canonical JSON of the prompt into d.prompt.
func (d *decoder) promptValue(v *fastjson.Value) {
	const msg = "prompt must be a string, an array of strings, an array of token ids or an array of token-id arrays"
	switch v.Type() {
	case fastjson.TypeString:
		d.single = true
		d.prompt = wirejson.AppendStringBytes(d.prompt[:0], v.GetStringBytes())
		return
	case fastjson.TypeArray:
	default:
		d.Fail(invalid(FieldPrompt, msg))
		return
	}
	a, _ := v.Array()
	if len(a) == 0 {
		d.Fail(invalid(FieldPrompt, "prompt must not be empty"))
		return
	}
	switch a[0].Type() {
	case fastjson.TypeString:
		if len(a) == 1 {
			d.single = true
			d.prompt = wirejson.AppendStringBytes(d.prompt[:0], a[0].GetStringBytes())
			return // a batch of one is its prompt
		}
		d.prompt = append(d.prompt[:0], '[')
		for i, e := range a {
			if e.Type() != fastjson.TypeString {
				d.Fail(invalid(FieldPrompt+"."+strconv.Itoa(i), msg))
				return
			}
			if i > 0 {
				d.prompt = append(d.prompt, ',')
			}
			d.prompt = wirejson.AppendStringBytes(d.prompt, e.GetStringBytes())
		}
		d.prompt = append(d.prompt, ']')
	case fastjson.TypeNumber:
		d.prompt = d.tokens(d.prompt[:0], FieldPrompt, a)
	case fastjson.TypeArray:
		if len(a) == 1 {
			d.prompt = d.tokens(d.prompt[:0], FieldPrompt+".0", a[0].GetArray())
			return
		}
		d.prompt = append(d.prompt[:0], '[')
		for i, e := range a {
			if e.Type() != fastjson.TypeArray {
				d.Fail(invalid(FieldPrompt+"."+strconv.Itoa(i), msg))
				return
			}
			if i > 0 {
				d.prompt = append(d.prompt, ',')
			}
			d.prompt = d.tokens(d.prompt, FieldPrompt+"."+strconv.Itoa(i), e.GetArray())
		}
		d.prompt = append(d.prompt, ']')
	default:
		d.Fail(invalid(FieldPrompt, msg))
	}
}

// tokens appends a canonical array of token ids.
func (d *decoder) tokens(dst []byte, param string, a []*fastjson.Value) []byte {
	if len(a) == 0 {
		d.Fail(invalid(param, "a token-id array must not be empty"))
		return dst
	}
	dst = append(dst, '[')
	for i, e := range a {
		n, ok := d.int(e)
		if !ok || n < 0 {
			d.Fail(invalid(param+"."+strconv.Itoa(i), "token ids must be non-negative integers"))
			return dst
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	return append(dst, ']')
}

// fields returns the dialect fields, sorted by name, in new slices.
func (d *decoder) fields() []normalize.Field {
	fs := make([]normalize.Field, 0, 5)
	if d.bestOf > 0 {
		fs = append(fs, normalize.Field{Name: FieldBestOf, Value: strconv.AppendInt(nil, int64(d.bestOf), 10)})
	}
	if d.echo {
		fs = append(fs, normalize.Field{Name: FieldEcho, Value: []byte("true")})
	}
	if d.logp >= 0 {
		fs = append(fs, normalize.Field{Name: FieldLogprobs, Value: strconv.AppendInt(nil, int64(d.logp), 10)})
	}
	fs = append(fs, normalize.Field{Name: FieldPrompt, Value: append([]byte(nil), d.prompt...)})
	if d.suffix != nil {
		fs = append(fs, normalize.Field{Name: FieldSuffix, Value: d.suffix})
	}
	return fs
}

// Portable returns r as a chat request, for a provider without the legacy
// completions API: a single text prompt asked as one user message, with
// the legacy default max_tokens (16) made explicit. It fails with a
// *normalize.Error naming the member when r says what chat cannot: a
// prompt of several texts or of token ids, echo, suffix, best_of or
// logprobs. r is not modified (it may be shared); the copy shares its
// slices, which are read-only. A request of another dialect is an error;
// one without a dialect is returned as it is.
func Portable(r *normalize.Request) (*normalize.Request, error) {
	switch r.Dialect {
	case "":
		return r, nil
	case Dialect:
	default:
		return nil, invalid("", "a %q request is not a completions request", r.Dialect)
	}
	for _, f := range r.DialectFields {
		switch {
		case f.Name == FieldPrompt && len(f.Value) > 0 && f.Value[0] == '"':
		case f.Name == FieldPrompt:
			return nil, invalid(FieldPrompt, "this model's provider has no legacy completions API: only a prompt of one string can be served (as a chat message), not several prompts or token ids")
		default:
			return nil, invalid(f.Name, "this model's provider has no legacy completions API and cannot honour %s", f.Name)
		}
	}
	if len(r.Messages) != 1 {
		return nil, invalid(FieldPrompt, "the request has no prompt message")
	}
	c := *r
	c.Dialect, c.DialectFields = "", nil
	if c.Params.MaxTokens == nil {
		n := DefaultMaxTokens
		c.Params.MaxTokens = &n
	}
	return &c, nil
}
