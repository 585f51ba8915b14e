package normalize

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"github.com/valyala/fastjson"
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
// anything malformed. The returned Request does not alias body.
func DecodeOpenAI(body []byte) (*Request, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, invalid("", "We could not parse the JSON body of your request: %v", err)
	}
	obj, err := v.Object()
	if err != nil {
		return nil, invalid("", "The request body must be a JSON object.")
	}
	d := decoder{req: &Request{}}
	if err := d.top(obj); err != nil {
		return nil, err
	}
	return d.req, nil
}

type decoder struct {
	req          *Request
	maxTokens    *int
	maxCompl     *int
	toolChoice   *fastjson.Value
	parallel     *bool
	seenMessages bool
	err          error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) top(obj *fastjson.Object) error {
	r := d.req
	seen := make(map[string]struct{}, obj.Len())
	obj.Visit(func(kb []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		k := string(kb)
		if _, dup := seen[k]; dup {
			d.fail(invalid(k, "duplicate key %q", k))
			return
		}
		seen[k] = struct{}{}
		if v.Type() == fastjson.TypeNull && k != "messages" && k != "model" {
			return // null means "not sent" for every optional field
		}
		switch k {
		case "model":
			r.Model = d.str(k, v)
		case "messages":
			d.messages(v)
		case "temperature":
			r.Params.Temperature = d.float(k, v, 1)
		case "top_p":
			r.Params.TopP = d.float(k, v, 1)
		case "presence_penalty":
			r.Params.PresencePenalty = d.float(k, v, 0)
		case "frequency_penalty":
			r.Params.FrequencyPenalty = d.float(k, v, 0)
		case "n":
			if n := d.int(k, v); n != nil {
				if *n < 1 || *n > MaxN {
					d.fail(invalid(k, "n must be between 1 and %d", MaxN))
				} else if *n != 1 {
					r.Params.N = n
				}
			}
		case "max_tokens":
			d.maxTokens = d.tokens(k, v)
		case "max_completion_tokens":
			d.maxCompl = d.tokens(k, v)
		case "stop":
			d.stop(v)
		case "seed":
			if v.Type() != fastjson.TypeNumber {
				d.fail(invalid(k, "seed must be an integer"))
				return
			}
			i, err := v.Int64()
			if err != nil {
				d.fail(invalid(k, "seed must be a 64-bit integer"))
				return
			}
			r.Params.Seed = &i
		case "logit_bias":
			if v.Type() != fastjson.TypeObject {
				d.fail(invalid(k, "logit_bias must be an object"))
				return
			}
			if o, _ := v.Object(); o.Len() > 0 {
				r.Params.LogitBias = d.canon(k, v, modePlain)
			}
		case "logprobs":
			r.Params.Logprobs = d.bool(k, v)
		case "top_logprobs":
			if n := d.int(k, v); n != nil {
				if *n < 0 || *n > MaxTopLogprobs {
					d.fail(invalid(k, "top_logprobs must be between 0 and %d", MaxTopLogprobs))
				}
				r.Params.TopLogprobs = n
			}
		case "reasoning_effort":
			r.Params.ReasoningEffort = d.str(k, v)
		case "verbosity":
			r.Params.Verbosity = d.str(k, v)
		case "parallel_tool_calls":
			b := d.bool(k, v)
			d.parallel = &b
		case "modalities":
			r.Params.Modalities = d.strings(k, v)
			if len(r.Params.Modalities) == 1 && r.Params.Modalities[0] == "text" {
				r.Params.Modalities = nil // the documented default
			}
		case "audio":
			r.Params.Audio = d.canon(k, v, modePlain)
		case "prediction":
			r.Params.Prediction = d.canon(k, v, modePlain)
		case "service_tier":
			if s := d.str(k, v); s != "auto" {
				r.Params.ServiceTier = s
			}
		case "tools":
			d.tools(v)
		case "tool_choice":
			d.toolChoice = v
		case "response_format":
			d.responseFormat(v)
		case "stream":
			r.Stream = d.bool(k, v)
		case "stream_options":
			if v.Type() != fastjson.TypeObject {
				d.fail(invalid(k, "stream_options must be an object"))
				return
			}
			if iu := v.Get("include_usage"); iu != nil && iu.Type() != fastjson.TypeNull {
				r.IncludeUsage = d.bool(k+".include_usage", iu)
			}
		case "user":
			r.User = d.str(k, v)
		case "metadata", "store", "safety_identifier", "prompt_cache_key", "prompt_cache_retention":
			r.Unkeyed = append(r.Unkeyed, Field{Name: k, Value: d.canon(k, v, modePlain)})
		default:
			r.Extra = append(r.Extra, Field{Name: k, Value: d.canon(k, v, modePlain)})
		}
	})
	if d.err != nil {
		return d.err
	}
	if r.Model == "" {
		return invalid("model", "you must provide a model parameter")
	}
	if !d.seenMessages {
		return invalid("messages", "Missing required parameter: 'messages'.")
	}
	d.finishTokens()
	d.finishTools()
	sortFields(r.Extra)
	sortFields(r.Unkeyed)
	if !r.Stream {
		r.IncludeUsage = false
	}
	return d.err
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
func (d *decoder) float(param string, v *fastjson.Value, def float64) *float64 {
	if v.Type() != fastjson.TypeNumber {
		d.fail(invalid(param, "%s must be a number", param))
		return nil
	}
	f, err := strconv.ParseFloat(string(v.MarshalTo(nil)), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		d.fail(invalid(param, "%s is not a valid number", param))
		return nil
	}
	if f == def {
		return nil
	}
	return &f
}

func (d *decoder) int(param string, v *fastjson.Value) *int {
	if v.Type() != fastjson.TypeNumber {
		d.fail(invalid(param, "%s must be an integer", param))
		return nil
	}
	i, err := v.Int()
	if err != nil {
		// Accept integral floats such as 2.0, as OpenAI does.
		f, ferr := v.Float64()
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			d.fail(invalid(param, "%s must be an integer", param))
			return nil
		}
		i = int(f)
	}
	return &i
}

func (d *decoder) tokens(param string, v *fastjson.Value) *int {
	n := d.int(param, v)
	if n != nil && (*n < 1 || *n > math.MaxInt32) {
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

func (d *decoder) canon(param string, v *fastjson.Value, mode jsonMode) json.RawMessage {
	b, err := appendCanonical(nil, v, mode, param)
	if err != nil {
		d.fail(err)
		return nil
	}
	return b
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
		if len(s) > 0 {
			d.req.Params.Stop = s
		}
	default:
		d.fail(invalid("stop", "stop must be a string or an array of strings"))
	}
}

func (d *decoder) responseFormat(v *fastjson.Value) {
	if v.Type() != fastjson.TypeObject {
		d.fail(invalid("response_format", "response_format must be an object"))
		return
	}
	t := v.Get("type")
	if t == nil || t.Type() != fastjson.TypeString {
		d.fail(invalid("response_format.type", "response_format.type must be a string"))
		return
	}
	if o, _ := v.Object(); o.Len() == 1 && string(t.GetStringBytes()) == "text" {
		return // the default
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
		param := "tools[" + strconv.Itoa(i) + "]"
		if tv.Type() != fastjson.TypeObject {
			d.fail(invalid(param, "each tool must be an object"))
			return
		}
		tools = append(tools, d.tool(param, tv))
	}
	d.req.Tools = tools
}

func (d *decoder) tool(param string, tv *fastjson.Value) Tool {
	o, _ := tv.Object()
	typ := tv.Get("type")
	fn := tv.Get("function")
	if typ == nil || typ.Type() != fastjson.TypeString {
		d.fail(invalid(param+".type", "tool type must be a string"))
		return Tool{}
	}
	t := Tool{Type: string(typ.GetStringBytes())}
	simple := t.Type == "function" && o.Len() == 2 && fn != nil && fn.Type() == fastjson.TypeObject
	if simple {
		fo, _ := fn.Object()
		fo.Visit(func(k []byte, fv *fastjson.Value) {
			if !simple {
				return
			}
			switch string(k) {
			case "name":
				simple = fv.Type() == fastjson.TypeString
				t.Name = string(fv.GetStringBytes())
			case "description":
				simple = fv.Type() == fastjson.TypeString
				t.Description = string(fv.GetStringBytes())
			case "parameters":
				if fv.Type() != fastjson.TypeNull {
					t.Parameters = d.canon(param+".function.parameters", fv, modeSchema)
				}
			case "strict":
				switch fv.Type() {
				case fastjson.TypeTrue, fastjson.TypeFalse:
					b := fv.Type() == fastjson.TypeTrue
					if b {
						t.Strict = &b // false is the default
					}
				case fastjson.TypeNull:
				default:
					simple = false
				}
			default:
				simple = false
			}
		})
		if simple && t.Name == "" {
			d.fail(invalid(param+".function.name", "function name is required"))
		}
	} else if t.Type == "function" && (fn == nil || fn.Type() != fastjson.TypeObject) {
		d.fail(invalid(param+".function", "a function tool needs a function object"))
	}
	if !simple {
		// Keep everything we do not model, so nothing that shapes the answer
		// is dropped.
		name := t.Name
		t = Tool{Type: t.Type, Name: name, Raw: d.canon(param, tv, modeSchema)}
	}
	return t
}

func (d *decoder) messages(v *fastjson.Value) {
	d.seenMessages = true
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
	for i, mv := range a {
		param := "messages[" + strconv.Itoa(i) + "]"
		if mv.Type() != fastjson.TypeObject {
			d.fail(invalid(param, "each message must be an object"))
			return
		}
		d.message(param, mv, &msgs[i])
		if d.err != nil {
			return
		}
	}
	d.req.Messages = msgs
}

func (d *decoder) message(param string, mv *fastjson.Value, m *Message) {
	o, _ := mv.Object()
	var content *fastjson.Value
	o.Visit(func(kb []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		k := string(kb)
		switch k {
		case "role":
			m.Role = d.str(param+".role", v)
		case "content":
			content = v
		case "name":
			if v.Type() != fastjson.TypeNull {
				m.Name = d.str(param+".name", v)
			}
		case "tool_call_id":
			if v.Type() != fastjson.TypeNull {
				m.ToolCallID = d.str(param+".tool_call_id", v)
			}
		case "refusal":
			if v.Type() != fastjson.TypeNull {
				m.Refusal = d.str(param+".refusal", v)
			}
		case "tool_calls":
			if v.Type() != fastjson.TypeNull {
				m.ToolCalls = d.toolCalls(param+".tool_calls", v)
			}
		default:
			if v.Type() == fastjson.TypeNull {
				return
			}
			m.Extra = append(m.Extra, Field{Name: k, Value: d.canon(param+"."+k, v, modePlain)})
		}
	})
	if d.err != nil {
		return
	}
	switch m.Role {
	case RoleSystem, RoleDeveloper, RoleUser, RoleAssistant, RoleTool, "function":
	case "":
		d.fail(invalid(param+".role", "Missing required parameter: '%s.role'.", param))
		return
	default:
		d.fail(invalid(param+".role", "Invalid value: '%s'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'.", m.Role))
		return
	}
	if content != nil {
		m.Content = d.content(param+".content", content)
	}
	if m.Content == nil && len(m.ToolCalls) == 0 && m.Role != RoleAssistant {
		d.fail(invalid(param+".content", "Missing required parameter: '%s.content'.", param))
		return
	}
	if m.Role == RoleAssistant && len(m.ToolCalls) > 0 && len(m.Content) == 1 && m.Content[0].Type == PartText && m.Content[0].Text == "" {
		m.Content = nil // "" and null content beside tool calls mean the same
	}
	if m.Role == RoleTool && m.ToolCallID == "" {
		d.fail(invalid(param+".tool_call_id", "Missing required parameter: '%s.tool_call_id'.", param))
	}
	sortFields(m.Extra)
}

func (d *decoder) toolCalls(param string, v *fastjson.Value) []ToolCall {
	a, err := v.Array()
	if err != nil {
		d.fail(invalid(param, "tool_calls must be an array"))
		return nil
	}
	if len(a) == 0 {
		return nil
	}
	calls := make([]ToolCall, len(a))
	for i, cv := range a {
		p := param + "[" + strconv.Itoa(i) + "]"
		fn := cv.Get("function")
		if cv.Type() != fastjson.TypeObject || fn == nil || fn.Type() != fastjson.TypeObject {
			d.fail(invalid(p, "each tool call must be an object with a function"))
			return nil
		}
		c := &calls[i]
		c.ID = d.optStr(p+".id", cv.Get("id"))
		c.Type = d.optStr(p+".type", cv.Get("type"))
		if c.Type == "" {
			c.Type = "function"
		}
		c.Name = d.optStr(p+".function.name", fn.Get("name"))
		c.Arguments = d.optStr(p+".function.arguments", fn.Get("arguments"))
	}
	return calls
}

func (d *decoder) optStr(param string, v *fastjson.Value) string {
	if v == nil || v.Type() == fastjson.TypeNull {
		return ""
	}
	return d.str(param, v)
}

func (d *decoder) content(param string, v *fastjson.Value) []Part {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeString:
		return []Part{{Type: PartText, Text: string(v.GetStringBytes())}}
	case fastjson.TypeArray:
	default:
		d.fail(invalid(param, "content must be a string, an array of parts or null"))
		return nil
	}
	a, _ := v.Array()
	parts := make([]Part, 0, len(a))
	for i, pv := range a {
		p := param + "[" + strconv.Itoa(i) + "]"
		if pv.Type() != fastjson.TypeObject {
			d.fail(invalid(p, "each content part must be an object"))
			return nil
		}
		parts = append(parts, d.part(p, pv))
		if d.err != nil {
			return nil
		}
	}
	if len(parts) == 0 {
		return []Part{} // an empty array is not null
	}
	return parts
}

// part decodes one content part. Known shapes become typed Parts; a known
// type with unexpected members is kept whole in Raw so nothing is lost.
func (d *decoder) part(param string, pv *fastjson.Value) Part {
	o, _ := pv.Object()
	tv := pv.Get("type")
	if tv == nil || tv.Type() != fastjson.TypeString {
		d.fail(invalid(param+".type", "content part type must be a string"))
		return Part{}
	}
	p := Part{Type: string(tv.GetStringBytes())}
	ok := true
	str := func(v *fastjson.Value) string {
		if v == nil || v.Type() != fastjson.TypeString {
			ok = false
			return ""
		}
		return string(v.GetStringBytes())
	}
	switch p.Type {
	case PartText:
		p.Text = str(pv.Get("text"))
		ok = ok && o.Len() == 2
	case PartRefusal:
		p.Text = str(pv.Get("refusal"))
		ok = ok && o.Len() == 2
	case PartImageURL:
		iu := pv.Get("image_url")
		if iu != nil && iu.Type() == fastjson.TypeString {
			p.URL = str(iu) // some clients send the URL directly
		} else if iu != nil && iu.Type() == fastjson.TypeObject {
			io, _ := iu.Object()
			p.URL = str(iu.Get("url"))
			n := 1
			if dv := iu.Get("detail"); dv != nil && dv.Type() != fastjson.TypeNull {
				p.Detail = str(dv)
				n++
			}
			ok = ok && io.Len() == n
			if p.Detail == "auto" {
				p.Detail = "" // the documented default
			}
		} else {
			ok = false
		}
		ok = ok && o.Len() == 2
		if !ok && iu == nil {
			d.fail(invalid(param+".image_url", "image_url part needs an image_url object"))
			return Part{}
		}
	case PartInputAudio:
		ia := pv.Get("input_audio")
		if ia != nil && ia.Type() == fastjson.TypeObject {
			io, _ := ia.Object()
			p.Data = str(ia.Get("data"))
			p.Format = str(ia.Get("format"))
			ok = ok && io.Len() == 2
		} else {
			ok = false
		}
		ok = ok && o.Len() == 2
	case PartFile:
		f := pv.Get("file")
		if f != nil && f.Type() == fastjson.TypeObject {
			fo, _ := f.Object()
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
		ok = ok && o.Len() == 2
	default:
		ok = false
	}
	if !ok {
		return Part{Type: p.Type, Raw: d.canon(param, pv, modePlain)}
	}
	return p
}

func sortFields(fs []Field) {
	if len(fs) > 1 {
		slices.SortFunc(fs, func(a, b Field) int { return cmpString(a.Name, b.Name) })
	}
}
