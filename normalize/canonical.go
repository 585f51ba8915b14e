package normalize

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// Canonical returns the canonical encoding of the keyed part of r: a compact
// JSON document with a fixed member order, independent of how the client
// spelled the request, of map iteration order, Go version and platform. The
// model is not included: the cache key's route names the resolved provider
// and upstream model, so aliases share entries. Inline media (data: URLs,
// base64 audio and files) appear as SHA-256 digests.
//
// The encoding is versioned by cachekey.Version; any change to it must bump
// that version (testdata/keys.golden fails first). See docs/normalization.md
// for every rule.
func Canonical(r *Request) []byte {
	return CanonicalWith(r, Options{})
}

// CanonicalWith is Canonical with a route's looser matching options. Keys
// made with non-zero options must live in their own namespace (see
// Options.Tag) so that loose and strict entries never mix.
func CanonicalWith(r *Request, o Options) []byte {
	return AppendCanonicalWith(make([]byte, 0, canonicalSizeHint(r)), r, o)
}

// AppendCanonical appends the canonical encoding of r (as Canonical) to dst.
func AppendCanonical(dst []byte, r *Request) []byte {
	return AppendCanonicalWith(dst, r, Options{})
}

// AppendCanonicalWith appends the encoding of CanonicalWith to dst. Callers
// that only hash the bytes can reuse one buffer across requests.
func AppendCanonicalWith(dst []byte, r *Request, o Options) []byte {
	c := canonicalizer{trim: o.TrimTrailingWhitespace}
	if len(o.IgnoreFields) > 0 {
		c.ignore = o.normalizedIgnore()
	}
	return c.request(dst, r)
}

func canonicalSizeHint(r *Request) int {
	n := 64
	for i := range r.Messages {
		for j := range r.Messages[i].Content {
			p := &r.Messages[i].Content[j]
			n += len(p.Text) + len(p.Raw) + 32
			if !isInline(p.URL) {
				n += len(p.URL)
			}
		}
		n += 32
	}
	for i := range r.Tools {
		n += len(r.Tools[i].Parameters) + len(r.Tools[i].Description) + len(r.Tools[i].Raw) + 64
	}
	return n + len(r.ResponseFormat)
}

// canonicalizer carries the matching options through one encoding.
type canonicalizer struct {
	ignore []string // canonical names of ignored top-level fields
	trim   bool
}

func (c *canonicalizer) keep(name string) bool {
	for _, n := range c.ignore {
		if n == name {
			return false
		}
	}
	return true
}

// request writes the canonical document. Members appear in this fixed
// order: messages, the generation parameters (alphabetically), tools,
// tool_choice, response_format, extra, dialect, dialect_fields,
// anthropic_beta.
func (c *canonicalizer) request(dst []byte, r *Request) []byte {
	dst = appendEach(dst, `{"messages":[`, r.Messages, c.message)
	dst = c.params(dst, &r.Params)
	if len(r.Tools) > 0 && c.keep("tools") {
		dst = appendEach(dst, `,"tools":[`, r.Tools, appendCanonicalTool)
	}
	if r.ToolChoice != "" && c.keep("tool_choice") {
		dst = appendToolChoice(dst, r.ToolChoice)
	}
	if r.ResponseFormat != nil && c.keep("response_format") {
		dst = appendOptRaw(dst, `,"response_format":`, r.ResponseFormat)
	}
	first := true
	for _, f := range r.Extra {
		if !c.keep(f.Name) {
			continue
		}
		if first {
			dst = append(dst, `,"extra":{`...)
			first = false
		} else {
			dst = append(dst, ',')
		}
		dst = appendString(dst, f.Name)
		dst = append(dst, ':')
		dst = append(dst, f.Value...)
	}
	if !first {
		dst = append(dst, '}')
	}
	if r.Dialect != "" {
		// Only requests that need one API's semantics carry a dialect, so
		// the portable form (and every key made before dialects) is
		// unchanged.
		dst = append(dst, `,"dialect":`...)
		dst = appendString(dst, r.Dialect)
		if len(r.DialectFields) > 0 {
			dst = append(dst, `,"dialect_fields":`...)
			dst = appendFields(dst, r.DialectFields)
		}
	}
	if len(r.Betas) > 0 {
		// Only requests with betas carry the member: other keys are
		// unchanged.
		dst = append(dst, `,"anthropic_beta":[`...)
		for i, b := range r.Betas {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, b)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendFields writes fs as one JSON object.
func appendFields(dst []byte, fs []Field) []byte {
	if len(fs) == 0 {
		return append(dst, '{', '}')
	}
	start := len(dst)
	dst = AppendMembers(dst, fs)
	dst[start] = '{' // the first member's comma opens the object
	return append(dst, '}')
}

func (c *canonicalizer) text(s string) string {
	if c.trim {
		return strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

func (c *canonicalizer) message(dst []byte, m *Message) []byte {
	dst = append(dst, `{"role":`...)
	dst = appendString(dst, m.Role)
	dst = appendOptString(dst, `,"name":`, m.Name)
	switch {
	case m.Content == nil:
	case len(m.Content) == 1 && m.Content[0].Type == PartText && m.Content[0].Raw == nil:
		// A string and a one-element text-part array are the same content.
		dst = append(dst, `,"content":`...)
		dst = appendString(dst, c.text(m.Content[0].Text))
	default:
		dst = appendEach(dst, `,"content":[`, m.Content, c.part)
	}
	dst = appendOptString(dst, `,"refusal":`, m.Refusal)
	if len(m.ToolCalls) > 0 {
		dst = appendEach(dst, `,"tool_calls":[`, m.ToolCalls, appendCanonicalToolCall)
	}
	dst = appendOptString(dst, `,"tool_call_id":`, m.ToolCallID)
	if len(m.Extra) > 0 {
		dst = append(dst, `,"extra":`...)
		dst = appendFields(dst, m.Extra)
	}
	return append(dst, '}')
}

func appendCanonicalToolCall(dst []byte, tc *ToolCall) []byte {
	if tc.Raw != nil {
		dst = append(dst, `{"raw":`...)
		dst = append(dst, tc.Raw...)
		return append(dst, '}')
	}
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, tc.ID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, orFunction(tc.Type))
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, tc.Name)
	dst = append(dst, `,"arguments":`...)
	dst = appendString(dst, tc.Arguments)
	return append(dst, '}')
}

// part writes one content part. Inline data is keyed by its SHA-256 under a
// member name of its own ("url_sha256", "data_sha256", "file_data_sha256"),
// so a digest can never be confused with a URL or text that happens to look
// like one.
func (c *canonicalizer) part(dst []byte, p *Part) []byte {
	if p.Raw != nil {
		return appendRawPart(dst, p.Raw)
	}
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, p.Type)
	switch p.Type {
	case PartText:
		dst = append(dst, `,"text":`...)
		dst = appendString(dst, c.text(p.Text))
	case PartRefusal:
		dst = append(dst, `,"text":`...)
		dst = appendString(dst, p.Text)
	case PartImageURL:
		if isInline(p.URL) {
			dst = append(dst, `,"url_sha256":`...)
			dst = appendDigest(dst, p.URL)
		} else {
			dst = append(dst, `,"url":`...)
			dst = appendString(dst, p.URL)
		}
		dst = appendOptString(dst, `,"detail":`, p.Detail)
	case PartInputAudio:
		dst = append(dst, `,"data_sha256":`...)
		dst = appendDigest(dst, p.Data)
		dst = append(dst, `,"format":`...)
		dst = appendString(dst, p.Format)
	case PartFile:
		dst = appendOptString(dst, `,"file_id":`, p.FileID)
		if p.Data != "" {
			dst = append(dst, `,"file_data_sha256":`...)
			dst = appendDigest(dst, p.Data)
		}
		dst = appendOptString(dst, `,"filename":`, p.Filename)
	default:
		// A typed Part of another type built in Go: key everything it holds.
		for _, kv := range [...]struct{ k, v string }{{"text", p.Text}, {"url", p.URL}, {"detail", p.Detail}, {"format", p.Format}, {"file_id", p.FileID}, {"filename", p.Filename}} {
			dst = appendStringMember(dst, kv.k, kv.v)
		}
		if p.Data != "" {
			dst = append(dst, `,"data_sha256":`...)
			dst = appendDigest(dst, p.Data)
		}
	}
	return append(dst, '}')
}

// appendRawPart writes {"raw":<json>} for a part kept whole. Inline data
// inside it (any data: URL string, and the string values of members named
// "data" or "file_data") is replaced by its hex SHA-256, and the JSON
// Pointers (RFC 6901) of the replaced strings are listed in "sha256", so a
// digest is never mistaken for a literal string:
//
//	{"raw":{"image_url":{"url":"<hex>"},"type":"image_url","x":1},"sha256":["/image_url/url"]}
func appendRawPart(dst []byte, raw []byte) []byte {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil {
		// Not produced by DecodeOpenAI; key the bytes as they are.
		dst = append(dst, `{"raw":`...)
		dst = append(dst, raw...)
		return append(dst, '}')
	}
	w := rawWalker{}
	dst = append(dst, `{"raw":`...)
	dst = w.value(dst, v, "")
	dst = appendStringsMember(dst, "sha256", w.digested)
	return append(dst, '}')
}

// rawWalker re-emits canonical JSON (member order unchanged), digesting
// inline data and recording where.
type rawWalker struct {
	path     []string
	digested []string
}

func (w *rawWalker) value(dst []byte, v *fastjson.Value, member string) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		i := 0
		o.Visit(func(k []byte, e *fastjson.Value) {
			if i > 0 {
				dst = append(dst, ',')
			}
			i++
			dst = appendStringBytes(dst, k)
			dst = append(dst, ':')
			w.path = append(w.path, string(k))
			dst = w.value(dst, e, string(k))
			w.path = w.path[:len(w.path)-1]
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst, _ = wirejson.AppendArray(dst, a, func(dst []byte, i int, e *fastjson.Value) ([]byte, bool) {
			w.path = append(w.path, strconv.Itoa(i))
			dst = w.value(dst, e, "")
			w.path = w.path[:len(w.path)-1]
			return dst, true
		})
		return dst
	case fastjson.TypeString:
		s := string(v.GetStringBytes())
		if isInline(s) || member == "data" || member == "file_data" {
			w.digested = append(w.digested, w.pointer())
			return appendDigest(dst, s)
		}
		return appendString(dst, s)
	default:
		return v.MarshalTo(dst) // numbers and literals are canonical already
	}
}

// pointer renders the current path as a JSON Pointer.
func (w *rawWalker) pointer() string {
	var b strings.Builder
	for _, seg := range w.path {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(seg))
	}
	return b.String()
}

func appendCanonicalTool(dst []byte, t *Tool) []byte {
	if t.Raw != nil {
		dst = append(dst, `{"raw":`...)
		dst = append(dst, t.Raw...)
		return append(dst, '}')
	}
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, t.Type)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, t.Name)
	dst = appendToolSpec(dst, t)
	return append(dst, '}')
}

func (c *canonicalizer) float(dst []byte, name string, v *float64) []byte {
	if v == nil || !c.keep(name) {
		return dst
	}
	return appendFloatMember(dst, name, v)
}

func (c *canonicalizer) int(dst []byte, name string, v *int) []byte {
	if v == nil || !c.keep(name) {
		return dst
	}
	return appendIntMember(dst, name, v)
}

func (c *canonicalizer) str(dst []byte, name, v string) []byte {
	if v == "" || !c.keep(name) {
		return dst
	}
	return appendStringMember(dst, name, v)
}

func (c *canonicalizer) raw(dst []byte, name string, v []byte) []byte {
	if v == nil || !c.keep(name) {
		return dst
	}
	return appendRawMember(dst, name, v)
}

func (c *canonicalizer) list(dst []byte, name string, v []string) []byte {
	if len(v) == 0 || !c.keep(name) {
		return dst
	}
	return appendStringsMember(dst, name, v)
}

// params writes the generation parameters that differ from their defaults,
// alphabetically, so the document reads like canonical JSON.
func (c *canonicalizer) params(dst []byte, p *Params) []byte {
	dst = c.raw(dst, "audio", p.Audio)
	dst = c.float(dst, "frequency_penalty", p.FrequencyPenalty)
	dst = c.raw(dst, "logit_bias", p.LogitBias)
	if p.Logprobs && c.keep("logprobs") {
		dst = append(dst, `,"logprobs":true`...)
	}
	dst = c.int(dst, "max_tokens", p.MaxTokens)
	dst = c.list(dst, "modalities", p.Modalities)
	dst = c.int(dst, "n", p.N)
	if p.ParallelToolCalls != nil && c.keep("parallel_tool_calls") {
		dst = appendBoolMember(dst, "parallel_tool_calls", p.ParallelToolCalls)
	}
	dst = c.raw(dst, "prediction", p.Prediction)
	dst = c.float(dst, "presence_penalty", p.PresencePenalty)
	dst = c.str(dst, "reasoning_effort", p.ReasoningEffort)
	if p.Seed != nil && c.keep("seed") {
		dst = appendInt64Member(dst, "seed", p.Seed)
	}
	dst = c.str(dst, "service_tier", p.ServiceTier)
	dst = c.list(dst, "stop", p.Stop)
	dst = c.float(dst, "temperature", p.Temperature)
	dst = c.int(dst, "top_logprobs", p.TopLogprobs)
	dst = c.float(dst, "top_p", p.TopP)
	dst = c.str(dst, "verbosity", p.Verbosity)
	return dst
}
