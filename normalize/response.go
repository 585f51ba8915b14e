package normalize

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// ErrIncomplete reports an assembled stream that never finished every choice.
var ErrIncomplete = errors.New("stream ended before every choice finished")

// ParseOpenAIResponse decodes an OpenAI chat.completion body.
func ParseOpenAIResponse(body []byte) (*Response, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := parseCompletion(p, body)
	if err != nil {
		return nil, err
	}
	r := &Response{
		ID:                string(v.GetStringBytes("id")),
		Created:           v.GetInt64("created"),
		Model:             string(v.GetStringBytes("model")),
		SystemFingerprint: string(v.GetStringBytes("system_fingerprint")),
		ServiceTier:       string(v.GetStringBytes("service_tier")),
	}
	choices := v.GetArray("choices")
	if len(choices) == 0 {
		return nil, errors.New("chat completion has no choices")
	}
	r.Choices = make([]Choice, len(choices))
	for i, cv := range choices {
		c := &r.Choices[i]
		c.Index = cv.GetInt("index")
		c.FinishReason = string(cv.GetStringBytes("finish_reason"))
		if lp := cv.Get("logprobs"); lp != nil && lp.Type() != fastjson.TypeNull {
			c.Logprobs = lp.MarshalTo(nil)
		}
		mv := cv.Get("message")
		if mv == nil || mv.Type() != fastjson.TypeObject {
			return nil, errors.New("chat completion choice has no message")
		}
		c.Message = parseResponseMessage(mv)
	}
	if u := v.Get("usage"); u != nil && u.Type() == fastjson.TypeObject {
		r.Usage = parseUsage(u)
	}
	return r, nil
}

// parseCompletion parses body with p and checks it is a JSON object. The
// value lives until p is reused.
func parseCompletion(p *fastjson.Parser, body []byte) (*fastjson.Value, error) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, err
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New("chat completion is not a JSON object")
	}
	return v, nil
}

// SummarizeOpenAIResponse reads only what accounting needs from a
// chat.completion body: the model, the usage and each choice's index and
// finish reason (messages are left empty). It is much cheaper than
// ParseOpenAIResponse, for answers served as stored bytes.
func SummarizeOpenAIResponse(body []byte) (*Response, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := parseCompletion(p, body)
	if err != nil {
		return nil, err
	}
	r := &Response{Model: string(v.GetStringBytes("model"))}
	choices := v.GetArray("choices")
	r.Choices = make([]Choice, len(choices))
	for i, cv := range choices {
		r.Choices[i] = Choice{Index: cv.GetInt("index"), FinishReason: string(cv.GetStringBytes("finish_reason"))}
	}
	if u := v.Get("usage"); u != nil && u.Type() == fastjson.TypeObject {
		r.Usage = &Usage{
			PromptTokens:     u.GetInt("prompt_tokens"),
			CompletionTokens: u.GetInt("completion_tokens"),
			TotalTokens:      u.GetInt("total_tokens"),
		}
	}
	return r, nil
}

func parseResponseMessage(mv *fastjson.Value) Message {
	m := Message{Role: RoleAssistant}
	o, _ := mv.Object()
	o.Visit(func(kb []byte, v *fastjson.Value) {
		switch k := string(kb); k {
		case "role":
			if s := string(v.GetStringBytes()); s != "" {
				m.Role = s
			}
		case "content":
			switch v.Type() {
			case fastjson.TypeString:
				m.Content = []Part{{Type: PartText, Text: string(v.GetStringBytes())}}
			case fastjson.TypeArray:
				// Rare: some compatible servers return text parts.
				var b strings.Builder
				for _, pv := range v.GetArray() {
					b.Write(pv.GetStringBytes("text"))
				}
				m.Content = []Part{{Type: PartText, Text: b.String()}}
			}
		case "refusal":
			m.Refusal = string(v.GetStringBytes())
		case "tool_calls":
			for _, tv := range v.GetArray() {
				typ := string(tv.GetStringBytes("type"))
				if typ == "" {
					typ = "function"
				}
				m.ToolCalls = append(m.ToolCalls, ToolCall{
					ID:        string(tv.GetStringBytes("id")),
					Type:      typ,
					Name:      string(tv.GetStringBytes("function", "name")),
					Arguments: string(tv.GetStringBytes("function", "arguments")),
				})
			}
		default:
			if v.Type() != fastjson.TypeNull {
				m.Extra = append(m.Extra, Field{Name: k, Value: v.MarshalTo(nil)})
			}
		}
	})
	sortFields(m.Extra)
	return m
}

func parseUsage(u *fastjson.Value) *Usage {
	us := &Usage{
		PromptTokens:     u.GetInt("prompt_tokens"),
		CompletionTokens: u.GetInt("completion_tokens"),
		TotalTokens:      u.GetInt("total_tokens"),
	}
	if d := u.Get("prompt_tokens_details"); d != nil && d.Type() == fastjson.TypeObject {
		us.PromptTokensDetails = d.MarshalTo(nil)
	}
	if d := u.Get("completion_tokens_details"); d != nil && d.Type() == fastjson.TypeObject {
		us.CompletionTokensDetails = d.MarshalTo(nil)
	}
	if us.TotalTokens == 0 {
		us.TotalTokens = us.PromptTokens + us.CompletionTokens
	}
	return us
}

// ParseOpenAIChunk decodes the data of one chat.completion.chunk SSE event.
func ParseOpenAIChunk(data []byte) (*Chunk, error) {
	return ParseOpenAIChunkAfter(data, nil)
}

// ParseOpenAIChunkAfter is ParseOpenAIChunk for the chunk that follows prev
// in a stream: identifying fields equal to prev's (id, model, system
// fingerprint, service tier: the same in every chunk of a stream) share
// prev's strings instead of allocating their own. prev may be nil.
func ParseOpenAIChunkAfter(data []byte, prev *Chunk) (*Chunk, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(data)
	if err != nil {
		return nil, err
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New("chunk is not a JSON object")
	}
	var was Chunk
	if prev != nil {
		was = *prev
	}
	c := &Chunk{
		ID:                sameString(v.GetStringBytes("id"), was.ID),
		Created:           v.GetInt64("created"),
		Model:             sameString(v.GetStringBytes("model"), was.Model),
		SystemFingerprint: sameString(v.GetStringBytes("system_fingerprint"), was.SystemFingerprint),
		ServiceTier:       sameString(v.GetStringBytes("service_tier"), was.ServiceTier),
	}
	for _, cv := range v.GetArray("choices") {
		cc := ChunkChoice{
			Index:        cv.GetInt("index"),
			FinishReason: string(cv.GetStringBytes("finish_reason")),
		}
		if lp := cv.Get("logprobs"); lp != nil && lp.Type() != fastjson.TypeNull {
			cc.Logprobs = lp.MarshalTo(nil)
		}
		if dv := cv.Get("delta"); dv != nil && dv.Type() == fastjson.TypeObject {
			cc.Delta = parseDelta(dv)
		}
		c.Choices = append(c.Choices, cc)
	}
	if u := v.Get("usage"); u != nil && u.Type() == fastjson.TypeObject {
		c.Usage = parseUsage(u)
	}
	return c, nil
}

// sameString is b as a string, sharing s when they are equal (the
// comparison does not allocate).
func sameString(b []byte, s string) string {
	if string(b) == s {
		return s
	}
	return string(b)
}

func parseDelta(dv *fastjson.Value) Delta {
	var d Delta
	o, _ := dv.Object()
	o.Visit(func(kb []byte, v *fastjson.Value) {
		switch k := string(kb); k {
		case "role":
			d.Role = string(v.GetStringBytes())
		case "content":
			if v.Type() == fastjson.TypeString {
				s := string(v.GetStringBytes())
				d.Content = &s
			}
		case "refusal":
			if v.Type() == fastjson.TypeString {
				s := string(v.GetStringBytes())
				d.Refusal = &s
			}
		case "tool_calls":
			for _, tv := range v.GetArray() {
				d.ToolCalls = append(d.ToolCalls, ToolCallDelta{
					Index:     tv.GetInt("index"),
					ID:        string(tv.GetStringBytes("id")),
					Type:      string(tv.GetStringBytes("type")),
					Name:      string(tv.GetStringBytes("function", "name")),
					Arguments: string(tv.GetStringBytes("function", "arguments")),
				})
			}
		default:
			if v.Type() != fastjson.TypeNull {
				d.Extra = append(d.Extra, Field{Name: k, Value: v.MarshalTo(nil)})
			}
		}
	})
	return d
}

// AppendOpenAIResponse appends r as an OpenAI chat.completion JSON object.
func AppendOpenAIResponse(dst []byte, r *Response) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, r.ID)
	dst = append(dst, `,"object":"chat.completion","created":`...)
	dst = strconv.AppendInt(dst, r.Created, 10)
	dst = append(dst, `,"model":`...)
	dst = appendString(dst, r.Model)
	dst = append(dst, `,"choices":[`...)
	for i := range r.Choices {
		c := &r.Choices[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"index":`...)
		dst = strconv.AppendInt(dst, int64(c.Index), 10)
		dst = append(dst, `,"message":`...)
		dst = appendResponseMessage(dst, &c.Message)
		dst = append(dst, `,"logprobs":`...)
		dst = appendRawOrNull(dst, c.Logprobs)
		dst = append(dst, `,"finish_reason":`...)
		dst = appendString(dst, c.FinishReason)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if r.Usage != nil {
		dst = append(dst, `,"usage":`...)
		dst = AppendUsage(dst, r.Usage)
	}
	if r.ServiceTier != "" {
		dst = append(dst, `,"service_tier":`...)
		dst = appendString(dst, r.ServiceTier)
	}
	if r.SystemFingerprint != "" {
		dst = append(dst, `,"system_fingerprint":`...)
		dst = appendString(dst, r.SystemFingerprint)
	}
	return append(dst, '}')
}

func appendRawOrNull(dst, raw []byte) []byte {
	if raw == nil {
		return append(dst, "null"...)
	}
	return append(dst, raw...)
}

func appendResponseMessage(dst []byte, m *Message) []byte {
	role := m.Role
	if role == "" {
		role = RoleAssistant
	}
	dst = append(dst, `{"role":`...)
	dst = appendString(dst, role)
	dst = append(dst, `,"content":`...)
	if m.Content == nil {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, m.Text())
	}
	dst = append(dst, `,"refusal":`...)
	if m.Refusal == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, m.Refusal)
	}
	if len(m.ToolCalls) > 0 {
		dst = appendEach(dst, `,"tool_calls":[`, m.ToolCalls, appendFunctionCall)
	}
	dst = AppendMembers(dst, m.Extra)
	return append(dst, '}')
}

func orFunction(t string) string {
	if t == "" {
		return "function"
	}
	return t
}

// AppendUsage appends u as OpenAI's usage object (chat and legacy
// completions share it).
func AppendUsage(dst []byte, u *Usage) []byte {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.PromptTokens), 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CompletionTokens), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.TotalTokens), 10)
	if u.PromptTokensDetails != nil {
		dst = append(dst, `,"prompt_tokens_details":`...)
		dst = append(dst, u.PromptTokensDetails...)
	}
	if u.CompletionTokensDetails != nil {
		dst = append(dst, `,"completion_tokens_details":`...)
		dst = append(dst, u.CompletionTokensDetails...)
	}
	return append(dst, '}')
}

// AppendOpenAIChunk appends c as an OpenAI chat.completion.chunk JSON object.
func AppendOpenAIChunk(dst []byte, c *Chunk) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, c.ID)
	dst = append(dst, `,"object":"chat.completion.chunk","created":`...)
	dst = strconv.AppendInt(dst, c.Created, 10)
	dst = append(dst, `,"model":`...)
	dst = appendString(dst, c.Model)
	if c.ServiceTier != "" {
		dst = append(dst, `,"service_tier":`...)
		dst = appendString(dst, c.ServiceTier)
	}
	if c.SystemFingerprint != "" {
		dst = append(dst, `,"system_fingerprint":`...)
		dst = appendString(dst, c.SystemFingerprint)
	}
	dst = append(dst, `,"choices":[`...)
	for i := range c.Choices {
		cc := &c.Choices[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"index":`...)
		dst = strconv.AppendInt(dst, int64(cc.Index), 10)
		dst = append(dst, `,"delta":`...)
		dst = appendDelta(dst, &cc.Delta)
		dst = append(dst, `,"logprobs":`...)
		dst = appendRawOrNull(dst, cc.Logprobs)
		dst = append(dst, `,"finish_reason":`...)
		if cc.FinishReason == "" {
			dst = append(dst, "null"...)
		} else {
			dst = appendString(dst, cc.FinishReason)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if c.Usage != nil {
		dst = append(dst, `,"usage":`...)
		dst = AppendUsage(dst, c.Usage)
	}
	return append(dst, '}')
}

func appendDelta(dst []byte, d *Delta) []byte {
	dst = append(dst, '{')
	sep := func() {
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
	}
	if d.Role != "" {
		dst = append(dst, `"role":`...)
		dst = appendString(dst, d.Role)
	}
	if d.Content != nil {
		sep()
		dst = append(dst, `"content":`...)
		dst = appendString(dst, *d.Content)
	}
	if d.Refusal != nil {
		sep()
		dst = append(dst, `"refusal":`...)
		dst = appendString(dst, *d.Refusal)
	}
	if len(d.ToolCalls) > 0 {
		sep()
		dst = append(dst, `"tool_calls":[`...)
		for i, tc := range d.ToolCalls {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"index":`...)
			dst = strconv.AppendInt(dst, int64(tc.Index), 10)
			if tc.ID != "" {
				dst = append(dst, `,"id":`...)
				dst = appendString(dst, tc.ID)
			}
			if tc.Type != "" {
				dst = append(dst, `,"type":`...)
				dst = appendString(dst, tc.Type)
			}
			dst = append(dst, `,"function":{`...)
			if tc.Name != "" {
				dst = append(dst, `"name":`...)
				dst = appendString(dst, tc.Name)
				dst = append(dst, ',')
			}
			dst = append(dst, `"arguments":`...)
			dst = appendString(dst, tc.Arguments)
			dst = append(dst, `}}`...)
		}
		dst = append(dst, ']')
	}
	for _, f := range d.Extra {
		sep()
		dst = appendString(dst, f.Name)
		dst = append(dst, ':')
		dst = append(dst, f.Value...)
	}
	return append(dst, '}')
}

// Replay turns a stored response into the chunks of an equivalent stream:
// per choice a role chunk, its content, refusal and tool calls whole, then a
// finish chunk; and a final usage chunk when includeUsage is set. Joining the
// deltas reproduces the stored message exactly.
func Replay(r *Response, includeUsage bool) []Chunk {
	chunks := make([]Chunk, 0, 3*len(r.Choices)+1)
	head := func() Chunk {
		return Chunk{ID: r.ID, Created: r.Created, Model: r.Model, SystemFingerprint: r.SystemFingerprint, ServiceTier: r.ServiceTier}
	}
	for i := range r.Choices {
		c := &r.Choices[i]
		m := &c.Message
		d := Delta{Role: RoleAssistant}
		if m.Content != nil {
			s := m.Text()
			d.Content = &s
		}
		if m.Refusal != "" {
			s := m.Refusal
			d.Refusal = &s
		}
		for j, tc := range m.ToolCalls {
			d.ToolCalls = append(d.ToolCalls, ToolCallDelta{Index: j, ID: tc.ID, Type: orFunction(tc.Type), Name: tc.Name, Arguments: tc.Arguments})
		}
		d.Extra = m.Extra
		ch := head()
		ch.Choices = []ChunkChoice{{Index: c.Index, Delta: d, Logprobs: c.Logprobs}}
		if i == 0 {
			ch.PromptUsage = r.Usage // known from the start
		}
		chunks = append(chunks, ch)
		fin := head()
		fin.Choices = []ChunkChoice{{Index: c.Index, FinishReason: c.FinishReason}}
		chunks = append(chunks, fin)
	}
	if includeUsage && r.Usage != nil {
		u := head()
		u.Choices = []ChunkChoice{}
		u.Usage = r.Usage
		chunks = append(chunks, u)
	}
	return chunks
}

// Assembler accumulates stream chunks into one Response. The zero value is
// ready to use. Not safe for concurrent use.
type Assembler struct {
	r       Response
	started bool
	choices []*asmChoice
}

type asmChoice struct {
	index      int
	role       string
	content    strings.Builder
	hasContent bool
	refusal    strings.Builder
	calls      []*asmCall
	finish     string
	logprobs   [][]byte
	extra      []Field
}

type asmCall struct {
	index         int
	id, typ, name string
	args          strings.Builder
}

// Add folds one chunk into the answer.
func (a *Assembler) Add(c *Chunk) {
	if !a.started {
		a.started = true
		a.r.ID, a.r.Created, a.r.Model = c.ID, c.Created, c.Model
	}
	if c.SystemFingerprint != "" {
		a.r.SystemFingerprint = c.SystemFingerprint
	}
	if c.ServiceTier != "" {
		a.r.ServiceTier = c.ServiceTier
	}
	if c.Usage != nil {
		u := *c.Usage
		a.r.Usage = &u
	}
	for i := range c.Choices {
		cc := &c.Choices[i]
		ch := a.choice(cc.Index)
		d := &cc.Delta
		if d.Role != "" {
			ch.role = d.Role
		}
		if d.Content != nil {
			ch.hasContent = true
			ch.content.WriteString(*d.Content)
		}
		if d.Refusal != nil {
			ch.refusal.WriteString(*d.Refusal)
		}
		for _, td := range d.ToolCalls {
			call := ch.call(td.Index)
			if td.ID != "" {
				call.id = td.ID
			}
			if td.Type != "" {
				call.typ = td.Type
			}
			if td.Name != "" {
				call.name += td.Name
			}
			call.args.WriteString(td.Arguments)
		}
		for _, f := range d.Extra {
			ch.addExtra(f)
		}
		if cc.Logprobs != nil {
			ch.logprobs = append(ch.logprobs, cc.Logprobs)
		}
		if cc.FinishReason != "" {
			ch.finish = cc.FinishReason
		}
	}
}

func (a *Assembler) choice(index int) *asmChoice {
	for _, c := range a.choices {
		if c.index == index {
			return c
		}
	}
	c := &asmChoice{index: index}
	a.choices = append(a.choices, c)
	return c
}

func (c *asmChoice) call(index int) *asmCall {
	for _, tc := range c.calls {
		if tc.index == index {
			return tc
		}
	}
	tc := &asmCall{index: index}
	c.calls = append(c.calls, tc)
	return tc
}

func (c *asmChoice) addExtra(f Field) {
	for i := range c.extra {
		if c.extra[i].Name != f.Name {
			continue
		}
		prev, next := c.extra[i].Value, f.Value
		if len(prev) > 1 && prev[0] == '"' && len(next) > 1 && next[0] == '"' {
			var a, b string
			if json.Unmarshal(prev, &a) == nil && json.Unmarshal(next, &b) == nil {
				c.extra[i].Value = appendString(nil, a+b)
				return
			}
		}
		c.extra[i].Value = next
		return
	}
	c.extra = append(c.extra, Field{Name: f.Name, Value: slices.Clone(f.Value)})
}

// Complete reports whether every choice seen has a finish reason.
func (a *Assembler) Complete() bool {
	if len(a.choices) == 0 {
		return false
	}
	for _, c := range a.choices {
		if c.finish == "" {
			return false
		}
	}
	return true
}

// Response returns the assembled answer, or ErrIncomplete.
func (a *Assembler) Response() (*Response, error) {
	if !a.Complete() {
		return nil, ErrIncomplete
	}
	r := a.r
	slices.SortFunc(a.choices, func(x, y *asmChoice) int { return x.index - y.index })
	r.Choices = make([]Choice, len(a.choices))
	for i, c := range a.choices {
		m := Message{Role: c.role, Refusal: c.refusal.String()}
		if m.Role == "" {
			m.Role = RoleAssistant
		}
		if c.hasContent && (c.content.Len() > 0 || len(c.calls) == 0) {
			m.Content = []Part{{Type: PartText, Text: c.content.String()}}
		}
		slices.SortFunc(c.calls, func(x, y *asmCall) int { return x.index - y.index })
		for _, tc := range c.calls {
			m.ToolCalls = append(m.ToolCalls, ToolCall{ID: tc.id, Type: orFunction(tc.typ), Name: tc.name, Arguments: tc.args.String()})
		}
		sortFields(c.extra)
		m.Extra = c.extra
		r.Choices[i] = Choice{Index: c.index, Message: m, FinishReason: c.finish, Logprobs: mergeLogprobs(c.logprobs)}
	}
	return &r, nil
}

// mergeLogprobs concatenates the "content" and "refusal" token lists of the
// per-chunk logprobs objects, or the four lists of legacy completions
// logprobs (see mergeLegacyLogprobs).
func mergeLogprobs(parts [][]byte) json.RawMessage {
	switch len(parts) {
	case 0:
		return nil
	case 1:
		return parts[0]
	}
	var p fastjson.Parser
	if v, err := p.ParseBytes(parts[0]); err == nil && v.Get("tokens") != nil {
		return mergeLegacyLogprobs(parts)
	}
	var content, refusal []byte
	for _, part := range parts {
		v, err := p.ParseBytes(part)
		if err != nil {
			continue
		}
		for _, e := range v.GetArray("content") {
			if content != nil {
				content = append(content, ',')
			}
			content = e.MarshalTo(content)
		}
		for _, e := range v.GetArray("refusal") {
			if refusal != nil {
				refusal = append(refusal, ',')
			}
			refusal = e.MarshalTo(refusal)
		}
	}
	out := []byte(`{"content":`)
	if content == nil {
		out = append(out, "null"...)
	} else {
		out = append(append(append(out, '['), content...), ']')
	}
	out = append(out, `,"refusal":`...)
	if refusal == nil {
		out = append(out, "null"...)
	} else {
		out = append(append(append(out, '['), refusal...), ']')
	}
	return append(out, '}')
}

// legacyLists are the parallel lists of a legacy completions logprobs
// object, in the order OpenAI writes them.
var legacyLists = [...]string{"tokens", "token_logprobs", "top_logprobs", "text_offset"}

// mergeLegacyLogprobs concatenates the lists of legacy completions
// logprobs objects ({"tokens","token_logprobs","top_logprobs",
// "text_offset"}), which streams send one piece per chunk. text_offset
// values are offsets into the whole text already, so they concatenate as
// they are.
func mergeLegacyLogprobs(parts [][]byte) json.RawMessage {
	var lists [len(legacyLists)][]byte
	var p fastjson.Parser
	for _, part := range parts {
		v, err := p.ParseBytes(part)
		if err != nil {
			continue
		}
		for i, name := range legacyLists {
			for _, e := range v.GetArray(name) {
				if lists[i] != nil {
					lists[i] = append(lists[i], ',')
				}
				lists[i] = e.MarshalTo(lists[i])
			}
		}
	}
	out := []byte{'{'}
	for i, name := range legacyLists {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, name)
		out = append(out, ":["...)
		out = append(out, lists[i]...)
		out = append(out, ']')
	}
	return append(out, '}')
}
