package responses

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// Echo holds what a rendered Response object repeats of the request it
// answers (model as the client sent it, instructions, tools, tool_choice,
// sampling parameters, text, reasoning, truncation, metadata, store, ...),
// pre-rendered by Parse. Rendering depends only on the stored answer and
// the Echo, so an answer stored for a chat client renders the same way.
//
// An Echo is read-only once the caller has set IDSeed, and then safe for
// concurrent use. A nil *Echo renders the documented defaults.
type Echo struct {
	// IDSeed, when set, is mixed into every id Ditto derives for the
	// response (resp_…, msg_…, fc_…, rs_…), so two different requests never
	// get the same ids even if their upstream answers share one (some
	// servers reuse chat completion ids). Set it to something fixed per
	// cache entry, such as the entry's verification digest, before
	// rendering or recording; nil derives ids from the answer's id alone.
	IDSeed []byte

	model, instructions, previousResponseID []byte
	temperature, topP, maxOutputTokens      []byte
	maxToolCalls, topLogprobs, metadata     []byte
	tools, toolChoice, format, verbosity    []byte
	effort, summary, truncation             []byte
	user, safety, promptCacheKey, retain    []byte
	store, parallel                         *bool
	background, logprobs                    bool
	serviceTier                             string

	frag []byte // the echoed members after "model", each with a leading comma
}

func (e *Echo) setString(k string, v []byte) {
	switch k {
	case "user":
		e.user = v
	case "safety_identifier":
		e.safety = v
	case "prompt_cache_key":
		e.promptCacheKey = v
	case "prompt_cache_retention":
		e.retain = v
	}
}

// Logprobs reports whether the request asked for output logprobs.
func (e *Echo) Logprobs() bool { return e != nil && e.logprobs }

var defaultEcho = func() *Echo { e := &Echo{}; e.render(); return e }()

func orDefault(e *Echo) *Echo {
	if e == nil {
		return defaultEcho
	}
	if e.frag == nil {
		// Built by hand, not by Parse: render a copy, so a shared Echo is
		// never written.
		c := *e
		c.render()
		return &c
	}
	return e
}

// render pre-renders the echoed members with the Response object's
// defaults for what the request did not send.
func (e *Echo) render() {
	n := 640
	for _, v := range [...][]byte{e.model, e.instructions, e.previousResponseID, e.temperature, e.topP, e.maxOutputTokens, e.maxToolCalls, e.topLogprobs, e.metadata, e.tools, e.toolChoice, e.format, e.verbosity, e.effort, e.summary, e.truncation, e.user, e.safety, e.promptCacheKey, e.retain} {
		n += len(v)
	}
	f := make([]byte, 0, n)
	raw := func(name string, v []byte, def string) {
		f = appendKey(f, name)
		if v == nil {
			f = append(f, def...)
		} else {
			f = append(f, v...)
		}
	}
	raw("instructions", e.instructions, "null")
	raw("max_output_tokens", e.maxOutputTokens, "null")
	raw("max_tool_calls", e.maxToolCalls, "null")
	raw("metadata", e.metadata, "{}")
	f = strconv.AppendBool(appendKey(f, "parallel_tool_calls"), e.parallel == nil || *e.parallel)
	raw("previous_response_id", e.previousResponseID, "null")
	raw("prompt_cache_key", e.promptCacheKey, "null")
	if e.retain != nil {
		raw("prompt_cache_retention", e.retain, "null")
	}
	f = append(f, `,"reasoning":{"effort":`...)
	f = append(f, orNull(e.effort)...)
	f = append(f, `,"summary":`...)
	f = append(f, orNull(e.summary)...)
	f = append(f, '}')
	raw("safety_identifier", e.safety, "null")
	f = strconv.AppendBool(appendKey(f, "store"), e.store == nil || *e.store)
	raw("temperature", e.temperature, "1")
	f = append(f, `,"text":{"format":`...)
	if e.format == nil {
		f = append(f, `{"type":"text"}`...)
	} else {
		f = append(f, e.format...)
	}
	f = append(f, `,"verbosity":`...)
	if e.verbosity == nil {
		f = append(f, `"medium"`...)
	} else {
		f = append(f, e.verbosity...)
	}
	f = append(f, '}')
	raw("tool_choice", e.toolChoice, `"auto"`)
	raw("tools", e.tools, "[]")
	raw("top_logprobs", e.topLogprobs, "0")
	raw("top_p", e.topP, "1")
	raw("truncation", e.truncation, `"disabled"`)
	if e.user != nil {
		raw("user", e.user, "") // a string in the schema, not nullable
	}
	f = strconv.AppendBool(appendKey(f, "background"), e.background)
	e.frag = f
}

func orNull(v []byte) []byte {
	if v == nil {
		return []byte("null")
	}
	return v
}

// Ids. Ditto derives every id of a response from the answer's id (and the
// Echo's IDSeed), so a cache hit returns the same ids every time, and marks
// them with "ditto_" so a follow-up naming one of its items can be told
// from one naming an item stored by OpenAI.
const (
	idHex      = 32
	respPrefix = "resp_ditto_"
	msgPrefix  = "msg_ditto_"
	fcPrefix   = "fc_ditto_"
	rsPrefix   = "rs_ditto_"
)

// idHash is the hex digest shared by all ids of one response.
type idHash [idHex]byte

func hashID(respID string, seed []byte) idHash {
	h := sha256.New()
	h.Write(seed)
	h.Write([]byte{0})
	h.Write([]byte(respID))
	var sum [sha256.Size]byte
	var out idHash
	hex.Encode(out[:], h.Sum(sum[:0])[:idHex/2])
	return out
}

func (h *idHash) append(dst []byte, prefix string, index int, suffix bool) []byte {
	dst = append(dst, '"')
	dst = append(dst, prefix...)
	dst = append(dst, h[:]...)
	if suffix {
		dst = append(dst, '_')
		dst = strconv.AppendInt(dst, int64(index), 10)
	}
	return append(dst, '"')
}

// ResponseID returns the id AppendResponse and Stream give resp rendered
// with echo: the key under which the gateway stores resp's Record.
func ResponseID(resp *normalize.Response, echo *Echo) string {
	var seed []byte
	if echo != nil {
		seed = echo.IDSeed
	}
	h := hashID(resp.ID, seed)
	return respPrefix + string(h[:])
}

// itemRef is a parsed id of one of Ditto's output items.
type itemRef struct {
	kind     byte // 'm' message, 'f' function call, 'r' reasoning
	response string
	index    int
}

// parseItemID recognises the ids of Ditto's own output items.
func parseItemID(s string) (itemRef, bool) {
	var r itemRef
	var rest string
	var ok bool
	switch {
	case strings.HasPrefix(s, msgPrefix):
		r.kind, rest, ok = 'm', s[len(msgPrefix):], true
	case strings.HasPrefix(s, fcPrefix):
		r.kind, rest, ok = 'f', s[len(fcPrefix):], true
	case strings.HasPrefix(s, rsPrefix):
		r.kind, rest, ok = 'r', s[len(rsPrefix):], true
	}
	if !ok || len(rest) < idHex {
		return r, false
	}
	for _, c := range []byte(rest[:idHex]) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return r, false
		}
	}
	r.response = respPrefix + rest[:idHex]
	rest = rest[idHex:]
	if rest == "" {
		return r, r.kind != 'f'
	}
	n, err := strconv.Atoi(strings.TrimPrefix(rest, "_"))
	if !strings.HasPrefix(rest, "_") || err != nil || n < 0 || strconv.Itoa(n) != rest[1:] {
		return r, false
	}
	r.index = n
	return r, true
}

// status maps a chat finish reason to the Response status and
// incomplete_details.reason.
func status(finish string) (status, reason string) {
	switch finish {
	case "length":
		return "incomplete", "max_output_tokens"
	case "content_filter":
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// appendHead writes the Response object up to (not including) "output".
func appendHead(dst []byte, h *idHash, created int64, st, reason, model string, e *Echo) []byte {
	dst = append(dst, `{"id":`...)
	dst = h.append(dst, respPrefix, 0, false)
	dst = append(dst, `,"object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, created, 10)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, st...)
	dst = append(dst, `","error":null,"incomplete_details":`...)
	if reason == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"reason":"`...)
		dst = append(dst, reason...)
		dst = append(dst, `"}`...)
	}
	// The model that answered, as OpenAI names it (the dated snapshot,
	// or a fallback's model), else the request's.
	dst = append(dst, `,"model":`...)
	if model == "" && e.model != nil {
		dst = append(dst, e.model...)
	} else {
		dst = appendString(dst, model)
	}
	return append(dst, e.frag...)
}

// appendServiceTier writes the tier the answer was processed in: the
// answer's, else the request's, except "auto", which asks OpenAI to pick:
// its answers then say "default", the tier it picks when nothing else was
// asked for (as every Response example in OpenAI's spec does).
func appendServiceTier(dst []byte, tier string, e *Echo) []byte {
	if tier == "" {
		tier = e.serviceTier
	}
	if tier == "" || tier == "auto" {
		tier = "default"
	}
	return appendString(appendKey(dst, "service_tier"), tier)
}

// AppendResponse appends resp, a complete answer, as a Responses API
// response object answering the request echo describes: status completed,
// or incomplete with incomplete_details.reason max_output_tokens or
// content_filter; output items reasoning (when the answer carries
// reasoning_content), message (output_text and refusal content) and
// function_call; usage. Only the first choice is rendered.
func AppendResponse(dst []byte, resp *normalize.Response, echo *Echo) []byte {
	e := orDefault(echo)
	h := hashID(resp.ID, e.IDSeed)
	c := firstChoice(resp)
	finish := ""
	if c != nil {
		finish = c.FinishReason
	}
	st, reason := status(finish)
	dst = appendHead(dst, &h, resp.Created, st, reason, resp.Model, e)
	dst = appendServiceTier(dst, resp.ServiceTier, e)
	dst = append(dst, `,"output":[`...)
	if c != nil {
		var sep wirejson.Comma
		m := &c.Message
		if text, ok := reasoningText(m.Extra); ok {
			dst = sep.Next(dst)
			dst = appendReasoningItem(dst, &h, 0, text, "completed")
		}
		if m.Content != nil || m.Refusal != "" {
			dst = sep.Next(dst)
			var lp []byte
			if e.logprobs {
				lp = c.Logprobs
			}
			dst = appendMessageItem(dst, &h, 0, m.Content != nil, m.Text(), lp, m.Refusal, itemStatus(st))
		}
		for j := range m.ToolCalls {
			dst = sep.Next(dst)
			tc := &m.ToolCalls[j]
			dst = appendCallItem(dst, &h, j, tc.ID, tc.Name, tc.Arguments, "completed")
		}
	}
	dst = append(dst, ']')
	if resp.Usage != nil {
		dst = appendUsage(append(dst, `,"usage":`...), resp.Usage)
	}
	return append(dst, '}')
}

func itemStatus(responseStatus string) string {
	if responseStatus == "incomplete" {
		return "incomplete"
	}
	return "completed"
}

func appendReasoningItem(dst []byte, h *idHash, n int, text, st string) []byte {
	dst = append(dst, `{"id":`...)
	dst = h.append(dst, rsPrefix, n, n > 0)
	dst = append(dst, `,"type":"reasoning","summary":[{"type":"summary_text","text":`...)
	dst = appendString(dst, text)
	dst = append(dst, `}],"status":"`...)
	dst = append(dst, st...)
	return append(dst, `"}`...)
}

// appendMessageItem writes an assistant message item: an output_text part
// when hasText, a refusal part when refusal is set. lp is the chat logprobs
// object of the text, or nil.
func appendMessageItem(dst []byte, h *idHash, n int, hasText bool, text string, lp []byte, refusal, st string) []byte {
	dst = append(dst, `{"id":`...)
	dst = h.append(dst, msgPrefix, n, n > 0)
	dst = append(dst, `,"type":"message","status":"`...)
	dst = append(dst, st...)
	dst = append(dst, `","role":"assistant","content":[`...)
	if hasText {
		dst = appendTextPart(dst, text, lp)
	}
	if refusal != "" {
		if hasText {
			dst = append(dst, ',')
		}
		dst = appendRefusalPart(dst, refusal)
	}
	return append(dst, `]}`...)
}

func appendTextPart(dst []byte, text string, lp []byte) []byte {
	dst = append(dst, `{"type":"output_text","text":`...)
	dst = appendString(dst, text)
	dst = append(dst, `,"annotations":[],"logprobs":`...)
	dst = appendLogprobs(dst, lp)
	return append(dst, '}')
}

func appendRefusalPart(dst []byte, refusal string) []byte {
	dst = append(dst, `{"type":"refusal","refusal":`...)
	dst = appendString(dst, refusal)
	return append(dst, '}')
}

func appendCallItem(dst []byte, h *idHash, j int, callID, name, args, st string) []byte {
	dst = append(dst, `{"id":`...)
	dst = h.append(dst, fcPrefix, j, true)
	dst = append(dst, `,"type":"function_call","status":"`...)
	dst = append(dst, st...)
	dst = append(dst, `","arguments":`...)
	dst = appendString(dst, args)
	dst = append(dst, `,"call_id":`...)
	dst = appendString(dst, callID)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, name)
	return append(dst, '}')
}

// appendUsage writes normalize.Usage in the Responses shape; the details
// are read from the raw OpenAI objects.
func appendUsage(dst []byte, u *normalize.Usage) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = appendInt(dst, u.PromptTokens)
	dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
	dst = appendInt(dst, intMember(u.PromptTokensDetails, "cached_tokens"))
	dst = append(dst, `,"cache_write_tokens":`...)
	dst = appendInt(dst, intMember(u.PromptTokensDetails, "cache_write_tokens"))
	dst = append(dst, `},"output_tokens":`...)
	dst = appendInt(dst, u.CompletionTokens)
	dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
	dst = appendInt(dst, intMember(u.CompletionTokensDetails, "reasoning_tokens"))
	dst = append(dst, `},"total_tokens":`...)
	total := u.TotalTokens
	if total == 0 {
		total = u.PromptTokens + u.CompletionTokens
	}
	dst = appendInt(dst, total)
	return append(dst, '}')
}

// reasoningText returns the reasoning text an adapter or an
// OpenAI-compatible server put beside the message (reasoning_content, or
// reasoning as a string).
func reasoningText(extra []normalize.Field) (string, bool) {
	for _, name := range [...]string{"reasoning_content", "reasoning"} {
		for _, f := range extra {
			if f.Name == name && len(f.Value) > 0 && f.Value[0] == '"' {
				if s, ok := jsonString(f.Value); ok {
					return s, true
				}
			}
		}
	}
	return "", false
}

// jsonString decodes a JSON string value.
func jsonString(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if inner := raw[1 : len(raw)-1]; !strings.ContainsAny(string(inner), "\\\"") {
			return string(inner), true
		}
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil || v.Type() != fastjson.TypeString {
		return "", false
	}
	return string(v.GetStringBytes()), true
}

// appendLogprobs converts a chat logprobs object's content tokens to the
// Responses logprobs list ([] when there are none).
func appendLogprobs(dst []byte, chat []byte) []byte {
	if len(chat) == 0 {
		return append(dst, "[]"...)
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(chat)
	if err != nil {
		return append(dst, "[]"...)
	}
	return appendTokens(dst, v.GetArray("content"))
}

func appendTokens(dst []byte, toks []*fastjson.Value) []byte {
	dst = append(dst, '[')
	for i, t := range toks {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendToken(dst, t, true)
	}
	return append(dst, ']')
}

func appendToken(dst []byte, t *fastjson.Value, top bool) []byte {
	dst = append(dst, `{"token":`...)
	dst = appendString(dst, string(t.GetStringBytes("token")))
	dst = append(dst, `,"logprob":`...)
	if lp := t.Get("logprob"); lp != nil && lp.Type() == fastjson.TypeNumber {
		dst = lp.MarshalTo(dst)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, `,"bytes":[`...)
	for i, b := range t.GetArray("bytes") {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(b.GetInt()), 10)
	}
	dst = append(dst, ']')
	if top {
		dst = append(dst, `,"top_logprobs":[`...)
		for i, a := range t.GetArray("top_logprobs") {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendToken(dst, a, false)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}
