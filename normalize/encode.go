package normalize

// AppendOpenAIRequest appends r as an OpenAI chat-completions request body
// for the given upstream model. Everything the client sent that matters to
// the model is reproduced: unknown fields, pure-metadata fields, the output
// token limit under the client's spelling, and inline media in full. When
// stream is set the body asks for SSE with include_usage, so the gateway
// always learns the token usage of what it stores.
func AppendOpenAIRequest(dst []byte, r *Request, model string, stream bool) []byte {
	dst = append(dst, `{"model":`...)
	dst = appendString(dst, model)
	dst = appendEach(dst, `,"messages":[`, r.Messages, appendWireMessage)
	dst = appendWireParams(dst, r)
	if len(r.Tools) > 0 {
		dst = appendEach(dst, `,"tools":[`, r.Tools, appendWireTool)
	}
	if r.ToolChoice != "" {
		dst = appendToolChoice(dst, r.ToolChoice)
	}
	dst = appendOptRaw(dst, `,"response_format":`, r.ResponseFormat)
	dst = AppendMembers(dst, r.Extra)
	dst = AppendMembers(dst, r.Unkeyed)
	dst = appendOptString(dst, `,"user":`, r.User)
	if stream {
		dst = append(dst, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	return append(dst, '}')
}

func appendWireMessage(dst []byte, m *Message) []byte {
	dst = append(dst, `{"role":`...)
	dst = appendString(dst, m.Role)
	dst = appendOptString(dst, `,"name":`, m.Name)
	switch {
	case m.Content == nil:
		dst = append(dst, `,"content":null`...)
	case len(m.Content) == 1 && m.Content[0].Type == PartText && m.Content[0].Raw == nil:
		dst = append(dst, `,"content":`...)
		dst = appendString(dst, m.Content[0].Text)
	default:
		dst = appendEach(dst, `,"content":[`, m.Content, appendWirePart)
	}
	dst = appendOptString(dst, `,"refusal":`, m.Refusal)
	if len(m.ToolCalls) > 0 {
		dst = appendEach(dst, `,"tool_calls":[`, m.ToolCalls, appendWireToolCall)
	}
	dst = appendOptString(dst, `,"tool_call_id":`, m.ToolCallID)
	dst = AppendMembers(dst, m.Extra)
	return append(dst, '}')
}

func appendWireToolCall(dst []byte, c *ToolCall) []byte {
	if c.Raw != nil {
		return append(dst, c.Raw...)
	}
	return appendFunctionCall(dst, c)
}

// appendFunctionCall writes c as OpenAI's tool_calls element.
func appendFunctionCall(dst []byte, c *ToolCall) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, c.ID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, orFunction(c.Type))
	dst = append(dst, `,"function":{"name":`...)
	dst = appendString(dst, c.Name)
	dst = append(dst, `,"arguments":`...)
	dst = appendString(dst, c.Arguments)
	return append(dst, `}}`...)
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
		dst = appendOptString(dst, `,"detail":`, p.Detail)
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
	dst = appendToolSpec(dst, t)
	return append(dst, `}}`...)
}

// appendWireParams writes the generation parameters that are set, in a
// fixed order, the output token limit under the client's spelling.
func appendWireParams(dst []byte, r *Request) []byte {
	p := &r.Params
	dst = appendFloatMember(dst, "temperature", p.Temperature)
	dst = appendFloatMember(dst, "top_p", p.TopP)
	dst = appendIntMember(dst, "n", p.N)
	field := r.MaxTokensField
	if field == "" {
		field = "max_completion_tokens"
	}
	dst = appendIntMember(dst, field, p.MaxTokens)
	dst = appendStringsMember(dst, "stop", p.Stop)
	dst = appendInt64Member(dst, "seed", p.Seed)
	dst = appendFloatMember(dst, "presence_penalty", p.PresencePenalty)
	dst = appendFloatMember(dst, "frequency_penalty", p.FrequencyPenalty)
	dst = appendRawMember(dst, "logit_bias", p.LogitBias)
	if p.Logprobs {
		dst = append(dst, `,"logprobs":true`...)
	}
	dst = appendIntMember(dst, "top_logprobs", p.TopLogprobs)
	dst = appendStringMember(dst, "reasoning_effort", p.ReasoningEffort)
	dst = appendStringMember(dst, "verbosity", p.Verbosity)
	dst = appendBoolMember(dst, "parallel_tool_calls", p.ParallelToolCalls)
	dst = appendStringsMember(dst, "modalities", p.Modalities)
	dst = appendRawMember(dst, "audio", p.Audio)
	dst = appendRawMember(dst, "prediction", p.Prediction)
	return appendStringMember(dst, "service_tier", p.ServiceTier)
}
