// Package messages is Ditto's codec for Anthropic's Messages API
// (POST /v1/messages): it decodes a Messages request into the canonical
// normalize.Request and renders canonical answers as Anthropic message
// objects, event streams and errors, whichever provider produced them.
//
// Decoding translates the Messages body into the chat-completions body
// that means the same and decodes that with normalize.DecodeOpenAI, so a
// Messages request and a chat request with the same meaning have the same
// canonical form, and share cache entries. Anthropic-only members ride
// along where the canonical form keeps unknown members (content parts,
// tools, tool calls and tool messages with extra members, top-level
// pass-through fields), which the Anthropic adapter sends back as they
// were. docs/normalization.md lists every mapping.
//
// Everything here is a pure function of its input; the package keeps no
// state but pooled scratch buffers, and is safe for concurrent use.
package messages

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

var parserPool fastjson.ParserPool

// Decode decodes an Anthropic Messages request body into its canonical
// form. Errors wrap normalize.ErrInvalid as *normalize.Error naming the
// offending member in Anthropic's dotted notation ("messages.1.content.0");
// the body is checked as strictly as DecodeOpenAI checks a chat body
// (UTF-8, escapes, number grammar, duplicate member names at any depth).
// The returned Request does not alias body.
//
// The Request has no Dialect (it is the portable form chat requests share)
// and MaxTokensField "max_completion_tokens", the spelling every current
// OpenAI model accepts.
func Decode(body []byte) (*normalize.Request, error) {
	t := translators.Get().(*translator)
	defer t.release()
	req, err := normalize.DecodeTranslated(&parserPool, body, t.translate, t.mapError)
	if err != nil {
		return nil, err
	}
	req.MaxTokensField = "max_completion_tokens"
	if t.stops != nil {
		slices.Sort(t.stops)
		req.Params.Stop = slices.Compact(t.stops)
		t.stops = nil // now owned by req
	}
	return req, nil
}

func invalid(param, format string, args ...any) error {
	return normalize.Invalid(param, format, args...)
}

// unsafeString is a read-only string view of b, for appending it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// unsafeBytes is a read-only byte view of s.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Messages: what Anthropic says for the commonest mistakes.
const (
	msgRequired = "Field required"
	msgExtra    = "Extra inputs are not permitted"
	msgString   = "Input should be a valid string"
	msgObject   = "Input should be a valid dictionary"
	msgArray    = "Input should be a valid list"
	msgBool     = "Input should be a valid boolean"
)

// origin is where a message of the chat body came from, for error paths:
// msg -1 is the system prompt, block -1 a whole Messages turn.
type origin struct{ msg, block int32 }

// translator writes the chat-completions body for one Messages request.
type translator struct {
	out     []byte // the chat body
	args    []byte // scratch for tool-call arguments
	origins []origin
	nmsg    int      // chat messages written
	nparts  int      // parts written in the open content array
	stops   []string // stop_sequences when there are more than chat allows
	wirejson.FirstErr
}

var translators = sync.Pool{New: func() any { return &translator{out: make([]byte, 0, 2048)} }}

func (t *translator) release() {
	if cap(t.out) > 256<<10 {
		t.out = make([]byte, 0, 2048) // do not pin one huge body's buffer
	}
	if cap(t.args) > 64<<10 {
		t.args = nil
	}
	t.out, t.args, t.origins = t.out[:0], t.args[:0], t.origins[:0]
	t.nmsg, t.nparts, t.stops, t.Err = 0, 0, nil, nil
	translators.Put(t)
}

// Top-level members the chat API models that the Messages API does not
// have. Passing them through would make them mean their chat meaning.
var chatOnly = map[string]bool{
	"n": true, "max_completion_tokens": true, "stop": true, "seed": true, "presence_penalty": true,
	"frequency_penalty": true, "logit_bias": true, "logprobs": true, "top_logprobs": true,
	"reasoning_effort": true, "verbosity": true, "parallel_tool_calls": true, "modalities": true,
	"audio": true, "prediction": true, "response_format": true, "stream_options": true, "user": true,
	"store": true, "safety_identifier": true, "prompt_cache_key": true, "prompt_cache_retention": true,
	"functions": true, "function_call": true,
}

// translate writes the chat body for obj.
func (t *translator) translate(obj *fastjson.Object) ([]byte, error) {
	err := t.top(obj)
	return t.out, err
}

func (t *translator) top(obj *fastjson.Object) error {
	if k, dup := wirejson.Duplicate(obj); dup {
		return invalid(k, "duplicate key %q", k)
	}
	var model, maxTokens, msgs, system, metadata, stops, stream, temperature, topP,
		tools, toolChoice, tier, outputConfig *fastjson.Value
	var pass [][]byte // names of pass-through members, in order
	obj.Visit(func(kb []byte, v *fastjson.Value) {
		if v.Type() == fastjson.TypeNull {
			return // null means "not sent"
		}
		switch string(kb) {
		case "model":
			model = v
		case "max_tokens":
			maxTokens = v
		case "messages":
			msgs = v
		case "system":
			system = v
		case "metadata":
			metadata = v
		case "stop_sequences":
			stops = v
		case "stream":
			stream = v
		case "temperature":
			temperature = v
		case "top_p":
			topP = v
		case "tools":
			tools = v
		case "tool_choice":
			toolChoice = v
		case "service_tier":
			tier = v
		case "output_config":
			outputConfig = v
		default:
			if chatOnly[string(kb)] {
				t.Fail(invalid(string(kb), msgExtra))
			}
			pass = append(pass, kb)
		}
	})
	if t.Err != nil {
		return t.Err
	}
	switch {
	case model == nil:
		return invalid("model", msgRequired)
	case model.Type() != fastjson.TypeString:
		return invalid("model", msgString)
	case len(model.GetStringBytes()) == 0:
		return invalid("model", "String should have at least 1 character")
	case maxTokens == nil:
		return invalid("max_tokens", msgRequired)
	case msgs == nil:
		return invalid("messages", msgRequired)
	}
	n, ok, args := wirejson.Int(t.args, maxTokens)
	t.args = args
	if !ok {
		return invalid("max_tokens", "Input should be a valid integer")
	}
	if n < 1 {
		// Anthropic accepts 0 to warm its prompt cache: there is no answer
		// to cache or serve.
		return invalid("max_tokens", "Input should be greater than or equal to 1")
	}
	t.out = append(t.out, `{"model":`...)
	t.out = wirejson.AppendStringBytes(t.out, model.GetStringBytes())
	t.out = append(t.out, `,"messages":[`...)
	if system != nil {
		t.system(system)
	}
	t.messages(msgs)
	t.out = append(t.out, `],"max_tokens":`...)
	t.out = strconv.AppendInt(t.out, int64(n), 10)
	if stops != nil {
		t.stopSequences(stops)
	}
	t.raw("temperature", temperature)
	t.raw("top_p", topP)
	hasTools := false
	if tools != nil {
		hasTools = t.tools(tools)
	}
	if toolChoice != nil {
		t.toolChoice(toolChoice, hasTools)
	}
	if outputConfig != nil {
		t.outputConfig(outputConfig)
	}
	if metadata != nil {
		t.metadata(metadata)
	}
	t.raw("service_tier", tier)
	if stream != nil {
		t.raw("stream", stream)
		if stream.Type() == fastjson.TypeTrue {
			// Messages streams always report usage.
			t.out = append(t.out, `,"stream_options":{"include_usage":true}`...)
		}
	}
	for _, k := range pass {
		t.raw(string(k), obj.Get(string(k)))
	}
	t.out = append(t.out, '}')
	return t.Err
}

// raw writes a member whose value means the same in both APIs; the chat
// decoder checks its type under the same name.
func (t *translator) raw(name string, v *fastjson.Value) {
	if v == nil || t.Err != nil {
		return
	}
	t.out = append(t.out, ',')
	t.out = wirejson.AppendString(t.out, name)
	t.out = append(t.out, ':')
	t.value(v, func() string { return name })
}

// value writes v re-encoded and checked; param names it in errors (and is
// only called then).
func (t *translator) value(v *fastjson.Value, param func() string) {
	var err error
	if t.out, err = wirejson.AppendValue(t.out, v); err != nil {
		we := err.(*wirejson.Error)
		t.Fail(invalid(param()+we.Path, "%s", we.Message))
	}
}

func (t *translator) stopSequences(v *fastjson.Value) {
	a, err := v.Array()
	if err != nil {
		t.Fail(invalid("stop_sequences", msgArray))
		return
	}
	for i, e := range a {
		if e.Type() != fastjson.TypeString {
			t.Fail(invalid("stop_sequences."+strconv.Itoa(i), msgString))
			return
		}
	}
	if len(a) > normalize.MaxStop {
		// More than chat allows: keyed as the same sorted set, after the
		// chat decoder (which would refuse them) has run.
		t.stops = make([]string, len(a))
		for i, e := range a {
			t.stops[i] = string(e.GetStringBytes())
		}
		return
	}
	if len(a) == 0 {
		return
	}
	t.out = append(t.out, `,"stop":[`...)
	for i, e := range a {
		if i > 0 {
			t.out = append(t.out, ',')
		}
		t.out = wirejson.AppendStringBytes(t.out, e.GetStringBytes())
	}
	t.out = append(t.out, ']')
}

func (t *translator) metadata(v *fastjson.Value) {
	o, err := v.Object()
	if err != nil {
		t.Fail(invalid("metadata", msgObject))
		return
	}
	if k, dup := wirejson.Duplicate(o); dup {
		t.Fail(invalid("metadata", "duplicate key %q", k))
		return
	}
	o.Visit(func(k []byte, e *fastjson.Value) {
		switch {
		case e.Type() == fastjson.TypeNull:
		case string(k) != "user_id":
			t.Fail(invalid("metadata."+string(k), msgExtra))
		case e.Type() != fastjson.TypeString:
			t.Fail(invalid("metadata.user_id", msgString))
		case len(e.GetStringBytes()) > 0:
			t.out = append(t.out, `,"user":`...)
			t.out = wirejson.AppendStringBytes(t.out, e.GetStringBytes())
		}
	})
}

// beginMessage starts a chat message coming from Messages turn msg (-1:
// the system prompt), block (-1: the whole turn).
func (t *translator) beginMessage(msg, block int) {
	if t.nmsg > 0 {
		t.out = append(t.out, ',')
	}
	t.nmsg++
	t.origins = append(t.origins, origin{int32(msg), int32(block)})
	t.nparts = 0
}

// sep writes the comma before a content part.
func (t *translator) sep() {
	if t.nparts > 0 {
		t.out = append(t.out, ',')
	}
	t.nparts++
}

func (t *translator) system(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeString:
		t.beginMessage(-1, -1)
		t.out = append(t.out, `{"role":"system","content":`...)
		t.out = wirejson.AppendStringBytes(t.out, v.GetStringBytes())
		t.out = append(t.out, '}')
	case fastjson.TypeArray:
		t.beginMessage(-1, -1)
		t.out = append(t.out, `{"role":"system","content":[`...)
		for j, bv := range v.GetArray() {
			p := indexed("system", j)
			o, typ := t.blockHead(p, bv)
			if t.Err != nil {
				return
			}
			if typ != "text" {
				t.Fail(invalid(p.String()+".type", "Input should be 'text'"))
				return
			}
			t.text(p, o)
		}
		t.out = append(t.out, `]}`...)
	default:
		t.Fail(invalid("system", "Input should be a valid string or a list of text blocks"))
	}
}

func (t *translator) messages(v *fastjson.Value) {
	a, err := v.Array()
	if err != nil {
		t.Fail(invalid("messages", msgArray))
		return
	}
	if len(a) == 0 {
		t.Fail(invalid("messages", "List should have at least 1 item"))
		return
	}
	if len(a) > normalize.MaxMessages {
		t.Fail(invalid("messages", "too many messages"))
		return
	}
	for i, mv := range a {
		base := indexed("messages", i) // rendered only for errors
		o, err := mv.Object()
		if err != nil {
			t.Fail(invalid(base.String(), msgObject))
			return
		}
		if k, dup := wirejson.Duplicate(o); dup {
			t.Fail(invalid(base.String(), "duplicate key %q", k))
			return
		}
		var role, content *fastjson.Value
		o.Visit(func(k []byte, e *fastjson.Value) {
			switch string(k) {
			case "role":
				role = e
			case "content":
				content = e
			default:
				if e.Type() != fastjson.TypeNull {
					t.Fail(invalid(base.String()+"."+string(k), msgExtra))
				}
			}
		})
		switch {
		case t.Err != nil:
			return
		case role == nil || role.Type() == fastjson.TypeNull:
			t.Fail(invalid(base.String()+".role", msgRequired))
			return
		case content == nil || content.Type() == fastjson.TypeNull:
			t.Fail(invalid(base.String()+".content", msgRequired))
			return
		case content.Type() != fastjson.TypeString && content.Type() != fastjson.TypeArray:
			t.Fail(invalid(base.String()+".content", "Input should be a valid string or a list of content blocks"))
			return
		}
		switch string(role.GetStringBytes()) {
		case "user":
			t.user(i, content)
		case "assistant":
			t.assistant(i, content)
		default:
			t.Fail(invalid(base.String()+".role", "Input should be 'user' or 'assistant'"))
		}
		if t.Err != nil {
			return
		}
	}
}

// path names a member in errors; the string is only built when one is
// reported.
type path struct {
	base  string // "system", "tools", ...; "" for messages.<msg>.content
	msg   int
	block int // index below base, -1 for none
	inner int // block of a tool_result's content, -1 when not inside one
}

func (p path) String() string {
	var b strings.Builder
	if p.base != "" {
		b.WriteString(p.base)
	} else {
		b.WriteString("messages.")
		b.WriteString(strconv.Itoa(p.msg))
		b.WriteString(".content")
	}
	if p.block >= 0 {
		b.WriteByte('.')
		b.WriteString(strconv.Itoa(p.block))
	}
	if p.inner >= 0 && p.base == "" {
		b.WriteString(".content.")
		b.WriteString(strconv.Itoa(p.inner))
	}
	return b.String()
}

func blockPath(msg, block int) path { return path{msg: msg, block: block, inner: -1} }

func indexed(base string, i int) path { return path{base: base, block: i, inner: -1} }

// blockHead checks that a content block is an object without duplicate
// members and returns it with its type.
func (t *translator) blockHead(p path, bv *fastjson.Value) (*fastjson.Object, string) {
	o, err := bv.Object()
	if err != nil {
		t.Fail(invalid(p.String(), msgObject))
		return nil, ""
	}
	if k, dup := wirejson.Duplicate(o); dup {
		t.Fail(invalid(p.String(), "duplicate key %q", k))
		return nil, ""
	}
	tv := o.Get("type")
	if tv == nil {
		t.Fail(invalid(p.String()+".type", msgRequired))
		return nil, ""
	}
	if tv.Type() != fastjson.TypeString {
		t.Fail(invalid(p.String()+".type", msgString))
		return nil, ""
	}
	return o, blockType(tv.GetStringBytes())
}

// blockType returns common block types without allocating.
func blockType(b []byte) string {
	for _, s := range [...]string{"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"} {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}

func (t *translator) user(i int, content *fastjson.Value) {
	if content.Type() == fastjson.TypeString {
		t.beginMessage(i, -1)
		t.out = append(t.out, `{"role":"user","content":`...)
		t.out = wirejson.AppendStringBytes(t.out, content.GetStringBytes())
		t.out = append(t.out, '}')
		return
	}
	blocks := content.GetArray()
	open, wrote := false, false
	for j, bv := range blocks {
		p := blockPath(i, j)
		o, typ := t.blockHead(p, bv)
		if t.Err != nil {
			return
		}
		if typ == "tool_result" {
			// Chat says a tool result as a tool message of its own, placed
			// where the result is; the text around it stays in user
			// messages before and after.
			if open {
				t.out = append(t.out, `]}`...)
				open = false
			}
			t.toolResult(p, o)
			wrote = true
			continue
		}
		if !open {
			t.beginMessage(i, j)
			t.out = append(t.out, `{"role":"user","content":[`...)
			open, wrote = true, true
		}
		t.block(p, o, typ)
	}
	if t.Err != nil {
		return
	}
	if open {
		t.out = append(t.out, `]}`...)
	}
	if !wrote {
		t.beginMessage(i, -1)
		t.out = append(t.out, `{"role":"user","content":[]}`...)
	}
}

func (t *translator) assistant(i int, content *fastjson.Value) {
	t.beginMessage(i, -1)
	if content.Type() == fastjson.TypeString {
		t.out = append(t.out, `{"role":"assistant","content":`...)
		t.out = wirejson.AppendStringBytes(t.out, content.GetStringBytes())
		t.out = append(t.out, '}')
		return
	}
	blocks := content.GetArray()
	t.out = append(t.out, `{"role":"assistant"`...)
	mark := len(t.out)
	t.out = append(t.out, `,"content":[`...)
	calls := 0
	for j, bv := range blocks {
		p := blockPath(i, j)
		o, typ := t.blockHead(p, bv)
		if t.Err != nil {
			return
		}
		if typ == "tool_use" {
			calls++
			continue // after the content, as chat orders them
		}
		t.block(p, o, typ)
	}
	if t.Err != nil {
		return
	}
	if calls == 0 {
		t.out = append(t.out, `]}`...)
		return
	}
	if t.nparts == 0 {
		t.out = t.out[:mark] // no content beside tool calls is null content
	} else {
		t.out = append(t.out, ']')
	}
	t.out = append(t.out, `,"tool_calls":[`...)
	n := 0
	for j, bv := range blocks {
		o, _ := bv.Object()
		if string(o.Get("type").GetStringBytes()) != "tool_use" {
			continue
		}
		if n > 0 {
			t.out = append(t.out, ',')
		}
		n++
		t.toolUse(blockPath(i, j), o)
		if t.Err != nil {
			return
		}
	}
	t.out = append(t.out, `]}`...)
}

// Block types that are chat part types but not Anthropic block types: a
// Messages block of such a type would take on its chat meaning.
func chatPartType(typ string) bool {
	switch typ {
	case normalize.PartImageURL, normalize.PartInputAudio, normalize.PartFile, normalize.PartRefusal:
		return true
	}
	return false
}

// block writes one content block as a chat content part (or nothing, for
// a thinking block without a signature).
func (t *translator) block(p path, o *fastjson.Object, typ string) {
	switch typ {
	case "text":
		t.text(p, o)
	case "image":
		t.image(p, o)
	case "document":
		t.document(p, o)
	case "thinking":
		sig := o.Get("signature")
		th := o.Get("thinking")
		if th == nil || th.Type() != fastjson.TypeString {
			t.Fail(invalid(p.String()+".thinking", msgString))
			return
		}
		if sig == nil || sig.Type() == fastjson.TypeNull || (sig.Type() == fastjson.TypeString && len(sig.GetStringBytes()) == 0) {
			// Unsigned thinking (Ditto renders a non-Anthropic model's
			// reasoning so) cannot be verified by Anthropic and means
			// nothing to other providers: no provider is sent it.
			return
		}
		if sig.Type() != fastjson.TypeString {
			t.Fail(invalid(p.String()+".signature", msgString))
			return
		}
		t.verbatim(p, o)
	default:
		if chatPartType(typ) {
			t.Fail(invalid(p.String()+".type", "Input tag '%s' found using 'type' does not match any of the expected tags", typ))
			return
		}
		// Anthropic blocks chat cannot say (redacted_thinking,
		// search_result, server tool blocks, ...) are kept as parts of
		// their own type; the Anthropic adapter sends them as they are.
		t.verbatim(p, o)
	}
}

// verbatim writes a block as it is, without its null members.
func (t *translator) verbatim(p path, o *fastjson.Object) {
	t.sep()
	t.members(p, o, nil, true)
}

// members writes o's non-null members as an object (braces) or as further
// members of an object being written (each preceded by a comma), skipping
// those skip names. p names o in errors.
func (t *translator) members(p path, o *fastjson.Object, skip func(k []byte) bool, braces bool) {
	if braces {
		t.out = append(t.out, '{')
	}
	first := braces
	o.Visit(func(kb []byte, v *fastjson.Value) {
		if t.Err != nil || v.Type() == fastjson.TypeNull || (skip != nil && skip(kb)) {
			return
		}
		if !first {
			t.out = append(t.out, ',')
		}
		first = false
		t.out = wirejson.AppendStringBytes(t.out, kb)
		t.out = append(t.out, ':')
		t.value(v, func() string { return p.String() + "." + string(kb) })
	})
	if braces {
		t.out = append(t.out, '}')
	}
}

// extras reports whether o has non-null members other than those known.
func extras(o *fastjson.Object, known func(k []byte) bool) bool {
	found := false
	o.Visit(func(kb []byte, v *fastjson.Value) {
		if !found && v.Type() != fastjson.TypeNull && !known(kb) {
			found = true
		}
	})
	return found
}

// isTypeOr returns a test for the member names "type" and names.
func isTypeOr(names ...string) func([]byte) bool {
	return func(k []byte) bool {
		if string(k) == "type" {
			return true
		}
		for _, n := range names {
			if string(k) == n {
				return true
			}
		}
		return false
	}
}

var (
	textKnown     = isTypeOr("text")
	sourceKnown   = isTypeOr("source")
	toolUseKnown  = isTypeOr("id", "name", "input", "caller")
	resultKnown   = isTypeOr("tool_use_id", "content", "is_error")
	clientTool    = isTypeOr("name", "description", "input_schema", "strict")
	base64Known   = isTypeOr("media_type", "data")
	urlKnown      = isTypeOr("url")
	toolUseChat   = isTypeOr("id", "function", "index")
	toolMsgMember = isTypeOr("role", "content", "name", "tool_call_id", "refusal", "tool_calls")
)

func (t *translator) text(p path, o *fastjson.Object) {
	tv := o.Get("text")
	if tv == nil || tv.Type() != fastjson.TypeString {
		t.Fail(invalid(p.String()+".text", msgString))
		return
	}
	if extras(o, textKnown) {
		// cache_control, citations: an Anthropic text block is a chat
		// text part with more members, kept whole.
		t.verbatim(p, o)
		return
	}
	t.sep()
	t.out = append(t.out, `{"type":"text","text":`...)
	t.out = wirejson.AppendStringBytes(t.out, tv.GetStringBytes())
	t.out = append(t.out, '}')
}

// source returns a media block's source object with its type, or nil
// after reporting a malformed one.
func (t *translator) source(p path, o *fastjson.Object) (*fastjson.Object, string) {
	sv := o.Get("source")
	if sv == nil || sv.Type() == fastjson.TypeNull {
		t.Fail(invalid(p.String()+".source", msgRequired))
		return nil, ""
	}
	so, err := sv.Object()
	if err != nil {
		t.Fail(invalid(p.String()+".source", msgObject))
		return nil, ""
	}
	if k, dup := wirejson.Duplicate(so); dup {
		t.Fail(invalid(p.String()+".source", "duplicate key %q", k))
		return nil, ""
	}
	st := so.Get("type")
	if st == nil || st.Type() != fastjson.TypeString {
		t.Fail(invalid(p.String()+".source.type", msgString))
		return nil, ""
	}
	return so, string(st.GetStringBytes())
}

// base64Source reads a {type: base64, media_type, data} source; ok is
// false when it has other members (it is then kept whole).
func (t *translator) base64Source(p path, so *fastjson.Object) (mt, data []byte, ok bool) {
	mv, dv := so.Get("media_type"), so.Get("data")
	if mv == nil || mv.Type() != fastjson.TypeString {
		t.Fail(invalid(p.String()+".source.media_type", msgString))
		return nil, nil, false
	}
	if dv == nil || dv.Type() != fastjson.TypeString {
		t.Fail(invalid(p.String()+".source.data", msgString))
		return nil, nil, false
	}
	return mv.GetStringBytes(), dv.GetStringBytes(), !extras(so, base64Known)
}

func (t *translator) image(p path, o *fastjson.Object) {
	so, st := t.source(p, o)
	if t.Err != nil {
		return
	}
	var mt, data, url []byte
	ok := false
	switch st {
	case "base64":
		mt, data, ok = t.base64Source(p, so)
	case "url":
		uv := so.Get("url")
		if uv == nil || uv.Type() != fastjson.TypeString {
			t.Fail(invalid(p.String()+".source.url", msgString))
			return
		}
		url, ok = uv.GetStringBytes(), !extras(so, urlKnown)
	}
	if t.Err != nil {
		return
	}
	if !ok {
		t.verbatim(p, o) // a file source, or members Ditto does not model
		return
	}
	t.sep()
	t.out = append(t.out, `{"type":"image_url","image_url":{"url":`...)
	if url != nil {
		t.out = wirejson.AppendStringBytes(t.out, url)
	} else {
		t.dataURL(mt, data)
	}
	t.out = append(t.out, '}')
	t.members(p, o, sourceKnown, false) // cache_control
	t.out = append(t.out, '}')
}

// dataURL writes "data:<mt>;base64,<data>" as a JSON string, the spelling
// chat clients use for inline media.
func (t *translator) dataURL(mt, data []byte) {
	t.out = append(t.out, `"data:`...)
	t.out = wirejson.AppendStringContent(t.out, unsafeString(mt))
	t.out = append(t.out, ";base64,"...)
	t.out = wirejson.AppendStringContent(t.out, unsafeString(data))
	t.out = append(t.out, '"')
}

func (t *translator) document(p path, o *fastjson.Object) {
	so, st := t.source(p, o)
	if t.Err != nil {
		return
	}
	if st != "base64" {
		t.verbatim(p, o) // text, content, url and file sources: chat has no part for them
		return
	}
	mt, data, ok := t.base64Source(p, so)
	if t.Err != nil {
		return
	}
	if !ok || string(mt) != "application/pdf" {
		t.verbatim(p, o)
		return
	}
	t.sep()
	t.out = append(t.out, `{"type":"file","file":{"file_data":`...)
	t.dataURL(mt, data)
	t.out = append(t.out, '}')
	t.members(p, o, sourceKnown, false) // title, context, citations, cache_control
	t.out = append(t.out, '}')
}

func (t *translator) toolResult(p path, o *fastjson.Object) {
	id := o.Get("tool_use_id")
	if id == nil || id.Type() != fastjson.TypeString {
		t.Fail(invalid(p.String()+".tool_use_id", msgString))
		return
	}
	isErr := o.Get("is_error")
	if isErr != nil && isErr.Type() != fastjson.TypeNull && isErr.Type() != fastjson.TypeTrue && isErr.Type() != fastjson.TypeFalse {
		t.Fail(invalid(p.String()+".is_error", msgBool))
		return
	}
	bad := ""
	o.Visit(func(kb []byte, v *fastjson.Value) {
		if bad == "" && v.Type() != fastjson.TypeNull && !resultKnown(kb) && toolMsgMember(kb) {
			bad = string(kb)
		}
	})
	if bad != "" {
		t.Fail(invalid(p.String()+"."+bad, msgExtra))
		return
	}
	t.beginMessage(p.msg, p.block)
	t.out = append(t.out, `{"role":"tool","tool_call_id":`...)
	t.out = wirejson.AppendStringBytes(t.out, id.GetStringBytes())
	t.out = append(t.out, `,"content":`...)
	switch c := o.Get("content"); {
	case c == nil || c.Type() == fastjson.TypeNull:
		t.out = append(t.out, `""`...) // no content is empty content
	case c.Type() == fastjson.TypeString:
		t.out = wirejson.AppendStringBytes(t.out, c.GetStringBytes())
	case c.Type() == fastjson.TypeArray:
		t.out = append(t.out, '[')
		for k, bv := range c.GetArray() {
			ip := p
			ip.inner = k
			bo, typ := t.blockHead(ip, bv)
			if t.Err != nil {
				return
			}
			t.block(ip, bo, typ)
		}
		t.out = append(t.out, ']')
	default:
		t.Fail(invalid(p.String()+".content", "Input should be a valid string or a list of content blocks"))
		return
	}
	if isErr != nil && isErr.Type() == fastjson.TypeTrue {
		t.out = append(t.out, `,"is_error":true`...) // false is the default
	}
	// cache_control and anything else ride as members of the tool message.
	t.members(p, o, resultKnown, false)
	t.out = append(t.out, '}')
}

func (t *translator) toolUse(p path, o *fastjson.Object) {
	id, name, input := o.Get("id"), o.Get("name"), o.Get("input")
	switch {
	case id == nil || id.Type() != fastjson.TypeString:
		t.Fail(invalid(p.String()+".id", msgString))
		return
	case name == nil || name.Type() != fastjson.TypeString:
		t.Fail(invalid(p.String()+".name", msgString))
		return
	case input == nil || input.Type() != fastjson.TypeObject:
		t.Fail(invalid(p.String()+".input", msgObject))
		return
	}
	t.out = append(t.out, `{"id":`...)
	t.out = wirejson.AppendStringBytes(t.out, id.GetStringBytes())
	t.out = append(t.out, `,"type":"function","function":{"name":`...)
	t.out = wirejson.AppendStringBytes(t.out, name.GetStringBytes())
	t.out = append(t.out, `,"arguments":`...)
	var err error
	if t.args, err = wirejson.AppendValue(t.args[:0], input); err != nil {
		we := err.(*wirejson.Error)
		t.Fail(invalid(p.String()+".input"+we.Path, "%s", we.Message))
		return
	}
	t.out = wirejson.AppendStringBytes(t.out, t.args) // compact JSON, members in the model's order
	t.out = append(t.out, '}')
	bad := ""
	o.Visit(func(kb []byte, v *fastjson.Value) {
		if bad == "" && v.Type() != fastjson.TypeNull && toolUseChat(kb) && !toolUseKnown(kb) {
			bad = string(kb)
		}
	})
	if bad != "" {
		t.Fail(invalid(p.String()+"."+bad, msgExtra))
		return
	}
	t.members(p, o, func(k []byte) bool {
		if string(k) == "caller" {
			// {"type":"direct"} is what every call the model makes itself
			// carries: the default. Other callers (code execution) are kept.
			return isDirectCaller(o.Get("caller"))
		}
		return toolUseKnown(k)
	}, false)
	t.out = append(t.out, '}')
}

func isDirectCaller(v *fastjson.Value) bool {
	o, err := v.Object()
	if err != nil || o.Len() != 1 {
		return false
	}
	tv := o.Get("type")
	return tv != nil && string(tv.GetStringBytes()) == "direct"
}

// tools writes the tool list and reports whether there is any tool.
func (t *translator) tools(v *fastjson.Value) bool {
	a, err := v.Array()
	if err != nil {
		t.Fail(invalid("tools", msgArray))
		return false
	}
	if len(a) == 0 {
		return false
	}
	t.out = append(t.out, `,"tools":[`...)
	for i, tv := range a {
		if i > 0 {
			t.out = append(t.out, ',')
		}
		t.tool(i, tv)
		if t.Err != nil {
			return false
		}
	}
	t.out = append(t.out, ']')
	return true
}

func (t *translator) tool(i int, tv *fastjson.Value) {
	p := indexed("tools", i)
	base := p.String() // for errors; one short string per tool
	o, err := tv.Object()
	if err != nil {
		t.Fail(invalid(base, msgObject))
		return
	}
	if k, dup := wirejson.Duplicate(o); dup {
		t.Fail(invalid(base, "duplicate key %q", k))
		return
	}
	typ := o.Get("type")
	if typ != nil && typ.Type() != fastjson.TypeNull {
		if typ.Type() != fastjson.TypeString {
			t.Fail(invalid(base+".type", msgString))
			return
		}
		if s := string(typ.GetStringBytes()); s != "custom" {
			if s == "function" {
				t.Fail(invalid(base+".type", "Input tag 'function' found using 'type' does not match any of the expected tags"))
				return
			}
			// A server tool (web_search_20250305, bash_20250124, ...):
			// kept as it is, for the Anthropic adapter to send.
			t.members(p, o, nil, true)
			return
		}
	}
	name, desc, schema, strict := o.Get("name"), o.Get("description"), o.Get("input_schema"), o.Get("strict")
	switch {
	case name == nil || name.Type() != fastjson.TypeString:
		t.Fail(invalid(base+".name", msgString))
		return
	case desc != nil && desc.Type() != fastjson.TypeNull && desc.Type() != fastjson.TypeString:
		t.Fail(invalid(base+".description", msgString))
		return
	case schema == nil || schema.Type() != fastjson.TypeObject:
		t.Fail(invalid(base+".input_schema", msgObject))
		return
	case strict != nil && strict.Type() != fastjson.TypeNull && strict.Type() != fastjson.TypeTrue && strict.Type() != fastjson.TypeFalse:
		t.Fail(invalid(base+".strict", msgBool))
		return
	}
	if o.Get("function") != nil {
		t.Fail(invalid(base+".function", msgExtra))
		return
	}
	t.out = append(t.out, `{"type":"function","function":{"name":`...)
	t.out = wirejson.AppendStringBytes(t.out, name.GetStringBytes())
	if desc != nil && desc.Type() == fastjson.TypeString {
		t.out = append(t.out, `,"description":`...)
		t.out = wirejson.AppendStringBytes(t.out, desc.GetStringBytes())
	}
	t.out = append(t.out, `,"parameters":`...)
	t.value(schema, func() string { return base + ".input_schema" })
	if strict != nil && strict.Type() == fastjson.TypeTrue {
		t.out = append(t.out, `,"strict":true`...)
	}
	t.out = append(t.out, '}')
	// cache_control, defer_loading, input_examples, ...: members of the
	// chat tool, which keeps the tool whole in the canonical form.
	t.members(p, o, clientTool, false)
	t.out = append(t.out, '}')
}

func (t *translator) toolChoice(v *fastjson.Value, hasTools bool) {
	o, err := v.Object()
	if err != nil {
		t.Fail(invalid("tool_choice", msgObject))
		return
	}
	if k, dup := wirejson.Duplicate(o); dup {
		t.Fail(invalid("tool_choice", "duplicate key %q", k))
		return
	}
	tv := o.Get("type")
	if tv == nil || tv.Type() != fastjson.TypeString {
		t.Fail(invalid("tool_choice.type", msgString))
		return
	}
	typ := string(tv.GetStringBytes())
	var name, disable *fastjson.Value
	o.Visit(func(kb []byte, e *fastjson.Value) {
		switch k := string(kb); {
		case k == "type" || e.Type() == fastjson.TypeNull:
		case k == "name" && typ == "tool":
			name = e
		case k == "disable_parallel_tool_use" && typ != "none":
			disable = e
		default:
			t.Fail(invalid("tool_choice."+k, msgExtra))
		}
	})
	if t.Err != nil {
		return
	}
	switch typ {
	case "auto":
		t.out = append(t.out, `,"tool_choice":"auto"`...)
	case "any":
		t.out = append(t.out, `,"tool_choice":"required"`...)
	case "none":
		t.out = append(t.out, `,"tool_choice":"none"`...)
	case "tool":
		if name == nil || name.Type() != fastjson.TypeString {
			t.Fail(invalid("tool_choice.name", msgString))
			return
		}
		t.out = append(t.out, `,"tool_choice":{"type":"function","function":{"name":`...)
		t.out = wirejson.AppendStringBytes(t.out, name.GetStringBytes())
		t.out = append(t.out, `}}`...)
	default:
		t.Fail(invalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'"))
		return
	}
	switch {
	case disable == nil || disable.Type() == fastjson.TypeFalse:
	case disable.Type() == fastjson.TypeTrue:
		if hasTools {
			t.out = append(t.out, `,"parallel_tool_calls":false`...)
		}
	default:
		t.Fail(invalid("tool_choice.disable_parallel_tool_use", msgBool))
	}
}

// outputConfig maps output_config.format json_schema to chat's
// response_format; any other output_config (effort, ...) is passed
// through for the Anthropic adapter.
func (t *translator) outputConfig(v *fastjson.Value) {
	o, err := v.Object()
	if err != nil {
		t.Fail(invalid("output_config", msgObject))
		return
	}
	if schema := jsonSchemaFormat(o); schema != nil {
		// Anthropic's structured outputs always constrain decoding: strict.
		t.out = append(t.out, `,"response_format":{"type":"json_schema","json_schema":{"name":"output","schema":`...)
		t.value(schema, func() string { return "output_config.format.schema" })
		t.out = append(t.out, `,"strict":true}}`...)
		return
	}
	t.raw("output_config", v)
}

// jsonSchemaFormat returns the schema of {"format":{"type":"json_schema",
// "schema":{...}}} and nothing else, or nil.
func jsonSchemaFormat(o *fastjson.Object) *fastjson.Value {
	if extras(o, func(k []byte) bool { return string(k) == "format" }) {
		return nil
	}
	fv := o.Get("format")
	if fv == nil || fv.Type() != fastjson.TypeObject {
		return nil
	}
	fo, _ := fv.Object()
	if extras(fo, isTypeOr("schema")) || string(fo.Get("type").GetStringBytes()) != "json_schema" {
		return nil
	}
	if _, dup := wirejson.Duplicate(fo); dup {
		return nil
	}
	s := fo.Get("schema")
	if s == nil || s.Type() != fastjson.TypeObject {
		return nil
	}
	return s
}

// mapError renames the chat parameter of a DecodeOpenAI error to the
// Messages member it came from. The translation checks what it writes, so
// this is a safety net, not the usual path.
func (t *translator) mapError(err error) error {
	e, ok := err.(*normalize.Error)
	if !ok {
		return err
	}
	param := e.Param
	switch {
	case strings.HasPrefix(param, "messages["):
		param = t.messageParam(param)
	case strings.HasPrefix(param, "tools["):
		if end := strings.IndexByte(param, ']'); end > 0 {
			param = "tools." + param[len("tools["):end]
		}
	case param == "stop":
		param = "stop_sequences"
	case param == "user":
		param = "metadata.user_id"
	case param == "parallel_tool_calls":
		param = "tool_choice.disable_parallel_tool_use"
	case strings.HasPrefix(param, "response_format"):
		param = "output_config"
	case strings.HasPrefix(param, "stream_options"):
		param = "stream"
	}
	return &normalize.Error{Param: param, Message: e.Message}
}

func (t *translator) messageParam(param string) string {
	end := strings.IndexByte(param, ']')
	k, err := strconv.Atoi(param[len("messages["):max(end, len("messages["))])
	if end < 0 || err != nil || k < 0 || k >= len(t.origins) {
		return "messages"
	}
	o := t.origins[k]
	switch {
	case o.msg < 0:
		return "system"
	case o.block < 0:
		return "messages." + strconv.Itoa(int(o.msg))
	default:
		return "messages." + strconv.Itoa(int(o.msg)) + ".content." + strconv.Itoa(int(o.block))
	}
}
