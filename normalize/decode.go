package normalize

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// Limits that reject abusive requests before any upstream call.
const (
	MaxN           = 128     // OpenAI's own limit on n
	MaxStop        = 4       // OpenAI accepts up to 4 stop sequences
	MaxMessages    = 100_000 // far above any real context window
	MaxTopLogprobs = 20
)

var parserPool fastjson.ParserPool

// DecodeOpenAI decodes an OpenAI chat-completions request body into its
// canonical form. It validates types and shapes (not model-specific limits,
// which the provider enforces) and returns an error wrapping ErrInvalid for
// anything malformed: invalid UTF-8, invalid escapes or unpaired surrogates,
// numbers outside JSON's grammar, and duplicate member names. The returned
// Request does not alias body.
//
// See docs/normalization.md for every equivalence rule applied here.
func DecodeOpenAI(body []byte) (*Request, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	obj, err := ParseObject(p, body)
	if err != nil {
		return nil, err
	}
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	d := decoder{req: &Request{}, w: sc.w, out: sc.out}
	err = d.top(obj)
	sc.w, sc.out = d.w, d.out
	if err != nil {
		return nil, err
	}
	return d.req, nil
}

// scratch is the reusable working space of one decode.
type scratch struct {
	w   canonWriter
	out []byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{out: make([]byte, 0, 1024)} }}

func (sc *scratch) release() {
	if cap(sc.out) > 64<<10 {
		sc.out = make([]byte, 0, 1024) // do not pin one huge schema's buffer
	}
	scratchPool.Put(sc)
}

// checkEscapes rejects string escapes that fastjson would keep verbatim
// ("\x", "\u12") and unpaired UTF-16 surrogates ("\ud800"): fastjson decodes
// both to the same text as an escaped backslash, so "\\x" and "\x" would
// otherwise share a key. Backslashes only occur inside strings in valid JSON,
// so a scan for them is enough.
func checkEscapes(body []byte) error {
	if bad, ok := wirejson.CheckEscapes(body); !ok {
		return invalid("", "We could not parse the JSON body of your request: invalid escape %q in a string.", bad)
	}
	return nil
}

// Top-level members modeled by the decoder, one bit each, to reject
// duplicates without a map.
const (
	fModel = 1 << iota
	fMessages
	fTemperature
	fTopP
	fPresencePenalty
	fFrequencyPenalty
	fN
	fMaxTokens
	fMaxCompletionTokens
	fStop
	fSeed
	fLogitBias
	fLogprobs
	fTopLogprobs
	fReasoningEffort
	fVerbosity
	fParallelToolCalls
	fModalities
	fAudio
	fPrediction
	fServiceTier
	fTools
	fToolChoice
	fResponseFormat
	fStream
	fStreamOptions
	fUser
	fUnkeyed // metadata, store, ...: checked by name below
)

type decoder struct {
	w          canonWriter
	out        []byte // scratch for canonical values, copied out exactly sized
	req        *Request
	seen       uint64
	maxTokens  *int
	maxCompl   *int
	toolChoice *fastjson.Value
	parallel   *bool
	textSlab   []Part // backing store for one-part string contents
	nmsg       int    // number of messages, sizes textSlab
	err        error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// failAt records a canonicalization error under param.
func (d *decoder) failAt(err error, param string) {
	if e, ok := err.(*Error); ok && e.Param == "" {
		e.Param = param
	}
	d.fail(err)
}

// once marks a top-level member as seen and reports whether it is new.
func (d *decoder) once(bit uint64, name []byte) bool {
	if d.seen&bit != 0 {
		d.fail(invalid(string(name), "duplicate key %q", name))
		return false
	}
	d.seen |= bit
	return true
}

func (d *decoder) top(obj *fastjson.Object) error {
	r := d.req
	obj.Visit(func(kb []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		bit := topBit(kb)
		if bit != 0 && bit != fUnkeyed && !d.once(bit, kb) {
			return
		}
		if v.Type() == fastjson.TypeNull && bit != fModel && bit != fMessages {
			// null means "not sent" for every optional field; unknown names
			// are recorded (without a value) to catch duplicates.
			switch bit {
			case 0:
				r.Extra = append(r.Extra, Field{Name: string(kb)})
			case fUnkeyed:
				r.Unkeyed = append(r.Unkeyed, Field{Name: string(kb)})
			}
			return
		}
		switch bit {
		case fModel:
			r.Model = d.str("model", v)
		case fMessages:
			d.messages(v)
		case fTemperature:
			r.Params.Temperature = d.float("temperature", v, 1)
		case fTopP:
			r.Params.TopP = d.float("top_p", v, 1)
		case fPresencePenalty:
			r.Params.PresencePenalty = d.float("presence_penalty", v, 0)
		case fFrequencyPenalty:
			r.Params.FrequencyPenalty = d.float("frequency_penalty", v, 0)
		case fN:
			if n := d.int("n", v); n != nil {
				if *n < 1 || *n > MaxN {
					d.fail(invalid("n", "n must be between 1 and %d", MaxN))
				} else if *n != 1 {
					r.Params.N = n
				}
			}
		case fMaxTokens:
			d.maxTokens = d.tokens("max_tokens", v)
		case fMaxCompletionTokens:
			d.maxCompl = d.tokens("max_completion_tokens", v)
		case fStop:
			d.stop(v)
		case fSeed:
			i, ok := d.int64(v)
			if !ok {
				d.fail(invalid("seed", "seed must be a 64-bit integer"))
				return
			}
			r.Params.Seed = &i
		case fLogitBias:
			if v.Type() != fastjson.TypeObject {
				d.fail(invalid("logit_bias", "logit_bias must be an object"))
				return
			}
			if o, _ := v.Object(); o.Len() > 0 {
				r.Params.LogitBias = d.canon("logit_bias", v, modePlain)
			}
		case fLogprobs:
			r.Params.Logprobs = d.bool("logprobs", v)
		case fTopLogprobs:
			if n := d.int("top_logprobs", v); n != nil {
				if *n < 0 || *n > MaxTopLogprobs {
					d.fail(invalid("top_logprobs", "top_logprobs must be between 0 and %d", MaxTopLogprobs))
				}
				r.Params.TopLogprobs = n
			}
		case fReasoningEffort:
			r.Params.ReasoningEffort = d.str("reasoning_effort", v)
		case fVerbosity:
			r.Params.Verbosity = d.str("verbosity", v)
		case fParallelToolCalls:
			b := d.bool("parallel_tool_calls", v)
			d.parallel = &b
		case fModalities:
			m := d.strings("modalities", v)
			if len(m) == 1 && m[0] == "text" {
				m = nil // the documented default
			}
			r.Params.Modalities = sortedSet(m)
		case fAudio:
			r.Params.Audio = d.canon("audio", v, modePlain)
		case fPrediction:
			r.Params.Prediction = d.canon("prediction", v, modePlain)
		case fServiceTier:
			if s := d.str("service_tier", v); s != "auto" {
				r.Params.ServiceTier = s
			}
		case fTools:
			d.tools(v)
		case fToolChoice:
			d.toolChoice = v
		case fResponseFormat:
			d.responseFormat(v)
		case fStream:
			r.Stream = d.bool("stream", v)
		case fStreamOptions:
			d.streamOptions(v)
		case fUser:
			r.User = d.str("user", v)
		case fUnkeyed:
			k := string(kb)
			r.Unkeyed = append(r.Unkeyed, Field{Name: k, Value: d.canon(k, v, modePlain)})
		default:
			k := string(kb)
			r.Extra = append(r.Extra, Field{Name: k, Value: d.canon(k, v, modeSchema)})
		}
	})
	if d.err != nil {
		return d.err
	}
	if r.Model == "" {
		return invalid("model", "you must provide a model parameter")
	}
	if d.seen&fMessages == 0 {
		return invalid("messages", "Missing required parameter: 'messages'.")
	}
	d.finishTokens()
	d.finishTools()
	if r.Params.TopLogprobs != nil && !r.Params.Logprobs {
		d.fail(invalid("top_logprobs", "top_logprobs requires logprobs to be true"))
	}
	r.Extra = d.sortUnique("", r.Extra)
	r.Unkeyed = d.sortUnique("", r.Unkeyed)
	if !r.Stream {
		r.IncludeUsage = false
	}
	return d.err
}

// topBit maps a top-level member name to its bit; 0 for unknown names.
func topBit(k []byte) uint64 {
	switch string(k) {
	case "model":
		return fModel
	case "messages":
		return fMessages
	case "temperature":
		return fTemperature
	case "top_p":
		return fTopP
	case "presence_penalty":
		return fPresencePenalty
	case "frequency_penalty":
		return fFrequencyPenalty
	case "n":
		return fN
	case "max_tokens":
		return fMaxTokens
	case "max_completion_tokens":
		return fMaxCompletionTokens
	case "stop":
		return fStop
	case "seed":
		return fSeed
	case "logit_bias":
		return fLogitBias
	case "logprobs":
		return fLogprobs
	case "top_logprobs":
		return fTopLogprobs
	case "reasoning_effort":
		return fReasoningEffort
	case "verbosity":
		return fVerbosity
	case "parallel_tool_calls":
		return fParallelToolCalls
	case "modalities":
		return fModalities
	case "audio":
		return fAudio
	case "prediction":
		return fPrediction
	case "service_tier":
		return fServiceTier
	case "tools":
		return fTools
	case "tool_choice":
		return fToolChoice
	case "response_format":
		return fResponseFormat
	case "stream":
		return fStream
	case "stream_options":
		return fStreamOptions
	case "user":
		return fUser
	case "metadata", "store", "safety_identifier", "prompt_cache_key", "prompt_cache_retention":
		return fUnkeyed
	}
	return 0
}

// unkeyedFields are the top-level members that are pure metadata: passed
// through, never keyed. user, stream and stream_options are modeled fields.
var unkeyedFields = []string{"metadata", "prompt_cache_key", "prompt_cache_retention", "safety_identifier", "store"}

// sortUnique sorts fields by name, rejects a name that occurs twice, and
// drops the fields recorded only for that check (null values, nil Value).
func (d *decoder) sortUnique(prefix string, fs []Field) []Field {
	sortFields(fs)
	for i := 1; i < len(fs); i++ {
		if fs[i].Name == fs[i-1].Name {
			d.fail(invalid(prefix+fs[i].Name, "duplicate key %q", fs[i].Name))
			return nil
		}
	}
	fs = slices.DeleteFunc(fs, func(f Field) bool { return f.Value == nil })
	if len(fs) == 0 {
		return nil
	}
	return fs
}

func (d *decoder) finishTokens() {
	r := d.req
	switch {
	case d.maxTokens != nil && d.maxCompl != nil:
		if *d.maxTokens != *d.maxCompl {
			d.fail(invalid("max_tokens", "max_tokens and max_completion_tokens are both set to different values; send only one"))
			return
		}
		r.Params.MaxTokens, r.MaxTokensField = d.maxCompl, "max_completion_tokens"
	case d.maxCompl != nil:
		r.Params.MaxTokens, r.MaxTokensField = d.maxCompl, "max_completion_tokens"
	case d.maxTokens != nil:
		r.Params.MaxTokens, r.MaxTokensField = d.maxTokens, "max_tokens"
	}
}

// finishTools applies the defaults that depend on whether tools were sent.
func (d *decoder) finishTools() {
	r := d.req
	if d.parallel != nil && !*d.parallel && len(r.Tools) > 0 {
		r.Params.ParallelToolCalls = d.parallel // true is the default; without tools it has no effect
	}
	if d.toolChoice == nil {
		return
	}
	v := d.toolChoice
	switch v.Type() {
	case fastjson.TypeString:
		s := string(v.GetStringBytes())
		switch s {
		case "none", "auto", "required":
		default:
			d.fail(invalid("tool_choice", "tool_choice must be none, auto, required or an object"))
			return
		}
		// "auto" is the default with tools, "none" the default without.
		if (s == "auto" && len(r.Tools) > 0) || (s == "none" && len(r.Tools) == 0) {
			return
		}
		r.ToolChoice = s
	case fastjson.TypeObject:
		r.ToolChoice = string(d.canon("tool_choice", v, modePlain))
	default:
		d.fail(invalid("tool_choice", "tool_choice must be a string or an object"))
	}
}

func (d *decoder) str(param string, v *fastjson.Value) string {
	if v.Type() != fastjson.TypeString {
		d.fail(invalid(param, "%s must be a string", param))
		return ""
	}
	return string(v.GetStringBytes())
}

func (d *decoder) bool(param string, v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	d.fail(invalid(param, "%s must be a boolean", param))
	return false
}

// float decodes a number, returning nil when it equals the default def.
// Values are compared as float64, the type providers parse them into.
func (d *decoder) float(param string, v *fastjson.Value, def float64) *float64 {
	dec, _, ok := d.w.decimal(v)
	if !ok {
		d.fail(invalid(param, "%s must be a number", param))
		return nil
	}
	var tmp [48]byte
	f, err := strconv.ParseFloat(string(appendDecimal(tmp[:0], dec)), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		d.fail(invalid(param, "%s is not a valid number", param))
		return nil
	}
	if f == def {
		return nil
	}
	return &f
}

// int64 decodes an integer; integral spellings such as 2.0 and 2e0 count.
func (d *decoder) int64(v *fastjson.Value) (int64, bool) {
	dec, _, ok := d.w.decimal(v)
	if !ok {
		return 0, false
	}
	return dec.integer()
}

func (d *decoder) int(param string, v *fastjson.Value) *int {
	i, ok := d.int64(v)
	if !ok || i > math.MaxInt32 || i < math.MinInt32 {
		d.fail(invalid(param, "%s must be an integer", param))
		return nil
	}
	n := int(i)
	return &n
}

func (d *decoder) tokens(param string, v *fastjson.Value) *int {
	n := d.int(param, v)
	if n != nil && *n < 1 {
		d.fail(invalid(param, "%s must be a positive integer", param))
		return nil
	}
	return n
}

func (d *decoder) strings(param string, v *fastjson.Value) []string {
	a, err := v.Array()
	if err != nil {
		d.fail(invalid(param, "%s must be an array of strings", param))
		return nil
	}
	out := make([]string, 0, len(a))
	for _, e := range a {
		if e.Type() != fastjson.TypeString {
			d.fail(invalid(param, "%s must be an array of strings", param))
			return nil
		}
		out = append(out, string(e.GetStringBytes()))
	}
	return out
}

// sortedSet sorts s and removes repeats; nil when empty. It is used for
// lists whose order and multiplicity providers ignore (stop, modalities).
func sortedSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

func (d *decoder) canon(param string, v *fastjson.Value, mode jsonMode) json.RawMessage {
	b, err := d.canonValue(v, mode)
	if err != nil {
		d.failAt(err, param)
	}
	return b
}

// canonValue returns the canonical JSON of v in a new, exactly sized slice.
func (d *decoder) canonValue(v *fastjson.Value, mode jsonMode) (json.RawMessage, error) {
	b, err := d.w.value(d.out[:0], v, mode)
	if err != nil {
		return nil, err
	}
	d.out = b[:0]
	return bytes.Clone(b), nil
}

func (d *decoder) stop(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeString:
		if s := string(v.GetStringBytes()); s != "" {
			d.req.Params.Stop = []string{s}
		}
	case fastjson.TypeArray:
		s := d.strings("stop", v)
		if len(s) > MaxStop {
			d.fail(invalid("stop", "stop accepts at most %d sequences", MaxStop))
			return
		}
		d.req.Params.Stop = sortedSet(s)
	default:
		d.fail(invalid("stop", "stop must be a string or an array of strings"))
	}
}

func (d *decoder) streamOptions(v *fastjson.Value) {
	o, err := v.Object()
	if err != nil {
		d.fail(invalid("stream_options", "stream_options must be an object"))
		return
	}
	if k, dup := objectDuplicate(o); dup {
		d.fail(invalid("stream_options", "duplicate key %q", k))
		return
	}
	// Other members (include_obfuscation, ...) shape the transport, which
	// Ditto owns: it writes its own stream_options upstream.
	if iu := o.Get("include_usage"); iu != nil && iu.Type() != fastjson.TypeNull {
		d.req.IncludeUsage = d.bool("stream_options.include_usage", iu)
	}
}

func (d *decoder) responseFormat(v *fastjson.Value) {
	o, err := v.Object()
	if err != nil {
		d.fail(invalid("response_format", "response_format must be an object"))
		return
	}
	t := o.Get("type")
	if t == nil || t.Type() != fastjson.TypeString {
		d.fail(invalid("response_format.type", "response_format.type must be a string"))
		return
	}
	switch string(t.GetStringBytes()) {
	case "text":
		if o.Len() == 1 {
			return // the default
		}
	case "json_schema":
		// json_schema.strict defaults to false.
		if js := o.Get("json_schema"); js != nil && js.Type() == fastjson.TypeObject {
			jo, _ := js.Object()
			if s := jo.Get("strict"); s != nil && (s.Type() == fastjson.TypeFalse || s.Type() == fastjson.TypeNull) {
				if _, dup := objectDuplicate(jo); !dup {
					jo.Del("strict")
				}
			}
		}
	}
	d.req.ResponseFormat = d.canon("response_format", v, modeSchema)
}

func (d *decoder) tools(v *fastjson.Value) {
	a, err := v.Array()
	if err != nil {
		d.fail(invalid("tools", "tools must be an array"))
		return
	}
	if len(a) == 0 {
		return
	}
	tools := make([]Tool, 0, len(a))
	for i, tv := range a {
		if tv.Type() != fastjson.TypeObject {
			d.fail(invalid(indexed("tools", i, ""), "each tool must be an object"))
			return
		}
		tools = append(tools, d.tool(i, tv))
	}
	d.req.Tools = tools
}

// indexed renders a parameter path such as "tools[2].function.name".
func indexed(base string, i int, rest string) string {
	return base + "[" + strconv.Itoa(i) + "]" + rest
}

func (d *decoder) tool(i int, tv *fastjson.Value) Tool {
	o, _ := tv.Object()
	typ := o.Get("type")
	fn := o.Get("function")
	if typ == nil || typ.Type() != fastjson.TypeString {
		d.fail(invalid(indexed("tools", i, ".type"), "tool type must be a string"))
		return Tool{}
	}
	t := Tool{Type: toolType(typ.GetStringBytes())}
	simple := t.Type == "function" && o.Len() == 2 && fn != nil && fn.Type() == fastjson.TypeObject
	if simple {
		fo, _ := fn.Object()
		if _, dup := objectDuplicate(fo); dup {
			simple = false // canonicalization below reports it
		}
	}
	if simple {
		fo, _ := fn.Object()
		fo.Visit(func(k []byte, fv *fastjson.Value) {
			if !simple {
				return
			}
			null := fv.Type() == fastjson.TypeNull
			switch string(k) {
			case "name":
				simple = fv.Type() == fastjson.TypeString
				t.Name = string(fv.GetStringBytes())
			case "description":
				if !null {
					simple = fv.Type() == fastjson.TypeString
					t.Description = string(fv.GetStringBytes())
				}
			case "parameters":
				if !null {
					var err error
					if t.Parameters, err = d.canonValue(fv, modeSchema); err != nil {
						d.failAt(err, indexed("tools", i, ".function.parameters"))
					}
				}
			case "strict":
				switch fv.Type() {
				case fastjson.TypeTrue:
					b := true
					t.Strict = &b // false is the default
				case fastjson.TypeFalse, fastjson.TypeNull:
				default:
					simple = false
				}
			default:
				simple = false
			}
		})
		if simple && t.Name == "" {
			d.fail(invalid(indexed("tools", i, ".function.name"), "function name is required"))
		}
	} else if t.Type == "function" && (fn == nil || fn.Type() != fastjson.TypeObject) {
		d.fail(invalid(indexed("tools", i, ".function"), "a function tool needs a function object"))
	}
	if !simple {
		// Keep everything we do not model, so nothing that shapes the answer
		// is dropped.
		t = Tool{Type: t.Type, Raw: d.canon(indexed("tools", i, ""), tv, modeSchema)}
		if fn != nil {
			if n := fn.Get("name"); n != nil && n.Type() == fastjson.TypeString {
				t.Name = string(n.GetStringBytes())
			}
		}
	}
	return t
}

// toolType returns "function" without allocating; other types are copied.
func toolType(b []byte) string {
	if string(b) == "function" {
		return "function"
	}
	return string(b)
}

func (d *decoder) messages(v *fastjson.Value) {
	a, err := v.Array()
	if err != nil {
		d.fail(invalid("messages", "messages must be an array"))
		return
	}
	if len(a) == 0 {
		d.fail(invalid("messages", "messages must contain at least one message"))
		return
	}
	if len(a) > MaxMessages {
		d.fail(invalid("messages", "too many messages"))
		return
	}
	msgs := make([]Message, len(a))
	d.nmsg = len(a)
	for i, mv := range a {
		if mv.Type() != fastjson.TypeObject {
			d.fail(invalid(indexed("messages", i, ""), "each message must be an object"))
			return
		}
		d.message(i, mv, &msgs[i])
		if d.err != nil {
			return
		}
	}
	d.req.Messages = msgs
}

// Message members modeled by the decoder.
const (
	mRole = 1 << iota
	mContent
	mName
	mToolCallID
	mRefusal
	mToolCalls
)

// role returns r as one of the Role constants when it is one, so common
// roles cost no allocation.
func role(b []byte) string {
	switch string(b) {
	case RoleSystem:
		return RoleSystem
	case RoleDeveloper:
		return RoleDeveloper
	case RoleUser:
		return RoleUser
	case RoleAssistant:
		return RoleAssistant
	case RoleTool:
		return RoleTool
	case "function":
		return "function"
	}
	return string(b)
}

func (d *decoder) message(i int, mv *fastjson.Value, m *Message) {
	o, _ := mv.Object()
	var content *fastjson.Value
	var seen uint8
	o.Visit(func(kb []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		var bit uint8
		switch string(kb) {
		case "role":
			bit = mRole
		case "content":
			bit = mContent
		case "name":
			bit = mName
		case "tool_call_id":
			bit = mToolCallID
		case "refusal":
			bit = mRefusal
		case "tool_calls":
			bit = mToolCalls
		}
		if bit != 0 {
			if seen&bit != 0 {
				d.fail(invalid(indexed("messages", i, ""), "duplicate key %q", kb))
				return
			}
			seen |= bit
		}
		null := v.Type() == fastjson.TypeNull
		switch bit {
		case mRole:
			if v.Type() != fastjson.TypeString {
				d.fail(invalid(indexed("messages", i, ".role"), "role must be a string"))
				return
			}
			m.Role = role(v.GetStringBytes())
		case mContent:
			content = v
		case mName:
			if !null {
				m.Name = d.msgStr(i, ".name", v)
			}
		case mToolCallID:
			if !null {
				m.ToolCallID = d.msgStr(i, ".tool_call_id", v)
			}
		case mRefusal:
			if !null {
				m.Refusal = d.msgStr(i, ".refusal", v)
			}
		case mToolCalls:
			if !null {
				m.ToolCalls = d.toolCalls(i, v)
			}
		default:
			k := string(kb)
			if null {
				m.Extra = append(m.Extra, Field{Name: k}) // for the duplicate check only
				return
			}
			b, err := d.canonValue(v, modeSchema)
			if err != nil {
				d.failAt(err, indexed("messages", i, "."+k))
				return
			}
			m.Extra = append(m.Extra, Field{Name: k, Value: b})
		}
	})
	if d.err != nil {
		return
	}
	switch m.Role {
	case RoleSystem, RoleDeveloper, RoleUser, RoleAssistant, RoleTool, "function":
	case "":
		p := indexed("messages", i, ".role")
		d.fail(invalid(p, "Missing required parameter: '%s'.", p))
		return
	default:
		d.fail(invalid(indexed("messages", i, ".role"), "Invalid value: '%s'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'.", m.Role))
		return
	}
	if content != nil {
		m.Content = d.content(i, content)
	}
	if m.Content == nil && len(m.ToolCalls) == 0 && m.Role != RoleAssistant {
		p := indexed("messages", i, ".content")
		d.fail(invalid(p, "Missing required parameter: '%s'.", p))
		return
	}
	if m.Role == RoleAssistant && len(m.ToolCalls) > 0 && len(m.Content) == 1 && m.Content[0].Type == PartText && m.Content[0].Raw == nil && m.Content[0].Text == "" {
		m.Content = nil // "" and null content beside tool calls mean the same
	}
	if m.Role == RoleTool && m.ToolCallID == "" {
		p := indexed("messages", i, ".tool_call_id")
		d.fail(invalid(p, "Missing required parameter: '%s'.", p))
	}
	if len(m.Extra) > 0 {
		m.Extra = d.sortUnique(indexed("messages", i, "."), m.Extra)
	}
}

func (d *decoder) msgStr(i int, field string, v *fastjson.Value) string {
	if v.Type() != fastjson.TypeString {
		d.fail(invalid(indexed("messages", i, field), "%s must be a string", field[1:]))
		return ""
	}
	return string(v.GetStringBytes())
}

// toolCalls decodes an assistant turn's tool calls. A call with members
// Ditto does not model keeps its canonical JSON in Raw.
func (d *decoder) toolCalls(i int, v *fastjson.Value) []ToolCall {
	a, err := v.Array()
	if err != nil {
		d.fail(invalid(indexed("messages", i, ".tool_calls"), "tool_calls must be an array"))
		return nil
	}
	if len(a) == 0 {
		return nil
	}
	calls := make([]ToolCall, len(a))
	for j, cv := range a {
		c := &calls[j]
		param := func(rest string) string {
			return indexed("messages", i, indexed(".tool_calls", j, rest))
		}
		o, err := cv.Object()
		if err != nil {
			d.fail(invalid(param(""), "each tool call must be an object"))
			return nil
		}
		modeled := true
		var fn *fastjson.Value
		o.Visit(func(k []byte, v *fastjson.Value) {
			switch string(k) {
			case "id":
				c.ID, modeled = optStr(v, modeled)
			case "type":
				c.Type, modeled = optStr(v, modeled)
			case "function":
				fn = v
			default:
				modeled = false
			}
		})
		if fn != nil && fn.Type() == fastjson.TypeObject {
			fo, _ := fn.Object()
			fo.Visit(func(k []byte, v *fastjson.Value) {
				switch string(k) {
				case "name":
					c.Name, modeled = optStr(v, modeled)
				case "arguments":
					c.Arguments, modeled = optStr(v, modeled)
				default:
					modeled = false
				}
			})
			if _, dup := objectDuplicate(fo); dup {
				modeled = false
			}
		} else {
			modeled = false // e.g. a custom tool call
		}
		if _, dup := objectDuplicate(o); dup {
			modeled = false
		}
		if c.Type == "" || c.Type == "function" {
			c.Type = "function" // the default, shared rather than copied
		}
		if !modeled {
			b, err := d.canonValue(cv, modeSchema)
			if err != nil {
				d.failAt(err, param(""))
				return nil
			}
			c.Raw = b
		}
	}
	return calls
}

// optStr reads an optional string member; a wrong type clears ok so the
// containing object is kept whole.
func optStr(v *fastjson.Value, ok bool) (string, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes()), ok
	case fastjson.TypeNull:
		return "", ok
	}
	return "", false
}

func (d *decoder) content(i int, v *fastjson.Value) []Part {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeString:
		if len(d.textSlab) == 0 {
			// One allocation for every string content of the request.
			d.textSlab = make([]Part, max(d.nmsg-i, 1))
		}
		p := d.textSlab[:1:1]
		d.textSlab = d.textSlab[1:]
		p[0] = Part{Type: PartText, Text: string(v.GetStringBytes())}
		return p
	case fastjson.TypeArray:
	default:
		d.fail(invalid(indexed("messages", i, ".content"), "content must be a string, an array of parts or null"))
		return nil
	}
	a, _ := v.Array()
	parts := make([]Part, 0, len(a))
	for j, pv := range a {
		if pv.Type() != fastjson.TypeObject {
			d.fail(invalid(indexed("messages", i, indexed(".content", j, "")), "each content part must be an object"))
			return nil
		}
		parts = append(parts, d.part(i, j, pv))
		if d.err != nil {
			return nil
		}
	}
	return parts // an empty array is not null
}

// part decodes one content part. Known shapes become typed Parts; a known
// type with unexpected members is kept whole in Raw so nothing is lost.
func (d *decoder) part(i, j int, pv *fastjson.Value) Part {
	param := func(rest string) string { return indexed("messages", i, indexed(".content", j, rest)) }
	o, _ := pv.Object()
	tv := o.Get("type")
	if tv == nil || tv.Type() != fastjson.TypeString {
		d.fail(invalid(param(".type"), "content part type must be a string"))
		return Part{}
	}
	p := Part{Type: string(tv.GetStringBytes())}
	ok := o.Len() == 2
	str := func(v *fastjson.Value) string {
		if v == nil || v.Type() != fastjson.TypeString {
			ok = false
			return ""
		}
		return string(v.GetStringBytes())
	}
	switch p.Type {
	case PartText:
		p.Text = str(o.Get("text"))
	case PartRefusal:
		p.Text = str(o.Get("refusal"))
	case PartImageURL:
		iu := o.Get("image_url")
		switch {
		case iu == nil:
			d.fail(invalid(param(".image_url"), "image_url part needs an image_url object"))
			return Part{}
		case iu.Type() == fastjson.TypeString:
			p.URL = str(iu) // some clients send the URL directly
		case iu.Type() == fastjson.TypeObject:
			io, _ := iu.Object()
			p.URL = str(io.Get("url"))
			n := 1
			if dv := io.Get("detail"); dv != nil {
				n++
				if dv.Type() != fastjson.TypeNull {
					p.Detail = str(dv)
				}
			}
			ok = ok && io.Len() == n
			if p.Detail == "auto" {
				p.Detail = "" // the documented default
			}
		default:
			ok = false
		}
	case PartInputAudio:
		ia := o.Get("input_audio")
		if ia != nil && ia.Type() == fastjson.TypeObject {
			io, _ := ia.Object()
			p.Data = str(io.Get("data"))
			p.Format = str(io.Get("format"))
			ok = ok && io.Len() == 2
		} else {
			ok = false
		}
	case PartFile:
		f := o.Get("file")
		if f != nil && f.Type() == fastjson.TypeObject {
			fo, _ := f.Object()
			if _, dup := objectDuplicate(fo); dup {
				ok = false
			}
			fo.Visit(func(k []byte, v *fastjson.Value) {
				switch string(k) {
				case "file_id":
					p.FileID = str(v)
				case "file_data":
					p.Data = str(v)
				case "filename":
					p.Filename = str(v)
				default:
					ok = false
				}
			})
		} else {
			ok = false
		}
	default:
		ok = false
	}
	if !ok {
		b, err := d.canonValue(pv, modeSchema)
		if err != nil {
			d.failAt(err, param(""))
			return Part{}
		}
		return Part{Type: p.Type, Raw: b}
	}
	return p
}

func sortFields(fs []Field) {
	if len(fs) > 1 {
		slices.SortFunc(fs, func(a, b Field) int { return cmpString(a.Name, b.Name) })
	}
}
