package normalize

import (
	"strconv"
)

// AppendOpenAIRequest appends r as an OpenAI chat-completions request body
// for the given upstream model. Everything the client sent that matters to
// the model is reproduced: unknown fields, pure-metadata fields, the output
// token limit under the client's spelling, and inline media in full. When
// stream is set the body asks for SSE with include_usage, so the gateway
// always learns the token usage of what it stores.
func AppendOpenAIRequest(dst []byte, r *Request, model string, stream bool) []byte {
	dst = append(dst, `{"model":`...)
	dst = appendString(dst, model)
	dst = append(dst, `,"messages":[`...)
	for i := range r.Messages {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendWireMessage(dst, &r.Messages[i])
	}
	dst = append(dst, ']')
	dst = appendWireParams(dst, r)
	if len(r.Tools) > 0 {
		dst = append(dst, `,"tools":[`...)
		for i := range r.Tools {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendWireTool(dst, &r.Tools[i])
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
	for _, f := range r.Extra {
		dst = appendMember(dst, f)
	}
	for _, f := range r.Unkeyed {
		dst = appendMember(dst, f)
	}
	if r.User != "" {
		dst = append(dst, `,"user":`...)
		dst = appendString(dst, r.User)
	}
	if stream {
		dst = append(dst, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	return append(dst, '}')
}

func appendMember(dst []byte, f Field) []byte {
	dst = append(dst, ',')
	dst = appendString(dst, f.Name)
	dst = append(dst, ':')
	return append(dst, f.Value...)
}

func appendWireMessage(dst []byte, m *Message) []byte {
	dst = append(dst, `{"role":`...)
	dst = appendString(dst, m.Role)
	if m.Name != "" {
		dst = append(dst, `,"name":`...)
		dst = appendString(dst, m.Name)
	}
	dst = append(dst, `,"content":`...)
	switch {
	case m.Content == nil:
		dst = append(dst, "null"...)
	case len(m.Content) == 1 && m.Content[0].Type == PartText && m.Content[0].Raw == nil:
		dst = appendString(dst, m.Content[0].Text)
	default:
		dst = append(dst, '[')
		for i := range m.Content {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendWirePart(dst, &m.Content[i])
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
			if c.Raw != nil {
				dst = append(dst, c.Raw...)
				continue
			}
			dst = append(dst, `{"id":`...)
			dst = appendString(dst, c.ID)
			dst = append(dst, `,"type":`...)
			dst = appendString(dst, orFunction(c.Type))
			dst = append(dst, `,"function":{"name":`...)
			dst = appendString(dst, c.Name)
			dst = append(dst, `,"arguments":`...)
			dst = appendString(dst, c.Arguments)
			dst = append(dst, `}}`...)
		}
		dst = append(dst, ']')
	}
	if m.ToolCallID != "" {
		dst = append(dst, `,"tool_call_id":`...)
		dst = appendString(dst, m.ToolCallID)
	}
	for _, f := range m.Extra {
		dst = appendMember(dst, f)
	}
	return append(dst, '}')
}

func appendWirePart(dst []byte, p *Part) []byte {
	if p.Raw != nil {
		return append(dst, p.Raw...)
	}
	switch p.Type {
	case PartText:
		dst = append(dst, `{"type":"text","text":`...)
		dst = appendString(dst, p.Text)
	case PartRefusal:
		dst = append(dst, `{"type":"refusal","refusal":`...)
		dst = appendString(dst, p.Text)
	case PartImageURL:
		dst = append(dst, `{"type":"image_url","image_url":{"url":`...)
		dst = appendString(dst, p.URL)
		if p.Detail != "" {
			dst = append(dst, `,"detail":`...)
			dst = appendString(dst, p.Detail)
		}
		dst = append(dst, '}')
	case PartInputAudio:
		dst = append(dst, `{"type":"input_audio","input_audio":{"data":`...)
		dst = appendString(dst, p.Data)
		dst = append(dst, `,"format":`...)
		dst = appendString(dst, p.Format)
		dst = append(dst, '}')
	case PartFile:
		dst = append(dst, `{"type":"file","file":{`...)
		first := true
		kv := func(k, v string) {
			if v == "" {
				return
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, v)
		}
		kv("file_id", p.FileID)
		kv("file_data", p.Data)
		kv("filename", p.Filename)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendWireTool(dst []byte, t *Tool) []byte {
	if t.Raw != nil {
		return append(dst, t.Raw...)
	}
	dst = append(dst, `{"type":"function","function":{"name":`...)
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
	return append(dst, `}}`...)
}

func appendWireParams(dst []byte, r *Request) []byte {
	p := &r.Params
	num := func(name string, v *float64) {
		if v != nil {
			dst = append(dst, ',', '"')
			dst = append(dst, name...)
			dst = append(dst, '"', ':')
			dst = appendFloat(dst, *v)
		}
	}
	str := func(name, v string) {
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
	num("temperature", p.Temperature)
	num("top_p", p.TopP)
	if p.N != nil {
		dst = append(dst, `,"n":`...)
		dst = strconv.AppendInt(dst, int64(*p.N), 10)
	}
	if p.MaxTokens != nil {
		field := r.MaxTokensField
		if field == "" {
			field = "max_completion_tokens"
		}
		dst = append(dst, ',', '"')
		dst = append(dst, field...)
		dst = append(dst, '"', ':')
		dst = strconv.AppendInt(dst, int64(*p.MaxTokens), 10)
	}
	if len(p.Stop) > 0 {
		dst = append(dst, `,"stop":[`...)
		for i, s := range p.Stop {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		dst = append(dst, ']')
	}
	if p.Seed != nil {
		dst = append(dst, `,"seed":`...)
		dst = strconv.AppendInt(dst, *p.Seed, 10)
	}
	num("presence_penalty", p.PresencePenalty)
	num("frequency_penalty", p.FrequencyPenalty)
	raw("logit_bias", p.LogitBias)
	if p.Logprobs {
		dst = append(dst, `,"logprobs":true`...)
	}
	if p.TopLogprobs != nil {
		dst = append(dst, `,"top_logprobs":`...)
		dst = strconv.AppendInt(dst, int64(*p.TopLogprobs), 10)
	}
	str("reasoning_effort", p.ReasoningEffort)
	str("verbosity", p.Verbosity)
	if p.ParallelToolCalls != nil {
		dst = append(dst, `,"parallel_tool_calls":`...)
		dst = strconv.AppendBool(dst, *p.ParallelToolCalls)
	}
	if len(p.Modalities) > 0 {
		dst = append(dst, `,"modalities":[`...)
		for i, s := range p.Modalities {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		dst = append(dst, ']')
	}
	raw("audio", p.Audio)
	raw("prediction", p.Prediction)
	str("service_tier", p.ServiceTier)
	return dst
}
