package responses

import (
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// Dialect is the normalize.Request.Dialect of requests that say something
// only the Responses API can say.
const Dialect = "responses"

// MinMaxOutputTokens is the smallest max_output_tokens OpenAI accepts.
const MinMaxOutputTokens = 16

// logprobsInclude is the include value that asks for output logprobs; it is
// portable (chat's logprobs: true). Every other include value keys within
// the dialect.
const logprobsInclude = "message.output_text.logprobs"

// dialectPrefix marks, in the chat body handed to normalize.DecodeOpenAI,
// the members that become DialectFields. Every member of that body is
// written by this package, so the prefix only has to keep dialect members
// apart from chat's own names.
const dialectPrefix = "\x00"

var parserPool fastjson.ParserPool

// Parsed is a validated Responses request body, translated as far as it can
// be without the stored records it refers to. It does not alias the body.
// A Parsed is immutable: Decode may be called any number of times, from any
// goroutine.
type Parsed struct {
	// PreviousResponseID is the previous_response_id sent, "" if none.
	PreviousResponseID string
	// Store is the store member (default true): whether the client expects
	// the response to be retrievable, and so followed up by id.
	Store bool
	// Stream is the stream member.
	Stream bool
	// Echo holds what the rendered response repeats of this request.
	Echo *Echo

	model        []byte // JSON string
	instructions []byte // chat system message, nil without instructions
	items        []item
	tail         []byte // chat members after "messages", each with a leading comma
	refs         []string
	toolIdx      []int // Responses index of each chat tool
}

type itemKind uint8

const (
	kMessage   itemKind = iota // a whole chat message in json (user, system, developer, tool)
	kAssistant                 // assistant text: content value in json (nil: none), refusal
	kCall                      // a function call
	kRef                       // an item_reference to one of Ditto's own items
	kBoundary                  // an item kept as a dialect field: ends an assistant turn
)

// item is one input item, translated.
type item struct {
	kind    itemKind
	path    string // "input[3]"
	json    []byte
	refusal string
	parts   []int  // Responses index of each chat content part; nil for string content
	member  string // the member holding the parts: ".content" or ".output"
	// kCall: id is the call_id; kRef: id is the referenced item id.
	id, name, args string
}

// Needs returns the ids of the responses whose Records Decode needs:
// PreviousResponseID first, then the responses of the item_reference items
// that name Ditto's own items, without repeats. The slice is shared: do not
// modify it.
func (p *Parsed) Needs() []string { return p.refs }

// Parse validates a POST /v1/responses body and translates it as far as it
// can without stored records. Errors are *normalize.Error values naming the
// Responses parameter (e.g. "input[2].content[0].image_url"). Parse never
// panics and does not keep body.
func Parse(body []byte) (*Parsed, error) {
	jp := parserPool.Get()
	defer parserPool.Put(jp)
	obj, err := normalize.ParseObject(jp, body)
	if err != nil {
		return nil, err
	}
	t := translator{p: &Parsed{Store: true}, echo: &Echo{}}
	t.top(obj)
	if t.err != nil {
		return nil, t.err
	}
	t.echo.render()
	t.p.Echo = t.echo
	return t.p, nil
}

// translator carries one Parse.
type translator struct {
	p       *Parsed
	echo    *Echo
	err     error
	dialect []dialectField
	include []string
	logp    bool
}

type dialectField struct {
	name string
	json []byte
}

func (t *translator) fail(param, msg string) {
	if t.err == nil {
		t.err = &normalize.Error{Param: param, Message: msg}
	}
}

// keep records a member only the Responses API can say, keyed within the
// dialect under name.
func (t *translator) keep(name string, v *fastjson.Value) {
	t.dialect = append(t.dialect, dialectField{name, appendValue(nil, v)})
}

func isNull(v *fastjson.Value) bool { return v == nil || v.Type() == fastjson.TypeNull }

func (t *translator) top(obj *fastjson.Object) {
	if k, dup := duplicate(obj); dup {
		t.fail(k, "duplicate key "+strconv.Quote(k))
		return
	}
	p, e := t.p, t.echo
	var tail []byte
	var input, tools, toolChoice *fastjson.Value
	var maxOut, topLogprobs *fastjson.Value
	obj.Visit(func(kb []byte, v *fastjson.Value) {
		if t.err != nil {
			return
		}
		k := string(kb)
		if !numbersValid(v) {
			// fastjson is lenient ("01", ".5"); providers are not, and the
			// echo repeats numbers as written.
			t.fail(k, "We could not parse the JSON body of your request: "+k+" holds a number outside JSON's grammar.")
			return
		}
		null := v.Type() == fastjson.TypeNull
		switch k {
		case "model":
			if v.Type() != fastjson.TypeString {
				t.fail("model", "model must be a string")
				return
			}
			p.model = appendValue(nil, v)
			e.model = p.model
		case "input":
			input = v
		case "instructions":
			if null {
				return
			}
			if v.Type() != fastjson.TypeString {
				t.fail("instructions", "instructions must be a string")
				return
			}
			s := appendValue(nil, v)
			e.instructions = s
			p.instructions = append(append([]byte(`{"role":"system","content":`), s...), '}')
		case "previous_response_id":
			if null {
				return
			}
			if v.Type() != fastjson.TypeString || len(v.GetStringBytes()) == 0 {
				t.fail(k, "previous_response_id must be a non-empty string")
				return
			}
			p.PreviousResponseID = string(v.GetStringBytes())
			e.previousResponseID = appendValue(nil, v)
			t.keep(k, v) // keyed, as asked; the history it names is expanded into the messages
		case "store":
			if !null {
				p.Store = t.bool(k, v)
				e.store = &p.Store
			}
		case "stream":
			if !null {
				p.Stream = t.bool(k, v)
			}
		case "stream_options":
			// Transport, owned by Ditto (include_obfuscation only adds padding).
			if !null && v.Type() != fastjson.TypeObject {
				t.fail(k, "stream_options must be an object")
			} else if !null {
				o, _ := v.Object()
				if d, dup := duplicate(o); dup {
					t.fail(k, "duplicate key "+strconv.Quote(d))
				}
			}
		case "temperature", "top_p":
			if null {
				return
			}
			if v.Type() != fastjson.TypeNumber {
				t.fail(k, k+" must be a number")
				return
			}
			tail = appendValue(appendKey(tail, k), v)
			if k == "temperature" {
				e.temperature = appendValue(nil, v)
			} else {
				e.topP = appendValue(nil, v)
			}
		case "max_output_tokens":
			maxOut = v
		case "top_logprobs":
			topLogprobs = v
		case "parallel_tool_calls":
			if null {
				return
			}
			b := t.bool(k, v)
			e.parallel = &b
			tail = appendValue(appendKey(tail, k), v)
		case "service_tier":
			if null {
				return
			}
			if v.Type() != fastjson.TypeString {
				t.fail(k, k+" must be a string")
				return
			}
			e.serviceTier = string(v.GetStringBytes())
			tail = appendValue(appendKey(tail, k), v)
		case "user", "safety_identifier", "prompt_cache_key", "prompt_cache_retention":
			// Unkeyed metadata, passed to the chat upstream as chat takes it.
			if null {
				return
			}
			if v.Type() != fastjson.TypeString {
				t.fail(k, k+" must be a string")
				return
			}
			e.setString(k, appendValue(nil, v))
			tail = appendValue(appendKey(tail, k), v)
		case "metadata":
			// Responses bookkeeping: echoed, never keyed, not sent to a chat
			// upstream (where it means something else).
			if null {
				return
			}
			if v.Type() != fastjson.TypeObject {
				t.fail(k, "metadata must be an object")
				return
			}
			e.metadata = appendValue(nil, v)
		case "tools":
			tools = v
		case "tool_choice":
			toolChoice = v
		case "text":
			tail = t.text(tail, v)
		case "reasoning":
			tail = t.reasoning(tail, v)
		case "include":
			t.includes(v)
		case "truncation":
			if null {
				return
			}
			if v.Type() != fastjson.TypeString {
				t.fail(k, "truncation must be a string")
				return
			}
			e.truncation = appendValue(nil, v)
			if string(v.GetStringBytes()) != "disabled" { // the default, portable
				t.keep(k, v)
			}
		case "background":
			if null {
				return
			}
			if t.bool(k, v) {
				e.background = true
				t.keep(k, v)
			}
		case "max_tool_calls":
			if null {
				return
			}
			if v.Type() != fastjson.TypeNumber {
				t.fail(k, "max_tool_calls must be an integer")
				return
			}
			e.maxToolCalls = appendValue(nil, v)
			t.keep(k, v)
		default:
			// conversation, prompt, context_management, moderation, ...
			// and names unknown to Ditto: kept and keyed (DESIGN principle
			// 3), within the dialect, since a chat upstream cannot take
			// them.
			if !null {
				t.keep(k, v)
			}
		}
	})
	if t.err != nil {
		return
	}
	if p.model == nil {
		t.fail("model", "you must provide a model parameter")
		return
	}
	if !isNull(maxOut) {
		n, ok := intValue(maxOut)
		switch {
		case !ok:
			t.fail("max_output_tokens", "max_output_tokens must be an integer")
		case n < MinMaxOutputTokens:
			t.fail("max_output_tokens", "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got "+strconv.FormatInt(n, 10)+" instead.")
		default:
			tail = strconv.AppendInt(appendKey(tail, "max_completion_tokens"), n, 10)
			e.maxOutputTokens = strconv.AppendInt(nil, n, 10)
		}
	}
	if !isNull(topLogprobs) {
		n, ok := intValue(topLogprobs)
		if !ok || n < 0 || n > normalize.MaxTopLogprobs {
			t.fail("top_logprobs", "top_logprobs must be an integer between 0 and 20")
			return
		}
		e.topLogprobs = strconv.AppendInt(nil, n, 10)
		if t.logp {
			tail = strconv.AppendInt(appendKey(tail, "top_logprobs"), n, 10)
		} else {
			// Logprobs are returned only when include asks for them; the
			// count alone changes nothing a chat provider would return.
			// Kept in the key all the same.
			t.dialect = append(t.dialect, dialectField{"top_logprobs", strconv.AppendInt(nil, n, 10)})
		}
	}
	if t.logp {
		tail = append(tail, `,"logprobs":true`...)
		e.logprobs = true
	}
	tail = t.tools(tail, tools)
	tail = t.toolChoice(tail, toolChoice)
	if t.err != nil {
		return
	}
	if !isNull(input) {
		t.input(input)
	}
	if t.err != nil {
		return
	}
	if p.Stream {
		// The stream always wants usage: response.completed carries it.
		tail = append(tail, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	if len(t.include) > 0 {
		slices.Sort(t.include)
		t.include = slices.Compact(t.include)
		b := []byte{'['}
		for i, s := range t.include {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		t.dialect = append(t.dialect, dialectField{"include", append(b, ']')})
	}
	for _, f := range t.dialect {
		tail = append(tail, ',')
		tail = appendString(tail, dialectPrefix+f.name)
		tail = append(tail, ':')
		tail = append(tail, f.json...)
	}
	p.tail = tail
	if p.PreviousResponseID != "" {
		p.refs = append([]string{p.PreviousResponseID}, p.refs...)
	}
	p.refs = dedupe(p.refs)
}

func dedupe(s []string) []string {
	out := s[:0]
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func (t *translator) bool(param string, v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	t.fail(param, param+" must be a boolean")
	return false
}

// intValue reads an integer; integral spellings such as 20.0 count.
func intValue(v *fastjson.Value) (int64, bool) {
	if v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	f, err := v.Float64()
	if err != nil || f != float64(int64(f)) || f > 1<<31 || f < -(1<<31) {
		return 0, false
	}
	return int64(f), true
}

func (t *translator) includes(v *fastjson.Value) {
	if isNull(v) {
		return
	}
	a, err := v.Array()
	if err != nil {
		t.fail("include", "include must be an array of strings")
		return
	}
	for i, s := range a {
		if s.Type() != fastjson.TypeString {
			t.fail(indexed("include", i, ""), "include values must be strings")
			return
		}
		if string(s.GetStringBytes()) == logprobsInclude {
			t.logp = true
			continue
		}
		t.include = append(t.include, string(s.GetStringBytes()))
	}
}

// text translates text.format and text.verbosity.
func (t *translator) text(tail []byte, v *fastjson.Value) []byte {
	if isNull(v) {
		return tail
	}
	o, err := v.Object()
	if err != nil {
		t.fail("text", "text must be an object")
		return tail
	}
	if k, dup := duplicate(o); dup {
		t.fail("text", "duplicate key "+strconv.Quote(k))
		return tail
	}
	e := t.echo
	o.Visit(func(kb []byte, fv *fastjson.Value) {
		if t.err != nil || isNull(fv) {
			return
		}
		switch k := string(kb); k {
		case "verbosity":
			if fv.Type() != fastjson.TypeString {
				t.fail("text.verbosity", "text.verbosity must be a string")
				return
			}
			tail = appendValue(appendKey(tail, "verbosity"), fv)
			e.verbosity = appendValue(nil, fv)
		case "format":
			tail = t.format(tail, fv)
		default:
			t.keep("text."+k, fv)
		}
	})
	return tail
}

// format translates text.format into chat's response_format. The flat
// json_schema format nests under response_format.json_schema.
func (t *translator) format(tail []byte, v *fastjson.Value) []byte {
	o, err := v.Object()
	if err != nil {
		t.fail("text.format", "text.format must be an object")
		return tail
	}
	if k, dup := duplicate(o); dup {
		t.fail("text.format", "duplicate key "+strconv.Quote(k))
		return tail
	}
	typ := o.Get("type")
	if typ == nil || typ.Type() != fastjson.TypeString {
		t.fail("text.format.type", "text.format.type must be a string")
		return tail
	}
	t.echo.format = appendValue(nil, v)
	portable := true
	switch string(typ.GetStringBytes()) {
	case "text", "json_object":
		portable = o.Len() == 1
		if portable && string(typ.GetStringBytes()) == "json_object" {
			tail = append(tail, `,"response_format":{"type":"json_object"}`...)
		}
	case "json_schema":
		js := []byte(`{`)
		o.Visit(func(kb []byte, fv *fastjson.Value) {
			k := string(kb)
			switch k {
			case "type":
				return
			case "name", "description":
				if fv.Type() != fastjson.TypeString && !(k == "description" && isNull(fv)) {
					t.fail("text.format."+k, "text.format."+k+" must be a string")
					return
				}
			case "schema":
				if fv.Type() != fastjson.TypeObject {
					t.fail("text.format.schema", "text.format.schema must be an object")
					return
				}
			case "strict":
				if !isNull(fv) && fv.Type() != fastjson.TypeTrue && fv.Type() != fastjson.TypeFalse {
					t.fail("text.format.strict", "text.format.strict must be a boolean")
					return
				}
			default:
				portable = false
				return
			}
			if isNull(fv) {
				return
			}
			if len(js) > 1 {
				js = append(js, ',')
			}
			js = appendString(js, k)
			js = append(js, ':')
			js = appendValue(js, fv)
		})
		if t.err != nil {
			return tail
		}
		if o.Get("name") == nil {
			t.fail("text.format.name", "Missing required parameter: 'text.format.name'.")
			return tail
		}
		if o.Get("schema") == nil {
			t.fail("text.format.schema", "Missing required parameter: 'text.format.schema'.")
			return tail
		}
		if portable {
			tail = append(tail, `,"response_format":{"type":"json_schema","json_schema":`...)
			tail = append(append(tail, js...), '}', '}')
		}
	default:
		portable = false
	}
	if !portable {
		t.keep("text.format", v)
	}
	return tail
}

func (t *translator) reasoning(tail []byte, v *fastjson.Value) []byte {
	if isNull(v) {
		return tail
	}
	o, err := v.Object()
	if err != nil {
		t.fail("reasoning", "reasoning must be an object")
		return tail
	}
	if k, dup := duplicate(o); dup {
		t.fail("reasoning", "duplicate key "+strconv.Quote(k))
		return tail
	}
	o.Visit(func(kb []byte, fv *fastjson.Value) {
		if t.err != nil || isNull(fv) {
			return
		}
		switch k := string(kb); k {
		case "effort":
			if fv.Type() != fastjson.TypeString {
				t.fail("reasoning.effort", "reasoning.effort must be a string")
				return
			}
			tail = appendValue(appendKey(tail, "reasoning_effort"), fv)
			t.echo.effort = appendValue(nil, fv)
		case "summary", "generate_summary":
			if fv.Type() != fastjson.TypeString {
				t.fail("reasoning."+k, "reasoning."+k+" must be a string")
				return
			}
			t.echo.summary = appendValue(nil, fv)
			t.keep("reasoning."+k, fv)
		default:
			t.keep("reasoning."+k, fv)
		}
	})
	return tail
}

func (t *translator) tools(tail []byte, v *fastjson.Value) []byte {
	if isNull(v) {
		return tail
	}
	a, err := v.Array()
	if err != nil {
		t.fail("tools", "tools must be an array")
		return tail
	}
	if len(a) == 0 {
		return tail
	}
	var wire []byte
	echo := make([]byte, 1, 256*len(a))
	echo[0] = '['
	for i, tv := range a {
		param := indexed("tools", i, "")
		o, err := tv.Object()
		if err != nil {
			t.fail(param, "each tool must be an object")
			return tail
		}
		if k, dup := duplicate(o); dup {
			t.fail(param, "duplicate key "+strconv.Quote(k))
			return tail
		}
		if i > 0 {
			echo = append(echo, ',')
		}
		typ := o.Get("type")
		if typ == nil || typ.Type() != fastjson.TypeString {
			t.fail(param+".type", "tool type must be a string")
			return tail
		}
		if string(typ.GetStringBytes()) != "function" {
			t.keep(param, tv) // a built-in or custom tool: Responses only
			echo = appendValue(echo, tv)
			continue
		}
		fn, ok := t.functionTool(param, o)
		if t.err != nil {
			return tail
		}
		echo = append(echo, fn.echo...)
		if !ok {
			t.keep(param, tv)
			continue
		}
		t.p.toolIdx = append(t.p.toolIdx, i)
		if wire == nil {
			wire = append(make([]byte, 0, 256*len(a)), `,"tools":[`...)
		} else {
			wire = append(wire, ',')
		}
		wire = append(wire, fn.wire...)
	}
	t.echo.tools = append(echo, ']')
	if wire != nil {
		tail = append(append(tail, wire...), ']')
	}
	return tail
}

type functionTool struct{ wire, echo []byte }

// functionTool translates a flat Responses function tool into chat's nested
// form. strict defaults to true in the Responses API (OpenAI: "Responses
// requests will normalize your schema into strict mode"), to false in chat,
// so an absent strict is written as true: the canonical form says what the
// provider does. ok is false when the tool has members chat cannot say.
func (t *translator) functionTool(param string, o *fastjson.Object) (fn functionTool, ok bool) {
	ok = true
	var name, desc, params []byte
	strict := true
	o.Visit(func(kb []byte, v *fastjson.Value) {
		if t.err != nil {
			return
		}
		switch k := string(kb); k {
		case "type":
		case "name":
			if v.Type() != fastjson.TypeString || len(v.GetStringBytes()) == 0 {
				t.fail(param+".name", "function name must be a non-empty string")
				return
			}
			name = appendValue(nil, v)
		case "description":
			if isNull(v) {
				return
			}
			if v.Type() != fastjson.TypeString {
				t.fail(param+".description", "description must be a string")
				return
			}
			if len(v.GetStringBytes()) > 0 {
				desc = appendValue(nil, v)
			}
		case "parameters":
			if isNull(v) {
				return
			}
			if v.Type() != fastjson.TypeObject {
				t.fail(param+".parameters", "parameters must be an object")
				return
			}
			params = appendValue(nil, v)
		case "strict":
			switch v.Type() {
			case fastjson.TypeNull:
			case fastjson.TypeTrue, fastjson.TypeFalse:
				strict = v.Type() == fastjson.TypeTrue
			default:
				t.fail(param+".strict", "strict must be a boolean")
			}
		case "defer_loading":
			if !isNull(v) && v.Type() != fastjson.TypeFalse {
				ok = false // tool search: Responses only
			}
		default:
			if !isNull(v) {
				ok = false
			}
		}
	})
	if t.err != nil {
		return fn, false
	}
	if name == nil {
		t.fail(param+".name", "Missing required parameter: '"+param+".name'.")
		return fn, false
	}
	n := len(name) + len(desc) + len(params) + 96
	w := append(append(make([]byte, 0, n), `{"type":"function","function":{"name":`...), name...)
	ec := append(append(make([]byte, 0, n), `{"type":"function","name":`...), name...)
	ec = append(ec, `,"description":`...)
	if desc != nil {
		w = append(append(w, `,"description":`...), desc...)
		ec = append(ec, desc...)
	} else {
		ec = append(ec, "null"...)
	}
	ec = append(ec, `,"parameters":`...)
	if params != nil {
		w = append(append(w, `,"parameters":`...), params...)
		ec = append(ec, params...)
	} else {
		ec = append(ec, "null"...)
	}
	w = strconv.AppendBool(append(w, `,"strict":`...), strict)
	ec = strconv.AppendBool(append(ec, `,"strict":`...), strict)
	fn.wire = append(w, '}', '}')
	fn.echo = append(ec, '}')
	return fn, ok
}

func (t *translator) toolChoice(tail []byte, v *fastjson.Value) []byte {
	if isNull(v) {
		return tail
	}
	t.echo.toolChoice = appendValue(nil, v)
	switch v.Type() {
	case fastjson.TypeString:
		return appendValue(appendKey(tail, "tool_choice"), v)
	case fastjson.TypeObject:
	default:
		t.fail("tool_choice", "tool_choice must be a string or an object")
		return tail
	}
	o, _ := v.Object()
	if k, dup := duplicate(o); dup {
		t.fail("tool_choice", "duplicate key "+strconv.Quote(k))
		return tail
	}
	typ, name := o.Get("type"), o.Get("name")
	if o.Len() == 2 && typ != nil && string(typ.GetStringBytes()) == "function" && name != nil {
		if name.Type() != fastjson.TypeString {
			t.fail("tool_choice.name", "tool_choice.name must be a string")
			return tail
		}
		tail = append(tail, `,"tool_choice":{"type":"function","function":{"name":`...)
		tail = appendValue(tail, name)
		return append(tail, '}', '}')
	}
	// allowed_tools, a built-in tool type, mcp, custom: Responses only.
	t.keep("tool_choice", v)
	return tail
}

// indexed renders a parameter path such as "input[2].content".
func indexed(base string, i int, rest string) string {
	return base + "[" + strconv.Itoa(i) + "]" + rest
}

func (t *translator) input(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeString:
		// A string input is one user message.
		m := append([]byte(`{"role":"user","content":`), appendValue(nil, v)...)
		t.p.items = append(t.p.items, item{kind: kMessage, path: "input", json: append(m, '}')})
		return
	case fastjson.TypeArray:
	default:
		t.fail("input", "input must be a string or an array of input items")
		return
	}
	a, _ := v.Array()
	if len(a) > normalize.MaxMessages {
		t.fail("input", "too many input items")
		return
	}
	t.p.items = make([]item, 0, len(a))
	for i, iv := range a {
		t.item(indexed("input", i, ""), iv)
		if t.err != nil {
			return
		}
	}
}

// item translates one input item. Items chat can say become chat messages
// (or pieces of one assistant message); others are kept whole as dialect
// fields named by their path, which keys them with their position.
func (t *translator) item(path string, v *fastjson.Value) {
	o, err := v.Object()
	if err != nil {
		t.fail(path, "each input item must be an object")
		return
	}
	if k, dup := duplicate(o); dup {
		t.fail(path, "duplicate key "+strconv.Quote(k))
		return
	}
	typ := ""
	if tv := o.Get("type"); !isNull(tv) {
		if tv.Type() != fastjson.TypeString {
			t.fail(path+".type", "type must be a string")
			return
		}
		typ = string(tv.GetStringBytes())
	}
	if typ == "" {
		switch {
		case o.Get("role") != nil:
			typ = "message"
		case o.Get("id") != nil:
			typ = "item_reference" // its type is optional
		default:
			t.fail(path+".type", "Missing required parameter: '"+path+".type'.")
			return
		}
	}
	switch typ {
	case "message":
		t.message(path, v, o)
	case "function_call":
		t.functionCall(path, v, o)
	case "function_call_output":
		t.functionCallOutput(path, v, o)
	case "item_reference":
		t.reference(path, v, o)
	case "reasoning":
		t.reasoningItem(path, v, o)
	default:
		t.boundary(path, v)
	}
}

// boundary keeps an item chat cannot say as a dialect field.
func (t *translator) boundary(path string, v *fastjson.Value) {
	t.keep(path, v)
	t.p.items = append(t.p.items, item{kind: kBoundary, path: path})
}

// bookkeeping reports item members that identify an item rather than say
// anything to the model: an item's id and status. OpenAI uses them to match
// stored items; a chat provider sees only the content.
func bookkeeping(k string) bool { return k == "id" || k == "status" || k == "type" }

func (t *translator) message(path string, v *fastjson.Value, o *fastjson.Object) {
	role := o.Get("role")
	if role == nil || role.Type() != fastjson.TypeString {
		t.fail(path+".role", "Missing required parameter: '"+path+".role'.")
		return
	}
	r := string(role.GetStringBytes())
	switch r {
	case normalize.RoleUser, normalize.RoleSystem, normalize.RoleDeveloper, normalize.RoleAssistant:
	default:
		t.fail(path+".role", "Invalid value: '"+r+"'. Supported values are: 'assistant', 'system', 'developer', and 'user'.")
		return
	}
	content := o.Get("content")
	if content == nil {
		t.fail(path+".content", "Missing required parameter: '"+path+".content'.")
		return
	}
	portable := true
	o.Visit(func(kb []byte, fv *fastjson.Value) {
		switch k := string(kb); {
		case k == "role" || k == "content" || bookkeeping(k):
		case isNull(fv):
		default:
			portable = false // phase, or a member Ditto does not know
		}
	})
	if !portable {
		t.boundary(path, v)
		return
	}
	if r == normalize.RoleAssistant {
		t.assistantMessage(path, v, content)
		return
	}
	m := append([]byte(`{"role":`), appendString(nil, r)...)
	m = append(m, `,"content":`...)
	var parts []int
	switch content.Type() {
	case fastjson.TypeString:
		m = appendValue(m, content)
	case fastjson.TypeArray:
		var ok bool
		m, parts, ok = t.inputParts(m, path+".content", content)
		if t.err != nil {
			return
		}
		if !ok {
			t.boundary(path, v)
			return
		}
	default:
		t.fail(path+".content", "content must be a string or an array of content parts")
		return
	}
	t.p.items = append(t.p.items, item{kind: kMessage, path: path, json: append(m, '}'), parts: parts, member: ".content"})
}

// inputParts translates input_text, input_image and input_file parts into
// chat parts. ok is false when a part says something chat cannot (an image
// by file id, a file by URL, an unknown part type or member).
func (t *translator) inputParts(dst []byte, path string, v *fastjson.Value) (out []byte, parts []int, ok bool) {
	a, _ := v.Array()
	dst = append(dst, '[')
	parts = make([]int, 0, len(a))
	for j, pv := range a {
		pp := indexed(path, j, "")
		if j > 0 {
			dst = append(dst, ',')
		}
		var pok bool
		dst, pok = t.inputPart(dst, pp, pv)
		if t.err != nil || !pok {
			return dst, nil, false
		}
		parts = append(parts, j)
	}
	return append(dst, ']'), parts, true
}

func (t *translator) inputPart(dst []byte, path string, pv *fastjson.Value) ([]byte, bool) {
	o, err := pv.Object()
	if err != nil {
		t.fail(path, "each content part must be an object")
		return dst, false
	}
	if k, dup := duplicate(o); dup {
		t.fail(path, "duplicate key "+strconv.Quote(k))
		return dst, false
	}
	tv := o.Get("type")
	if tv == nil || tv.Type() != fastjson.TypeString {
		t.fail(path+".type", "content part type must be a string")
		return dst, false
	}
	ok := true
	str := func(name string) *fastjson.Value {
		v := o.Get(name)
		if isNull(v) {
			return nil
		}
		if v.Type() != fastjson.TypeString {
			t.fail(path+"."+name, name+" must be a string")
			return nil
		}
		return v
	}
	// members reports whether o has only the named members (besides type
	// and prompt caching hints, which do not change the answer).
	members := func(names ...string) bool {
		only := true
		o.Visit(func(kb []byte, fv *fastjson.Value) {
			k := string(kb)
			if k == "type" || k == "prompt_cache_breakpoint" || isNull(fv) || slices.Contains(names, k) {
				return
			}
			only = false
		})
		return only
	}
	switch typ := string(tv.GetStringBytes()); typ {
	case "input_text", "text", "output_text":
		text := o.Get("text")
		if text == nil || text.Type() != fastjson.TypeString {
			t.fail(path+".text", "Missing required parameter: '"+path+".text'.")
			return dst, false
		}
		if typ != "input_text" {
			ok = false // not a part of a user, system or developer message
		}
		ok = ok && members("text")
		dst = append(dst, `{"type":"text","text":`...)
		dst = appendValue(dst, text)
	case "input_image":
		url, file, detail := str("image_url"), str("file_id"), str("detail")
		if t.err != nil {
			return dst, false
		}
		if url == nil && file == nil {
			t.fail(path+".image_url", "input_image needs image_url or file_id")
			return dst, false
		}
		// An image by file id has no chat spelling.
		ok = file == nil && members("image_url", "detail")
		dst = append(dst, `{"type":"image_url","image_url":{"url":`...)
		if url != nil {
			dst = appendValue(dst, url)
		} else {
			dst = append(dst, `""`...)
		}
		if detail != nil {
			dst = appendValue(append(dst, `,"detail":`...), detail)
		}
		dst = append(dst, '}')
	case "input_file":
		id, data, name := str("file_id"), str("file_data"), str("filename")
		if t.err != nil {
			return dst, false
		}
		if id == nil && data == nil {
			ok = false // file_url, or nothing chat can say
		}
		ok = ok && members("file_id", "file_data", "filename")
		dst = append(dst, `{"type":"file","file":{`...)
		first := true
		for _, kv := range [...]struct {
			k string
			v *fastjson.Value
		}{{"file_id", id}, {"file_data", data}, {"filename", name}} {
			if kv.v == nil {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, kv.k)
			dst = append(dst, ':')
			dst = appendValue(dst, kv.v)
		}
		dst = append(dst, '}')
	default:
		return dst, false
	}
	return append(dst, '}'), ok
}

// assistantMessage translates an assistant message: output_text (or
// input_text) parts are its text, a refusal part its refusal.
func (t *translator) assistantMessage(path string, v, content *fastjson.Value) {
	it := item{kind: kAssistant, path: path}
	switch content.Type() {
	case fastjson.TypeString:
		it.json = appendValue(nil, content)
		t.p.items = append(t.p.items, it)
		return
	case fastjson.TypeArray:
	default:
		t.fail(path+".content", "content must be a string or an array of content parts")
		return
	}
	a, _ := content.Array()
	refusals := 0
	js := []byte{'['}
	for j, pv := range a {
		pp := indexed(path+".content", j, "")
		o, err := pv.Object()
		if err != nil {
			t.fail(pp, "each content part must be an object")
			return
		}
		if k, dup := duplicate(o); dup {
			t.fail(pp, "duplicate key "+strconv.Quote(k))
			return
		}
		tv := o.Get("type")
		if tv == nil || tv.Type() != fastjson.TypeString {
			t.fail(pp+".type", "content part type must be a string")
			return
		}
		portable := true
		switch typ := string(tv.GetStringBytes()); typ {
		case "output_text", "input_text":
			text := o.Get("text")
			if text == nil || text.Type() != fastjson.TypeString {
				t.fail(pp+".text", "Missing required parameter: '"+pp+".text'.")
				return
			}
			o.Visit(func(kb []byte, fv *fastjson.Value) {
				switch string(kb) {
				case "type", "text":
				case "annotations", "logprobs":
					// What the model produced alongside the text, returned
					// to the client; empty lists say nothing.
					if a, err := fv.Array(); !isNull(fv) && (err != nil || len(a) > 0) {
						portable = false
					}
				default:
					if !isNull(fv) {
						portable = false
					}
				}
			})
			if len(js) > 1 {
				js = append(js, ',')
			}
			js = append(js, `{"type":"text","text":`...)
			js = append(appendValue(js, text), '}')
			it.parts = append(it.parts, j)
		case "refusal":
			r := o.Get("refusal")
			if r == nil || r.Type() != fastjson.TypeString {
				t.fail(pp+".refusal", "Missing required parameter: '"+pp+".refusal'.")
				return
			}
			refusals++
			portable = refusals == 1 && o.Len() == 2 // chat has one refusal string
			it.refusal = string(r.GetStringBytes())
		default:
			portable = false
		}
		if !portable {
			t.boundary(path, v)
			return
		}
	}
	if len(it.parts) > 0 || refusals == 0 {
		it.json = append(js, ']')
	}
	t.p.items = append(t.p.items, it)
}

func (t *translator) functionCall(path string, v *fastjson.Value, o *fastjson.Object) {
	it := item{kind: kCall, path: path}
	portable := true
	for _, name := range [...]string{"call_id", "name", "arguments"} {
		f := o.Get(name)
		if f == nil || f.Type() != fastjson.TypeString {
			t.fail(path+"."+name, "Missing required parameter: '"+path+"."+name+"'.")
			return
		}
		s := string(f.GetStringBytes())
		switch name {
		case "call_id":
			it.id = s
		case "name":
			it.name = s
		default:
			it.args = s
		}
	}
	o.Visit(func(kb []byte, fv *fastjson.Value) {
		switch k := string(kb); {
		case k == "call_id" || k == "name" || k == "arguments" || bookkeeping(k):
		case isNull(fv):
		default:
			portable = false // namespace, caller, ...
		}
	})
	if !portable {
		t.boundary(path, v)
		return
	}
	t.p.items = append(t.p.items, it)
}

func (t *translator) functionCallOutput(path string, v *fastjson.Value, o *fastjson.Object) {
	id := o.Get("call_id")
	if id == nil || id.Type() != fastjson.TypeString || len(id.GetStringBytes()) == 0 {
		t.fail(path+".call_id", "Missing required parameter: '"+path+".call_id'.")
		return
	}
	out := o.Get("output")
	if out == nil {
		t.fail(path+".output", "Missing required parameter: '"+path+".output'.")
		return
	}
	portable := true
	o.Visit(func(kb []byte, fv *fastjson.Value) {
		switch k := string(kb); {
		case k == "call_id" || k == "output" || bookkeeping(k):
		case isNull(fv):
		default:
			portable = false // name, namespace, caller, ...
		}
	})
	m := []byte(`{"role":"tool","tool_call_id":`)
	m = appendValue(m, id)
	m = append(m, `,"content":`...)
	var parts []int
	switch out.Type() {
	case fastjson.TypeString:
		m = appendValue(m, out)
	case fastjson.TypeArray:
		// Chat tool messages take text parts only.
		a, _ := out.Array()
		m = append(m, '[')
		for j, pv := range a {
			pp := indexed(path+".output", j, "")
			if pv.Type() != fastjson.TypeObject {
				t.fail(pp, "each output part must be an object")
				return
			}
			if j > 0 {
				m = append(m, ',')
			}
			var ok bool
			m, ok = t.inputPart(m, pp, pv)
			if t.err != nil {
				return
			}
			po, _ := pv.Object()
			if !ok || string(po.Get("type").GetStringBytes()) != "input_text" {
				portable = false
			}
			parts = append(parts, j)
		}
		m = append(m, ']')
	default:
		t.fail(path+".output", "output must be a string or an array of content parts")
		return
	}
	if !portable {
		t.boundary(path, v)
		return
	}
	t.p.items = append(t.p.items, item{kind: kMessage, path: path, json: append(m, '}'), parts: parts, member: ".output"})
}

// reference handles an item_reference. A reference to one of Ditto's own
// items is resolved from the record of the response that produced it; any
// other reference names an item stored by someone else and is kept.
func (t *translator) reference(path string, v *fastjson.Value, o *fastjson.Object) {
	id := o.Get("id")
	if id == nil || id.Type() != fastjson.TypeString {
		t.fail(path+".id", "Missing required parameter: '"+path+".id'.")
		return
	}
	s := string(id.GetStringBytes())
	ref, ok := parseItemID(s)
	if !ok || o.Len() > 2 {
		t.boundary(path, v)
		return
	}
	if ref.kind == 'r' {
		return // Ditto's reasoning items restate what a chat provider never takes back
	}
	t.p.refs = append(t.p.refs, ref.response)
	t.p.items = append(t.p.items, item{kind: kRef, path: path, id: s})
}

// reasoningItem keeps a reasoning item as a dialect field, except Ditto's
// own: those only restate reasoning text a chat provider returned, which
// chat providers never take back, so they are dropped (from the key too:
// the upstream never sees them).
func (t *translator) reasoningItem(path string, v *fastjson.Value, o *fastjson.Object) {
	if id := o.Get("id"); id != nil && id.Type() == fastjson.TypeString {
		if ref, ok := parseItemID(string(id.GetStringBytes())); ok && ref.kind == 'r' && isNull(o.Get("encrypted_content")) {
			if c := o.Get("content"); isNull(c) || len(c.GetArray()) == 0 {
				return
			}
		}
	}
	t.boundary(path, v)
}

// appendValue writes v as JSON with member order and number spellings kept
// and strings re-escaped (fastjson's own MarshalTo can write escapes JSON
// does not have, such as \a). Duplicate members are kept, for
// normalize.DecodeOpenAI to reject.
func appendValue(dst []byte, v *fastjson.Value) []byte { return wirejson.AppendValueAsIs(dst, v) }

// chatParam maps a parameter path of the chat body back to the Responses
// request, for errors normalize.DecodeOpenAI reports.
func chatParam(param string, origins []origin, toolIdx []int) string {
	if rest, ok := strings.CutPrefix(param, dialectPrefix); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(param, "messages["); ok {
		end := strings.IndexByte(rest, ']')
		i, err := strconv.Atoi(rest[:max(end, 0)])
		if end < 0 || err != nil || i < 0 || i >= len(origins) {
			return "input"
		}
		o := origins[i]
		rest = rest[end+1:]
		if r, ok := strings.CutPrefix(rest, ".content["); ok && o.parts != nil {
			if end := strings.IndexByte(r, ']'); end >= 0 {
				if j, err := strconv.Atoi(r[:end]); err == nil && j >= 0 && j < len(o.parts) {
					return o.path + o.content + "[" + strconv.Itoa(o.parts[j]) + "]" + r[end+1:]
				}
			}
		}
		if r, ok := strings.CutPrefix(rest, ".tool_calls["); ok {
			if end := strings.IndexByte(r, ']'); end >= 0 {
				if j, err := strconv.Atoi(r[:end]); err == nil && j >= 0 && j < len(o.calls) {
					return o.calls[j]
				}
			}
		}
		if strings.HasPrefix(rest, ".content") {
			return o.path + o.content + strings.TrimPrefix(rest, ".content")
		}
		return o.path
	}
	if rest, ok := strings.CutPrefix(param, "tools["); ok {
		end := strings.IndexByte(rest, ']')
		if i, err := strconv.Atoi(rest[:max(end, 0)]); end >= 0 && err == nil && i >= 0 && i < len(toolIdx) {
			return indexed("tools", toolIdx[i], strings.Replace(rest[end+1:], ".function", "", 1))
		}
		return "tools"
	}
	switch {
	case strings.HasPrefix(param, "response_format"):
		return "text.format"
	case param == "max_completion_tokens":
		return "max_output_tokens"
	case param == "reasoning_effort":
		return "reasoning.effort"
	case param == "verbosity":
		return "text.verbosity"
	case param == "logprobs":
		return "top_logprobs"
	}
	return param
}

// origin is where one chat message came from in the Responses request.
type origin struct {
	path    string // "input[3]", "instructions", "previous_response_id"
	content string // ".content" or ".output": the member holding its parts
	parts   []int
	calls   []string // paths of the function_call items merged into it
}

// Decode builds the canonical request: the instructions as a leading system
// message, then the conversation of the previous response (when
// PreviousResponseID is set), then this request's input, translated into an
// equivalent chat-completions body and decoded by normalize.DecodeOpenAI, so
// a request that means the same as a chat request gets the same canonical
// form and cache key.
//
// records maps response ids to their Records; it must hold every id of
// Needs() that Ditto knows (nil is fine when Needs() is empty). A missing
// previous response or referenced item is an error, as OpenAI reports it.
// What only the Responses API can say is in the returned request's
// DialectFields (Dialect is then "responses"); see Portable.
func (p *Parsed) Decode(records map[string]*Record) (*normalize.Request, error) {
	size := len(p.model) + len(p.instructions) + len(p.tail) + 32
	for i := range p.items {
		size += len(p.items[i].json) + len(p.items[i].args) + len(p.items[i].refusal) + 96
	}
	var prev *Record
	if p.PreviousResponseID != "" {
		prev = records[p.PreviousResponseID]
		if prev == nil {
			return nil, &normalize.Error{Param: "previous_response_id", Message: "Previous response with id '" + p.PreviousResponseID + "' not found."}
		}
		size += len(prev.raw)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"model":`...)
	b = append(b, p.model...)
	b = append(b, `,"messages":[`...)
	origins := make([]origin, 0, len(p.items)+2)
	next := func(o origin) {
		if len(origins) > 0 {
			b = append(b, ',')
		}
		origins = append(origins, o)
	}
	if p.instructions != nil {
		next(origin{path: "instructions"})
		b = append(b, p.instructions...)
	}
	if prev != nil {
		next(origin{path: "previous_response_id"})
		for range len(prev.Messages) - 1 {
			origins = append(origins, origin{path: "previous_response_id"})
		}
		b = append(b, prev.raw...)
	}
	// An assistant message and the function calls that directly follow it
	// are one chat assistant message.
	var pend *item
	var calls []item
	flush := func() {
		if pend == nil && calls == nil {
			return
		}
		o := origin{content: ".content"}
		next(o)
		b = append(b, `{"role":"assistant","content":`...)
		if pend != nil && pend.json != nil {
			b = append(b, pend.json...)
		} else {
			b = append(b, "null"...)
		}
		if pend != nil {
			o.path, o.parts = pend.path, pend.parts
			if pend.refusal != "" {
				b = appendString(append(b, `,"refusal":`...), pend.refusal)
			}
		} else {
			o.path = calls[0].path
		}
		if len(calls) > 0 {
			b = append(b, `,"tool_calls":[`...)
			for i := range calls {
				c := &calls[i]
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(append(b, `{"id":`...), c.id)
				b = appendString(append(b, `,"type":"function","function":{"name":`...), c.name)
				b = appendString(append(b, `,"arguments":`...), c.args)
				b = append(b, '}', '}')
				o.calls = append(o.calls, c.path)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
		origins[len(origins)-1] = o
		pend, calls = nil, nil
	}
	for i := range p.items {
		it := p.items[i]
		if it.kind == kRef {
			var err error
			if it, err = resolve(it, records); err != nil {
				return nil, err
			}
		}
		switch it.kind {
		case kMessage:
			flush()
			next(origin{path: it.path, content: it.member, parts: it.parts})
			b = append(b, it.json...)
		case kAssistant:
			flush()
			pend = &it
		case kCall:
			calls = append(calls, it)
		case kBoundary:
			flush()
		}
	}
	flush()
	if len(origins) == 0 {
		return nil, &normalize.Error{Param: "input", Message: "Missing required parameter: 'input'."}
	}
	b = append(b, ']')
	b = append(b, p.tail...)
	b = append(b, '}')
	req, err := normalize.DecodeOpenAI(b)
	if err != nil {
		if e, ok := err.(*normalize.Error); ok {
			return nil, &normalize.Error{Param: chatParam(e.Param, origins, p.toolIdx), Message: strings.ReplaceAll(e.Message, dialectPrefix, "")}
		}
		return nil, err
	}
	if len(req.Extra) > 0 {
		// Every dialect member was written under dialectPrefix; the rest
		// of Extra is empty, since the chat body holds nothing else
		// unknown to chat.
		extra := req.Extra[:0]
		for _, f := range req.Extra {
			if name, ok := strings.CutPrefix(f.Name, dialectPrefix); ok {
				req.DialectFields = append(req.DialectFields, normalize.Field{Name: name, Value: f.Value})
			} else {
				extra = append(extra, f)
			}
		}
		req.Extra = nil
		if len(extra) > 0 {
			req.Extra = extra
		}
	}
	if len(req.DialectFields) > 0 {
		req.Dialect = Dialect
	}
	return req, nil
}

// resolve turns a reference to one of Ditto's items into the item it names,
// from the record of the response that produced it.
func resolve(it item, records map[string]*Record) (item, error) {
	notFound := &normalize.Error{Param: it.path, Message: "Item with id '" + it.id + "' not found."}
	ref, _ := parseItemID(it.id)
	m := records[ref.response].answer()
	if m == nil {
		return it, notFound
	}
	switch ref.kind {
	case 'm':
		if ref.index != 0 || (m.Content == nil && m.Refusal == "") {
			return it, notFound
		}
		out := item{kind: kAssistant, path: it.path, refusal: m.Refusal}
		if m.Content != nil {
			js := []byte{'['}
			for j := range m.Content {
				if j > 0 {
					js = append(js, ',')
				}
				js = appendString(append(js, `{"type":"text","text":`...), m.Content[j].Text)
				js = append(js, '}')
			}
			out.json = append(js, ']')
		}
		return out, nil
	case 'f':
		if ref.index >= len(m.ToolCalls) {
			return it, notFound
		}
		c := &m.ToolCalls[ref.index]
		return item{kind: kCall, path: it.path, id: c.ID, name: c.Name, args: c.Arguments}, nil
	}
	return it, notFound
}

// numbersValid reports whether every number in v is spelled as RFC 8259
// allows: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numbersValid(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeNumber:
		return validNumber(v.MarshalTo(nil))
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, e := range a {
			if !numbersValid(e) {
				return false
			}
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		ok := true
		o.Visit(func(_ []byte, e *fastjson.Value) {
			ok = ok && numbersValid(e)
		})
		return ok
	}
	return true
}

func validNumber(s []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
