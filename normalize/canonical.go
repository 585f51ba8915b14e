package normalize

import (
	"strconv"
)

// Canonical returns the canonical encoding of the keyed part of r: a compact
// JSON document with a fixed member order, independent of how the client
// spelled the request. The model is not included: the cache key's route names
// the resolved provider and upstream model, so aliases share entries.
// Inline media (data: URLs, base64 audio and files) appear as sha256 digests.
//
// The encoding is versioned by cachekey.Version; any change to it must bump
// that version. See docs/normalization.md for every rule.
func Canonical(r *Request) []byte {
	return AppendCanonical(make([]byte, 0, canonicalSizeHint(r)), r)
}

func canonicalSizeHint(r *Request) int {
	n := 64
	for i := range r.Messages {
		for j := range r.Messages[i].Content {
			n += len(r.Messages[i].Content[j].Text) + 32
		}
		n += 32
	}
	for i := range r.Tools {
		n += len(r.Tools[i].Parameters) + len(r.Tools[i].Description) + len(r.Tools[i].Raw) + 64
	}
	return n
}

// AppendCanonical appends the canonical encoding of r to dst.
func AppendCanonical(dst []byte, r *Request) []byte {
	dst = append(dst, `{"messages":[`...)
	for i := range r.Messages {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCanonicalMessage(dst, &r.Messages[i])
	}
	dst = append(dst, ']')
	dst = appendCanonicalParams(dst, &r.Params)
	if len(r.Tools) > 0 {
		dst = append(dst, `,"tools":[`...)
		for i := range r.Tools {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonicalTool(dst, &r.Tools[i])
		}
		dst = append(dst, ']')
	}
	if r.ToolChoice != "" {
		dst = append(dst, `,"tool_choice":`...)
		if r.ToolChoice[0] == '{' {
			dst = append(dst, r.ToolChoice...)
		} else {
			dst = appendString(dst, r.ToolChoice)
		}
	}
	if r.ResponseFormat != nil {
		dst = append(dst, `,"response_format":`...)
		dst = append(dst, r.ResponseFormat...)
	}
	if len(r.Extra) > 0 {
		dst = append(dst, `,"extra":`...)
		dst = appendFields(dst, r.Extra)
	}
	return append(dst, '}')
}

func appendFields(dst []byte, fs []Field) []byte {
	dst = append(dst, '{')
	for i, f := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, f.Name)
		dst = append(dst, ':')
		dst = append(dst, f.Value...)
	}
	return append(dst, '}')
}

func appendCanonicalMessage(dst []byte, m *Message) []byte {
	dst = append(dst, `{"role":`...)
	dst = appendString(dst, m.Role)
	if m.Name != "" {
		dst = append(dst, `,"name":`...)
		dst = appendString(dst, m.Name)
	}
	switch {
	case m.Content == nil:
	case len(m.Content) == 1 && m.Content[0].Type == PartText && m.Content[0].Raw == nil:
		// A string and a one-element text-part array are the same content.
		dst = append(dst, `,"content":`...)
		dst = appendString(dst, m.Content[0].Text)
	default:
		dst = append(dst, `,"content":[`...)
		for i := range m.Content {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonicalPart(dst, &m.Content[i])
		}
		dst = append(dst, ']')
	}
	if m.Refusal != "" {
		dst = append(dst, `,"refusal":`...)
		dst = appendString(dst, m.Refusal)
	}
	if len(m.ToolCalls) > 0 {
		dst = append(dst, `,"tool_calls":[`...)
		for i, c := range m.ToolCalls {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"id":`...)
			dst = appendString(dst, c.ID)
			dst = append(dst, `,"type":`...)
			dst = appendString(dst, c.Type)
			dst = append(dst, `,"name":`...)
			dst = appendString(dst, c.Name)
			dst = append(dst, `,"arguments":`...)
			dst = appendString(dst, c.Arguments)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if m.ToolCallID != "" {
		dst = append(dst, `,"tool_call_id":`...)
		dst = appendString(dst, m.ToolCallID)
	}
	if len(m.Extra) > 0 {
		dst = append(dst, `,"extra":`...)
		dst = appendFields(dst, m.Extra)
	}
	return append(dst, '}')
}

func appendCanonicalPart(dst []byte, p *Part) []byte {
	if p.Raw != nil {
		dst = append(dst, `{"raw":`...)
		dst = append(dst, p.Raw...)
		return append(dst, '}')
	}
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, p.Type)
	switch p.Type {
	case PartText, PartRefusal:
		dst = append(dst, `,"text":`...)
		dst = appendString(dst, p.Text)
	case PartImageURL:
		dst = append(dst, `,"url":`...)
		dst = appendString(dst, mediaRef(p.URL))
		if p.Detail != "" {
			dst = append(dst, `,"detail":`...)
			dst = appendString(dst, p.Detail)
		}
	case PartInputAudio:
		dst = append(dst, `,"data":`...)
		dst = appendString(dst, digestString(p.Data))
		dst = append(dst, `,"format":`...)
		dst = appendString(dst, p.Format)
	case PartFile:
		if p.FileID != "" {
			dst = append(dst, `,"file_id":`...)
			dst = appendString(dst, p.FileID)
		}
		if p.Data != "" {
			dst = append(dst, `,"data":`...)
			dst = appendString(dst, digestString(p.Data))
		}
		if p.Filename != "" {
			dst = append(dst, `,"filename":`...)
			dst = appendString(dst, p.Filename)
		}
	}
	return append(dst, '}')
}

// mediaRef keys inline media by digest and remote media by URL.
func mediaRef(url string) string {
	if isInline(url) {
		return digestString(url)
	}
	return url
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
	if t.Description != "" {
		dst = append(dst, `,"description":`...)
		dst = appendString(dst, t.Description)
	}
	if t.Parameters != nil {
		dst = append(dst, `,"parameters":`...)
		dst = append(dst, t.Parameters...)
	}
	if t.Strict != nil {
		dst = append(dst, `,"strict":`...)
		dst = strconv.AppendBool(dst, *t.Strict)
	}
	return append(dst, '}')
}

func appendCanonicalParams(dst []byte, p *Params) []byte {
	f := func(name string, v *float64) {
		if v != nil {
			dst = append(dst, ',', '"')
			dst = append(dst, name...)
			dst = append(dst, '"', ':')
			dst = appendFloat(dst, *v)
		}
	}
	i := func(name string, v *int) {
		if v != nil {
			dst = append(dst, ',', '"')
			dst = append(dst, name...)
			dst = append(dst, '"', ':')
			dst = strconv.AppendInt(dst, int64(*v), 10)
		}
	}
	s := func(name, v string) {
		if v != "" {
			dst = append(dst, ',', '"')
			dst = append(dst, name...)
			dst = append(dst, '"', ':')
			dst = appendString(dst, v)
		}
	}
	raw := func(name string, v []byte) {
		if v != nil {
			dst = append(dst, ',', '"')
			dst = append(dst, name...)
			dst = append(dst, '"', ':')
			dst = append(dst, v...)
		}
	}
	list := func(name string, v []string) {
		if len(v) > 0 {
			dst = append(dst, ',', '"')
			dst = append(dst, name...)
			dst = append(dst, `":[`...)
			for k, e := range v {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = appendString(dst, e)
			}
			dst = append(dst, ']')
		}
	}
	// Alphabetical, so the document reads like canonical JSON.
	raw("audio", p.Audio)
	f("frequency_penalty", p.FrequencyPenalty)
	raw("logit_bias", p.LogitBias)
	if p.Logprobs {
		dst = append(dst, `,"logprobs":true`...)
	}
	i("max_tokens", p.MaxTokens)
	list("modalities", p.Modalities)
	i("n", p.N)
	if p.ParallelToolCalls != nil {
		dst = append(dst, `,"parallel_tool_calls":`...)
		dst = strconv.AppendBool(dst, *p.ParallelToolCalls)
	}
	raw("prediction", p.Prediction)
	f("presence_penalty", p.PresencePenalty)
	s("reasoning_effort", p.ReasoningEffort)
	if p.Seed != nil {
		dst = append(dst, `,"seed":`...)
		dst = strconv.AppendInt(dst, *p.Seed, 10)
	}
	s("service_tier", p.ServiceTier)
	list("stop", p.Stop)
	f("temperature", p.Temperature)
	i("top_logprobs", p.TopLogprobs)
	f("top_p", p.TopP)
	s("verbosity", p.Verbosity)
	return dst
}
