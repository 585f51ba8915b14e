package anthropic

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/wire"
)

// Wire types of a Messages request. Field order is the encoding order.
type wireRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int             `json:"max_tokens"`
	System        any             `json:"system,omitempty"` // string or []any of blocks
	Messages      []wireMessage   `json:"messages"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	Tools         []wireTool      `json:"tools,omitempty"`
	ToolChoice    *wireToolChoice `json:"tool_choice,omitempty"`
	Metadata      *wireMetadata   `json:"metadata,omitempty"`
	OutputConfig  *outputConfig   `json:"output_config,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
}

// wireFields are the members encodeRequest may write; Request.Extra must
// not collide with them.
var wireFields = map[string]bool{
	"model": true, "max_tokens": true, "system": true, "messages": true, "stop_sequences": true,
	"temperature": true, "top_p": true, "tools": true, "tool_choice": true, "metadata": true,
	"output_config": true, "stream": true,
}

type wireMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"` // string or []any of blocks
}

type textBlock struct {
	Type string `json:"type"` // "text"
	Text string `json:"text"`
}

type mediaBlock struct {
	Type   string      `json:"type"` // "image" or "document"
	Source mediaSource `json:"source"`
}

type mediaSource struct {
	Type      string `json:"type"` // "base64" or "url"
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type toolUseBlock struct {
	Type  string          `json:"type"` // "tool_use"
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type toolResultBlock struct {
	Type      string `json:"type"` // "tool_result"
	ToolUseID string `json:"tool_use_id"`
	Content   any    `json:"content"` // string or []any of blocks
}

type wireTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type wireToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type wireMetadata struct {
	UserID string `json:"user_id"`
}

type outputConfig struct {
	Format outputFormat `json:"format"`
}

type outputFormat struct {
	Type   string          `json:"type"` // "json_schema"
	Schema json.RawMessage `json:"schema"`
}

var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// encodeRequest translates req into a Messages request body. Errors are
// *providers.Error with status 400 naming the parameter Anthropic cannot
// honour.
func encodeRequest(req *normalize.Request, stream bool, defaultMaxTokens int) ([]byte, error) {
	if err := checkParams(&req.Params); err != nil {
		return nil, err
	}
	w := wireRequest{
		Model:         req.Model,
		MaxTokens:     defaultMaxTokens,
		StopSequences: req.Params.Stop,
		Temperature:   req.Params.Temperature,
		TopP:          req.Params.TopP,
		Stream:        stream,
	}
	if req.Params.MaxTokens != nil {
		w.MaxTokens = *req.Params.MaxTokens
	}
	if req.User != "" {
		w.Metadata = &wireMetadata{UserID: req.User}
	}
	var err error
	if w.System, w.Messages, err = encodeMessages(req.Messages); err != nil {
		return nil, err
	}
	if w.Tools, err = encodeTools(req.Tools); err != nil {
		return nil, err
	}
	if w.ToolChoice, err = encodeToolChoice(req); err != nil {
		return nil, err
	}
	if w.OutputConfig, err = encodeResponseFormat(req.ResponseFormat); err != nil {
		return nil, err
	}
	return wire.EncodeRequest(name, "Anthropic", &w, req.Extra, wireFields)
}

func invalid(param, format string, args ...any) *providers.Error {
	return wire.InvalidParam(name, param, format, args...)
}

func unsupported(param string) *providers.Error {
	return invalid(param, "Anthropic does not support the parameter %q", param)
}

func checkParams(p *normalize.Params) error {
	switch {
	case p.N != nil && *p.N != 1:
		return invalid("n", "Anthropic does not support n > 1")
	case p.Logprobs:
		return unsupported("logprobs")
	case p.TopLogprobs != nil:
		return unsupported("top_logprobs")
	case p.LogitBias != nil:
		return unsupported("logit_bias")
	case p.Seed != nil:
		return unsupported("seed")
	case p.PresencePenalty != nil:
		return unsupported("presence_penalty")
	case p.FrequencyPenalty != nil:
		return unsupported("frequency_penalty")
	case p.ReasoningEffort != "":
		return invalid("reasoning_effort", "Anthropic does not support reasoning_effort; pass an Anthropic \"thinking\" object instead")
	case p.Verbosity != "":
		return unsupported("verbosity")
	case len(p.Modalities) > 0:
		return unsupported("modalities")
	case p.Audio != nil:
		return unsupported("audio")
	case p.Prediction != nil:
		return unsupported("prediction")
	case p.ServiceTier != "":
		return unsupported("service_tier")
	}
	return nil
}

// encodeMessages splits out the system prompt and builds alternating turns.
func encodeMessages(msgs []normalize.Message) (system any, turns []wireMessage, err error) {
	var sys []any
	var blocks [][]any // per turn, parallel to turns
	add := func(role string, bs ...any) {
		if n := len(turns); n > 0 && turns[n-1].Role == role {
			blocks[n-1] = append(blocks[n-1], bs...)
			return
		}
		turns = append(turns, wireMessage{Role: role})
		blocks = append(blocks, bs)
	}
	for i := range msgs {
		m := &msgs[i]
		param := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case normalize.RoleSystem, normalize.RoleDeveloper:
			for j := range m.Content {
				b, err := textPart(&m.Content[j], param+".content["+strconv.Itoa(j)+"]")
				if err != nil {
					return nil, nil, err
				}
				sys = append(sys, b)
			}
		case normalize.RoleUser:
			bs, err := contentBlocks(m.Content, param)
			if err != nil {
				return nil, nil, err
			}
			add("user", bs...)
		case normalize.RoleAssistant:
			bs, err := assistantBlocks(m, param)
			if err != nil {
				return nil, nil, err
			}
			add("assistant", bs...)
		case normalize.RoleTool:
			res := toolResultBlock{Type: "tool_result", ToolUseID: m.ToolCallID}
			if len(m.Content) == 1 && m.Content[0].Type == normalize.PartText && m.Content[0].Raw == nil {
				res.Content = m.Content[0].Text
			} else {
				bs, err := contentBlocks(m.Content, param)
				if err != nil {
					return nil, nil, err
				}
				res.Content = bs
			}
			add("user", res)
		default:
			return nil, nil, invalid(param+".role", "Anthropic does not support %q messages", m.Role)
		}
	}
	for i := range turns {
		turns[i].Content = simplify(blocks[i])
	}
	if len(sys) > 0 {
		system = simplify(sys)
	}
	return system, turns, nil
}

// simplify turns a lone plain text block into a string, the form
// Anthropic's own SDKs send.
func simplify(bs []any) any {
	if len(bs) == 1 {
		if t, ok := bs[0].(textBlock); ok {
			return t.Text
		}
	}
	if bs == nil {
		return []any{}
	}
	return bs
}

// textPart encodes a text part; text parts with members Ditto does not model
// (such as cache_control) are sent as the client wrote them, since
// Anthropic's text block has the same shape.
func textPart(p *normalize.Part, param string) (any, error) {
	if p.Type != normalize.PartText {
		return nil, invalid(param, "Anthropic accepts only text in system messages, not %q parts", p.Type)
	}
	if p.Raw != nil {
		return json.RawMessage(p.Raw), nil
	}
	return textBlock{Type: "text", Text: p.Text}, nil
}

func contentBlocks(parts []normalize.Part, param string) ([]any, error) {
	bs := make([]any, 0, len(parts))
	for j := range parts {
		p := &parts[j]
		pp := param + ".content[" + strconv.Itoa(j) + "]"
		switch {
		case p.Type == normalize.PartText:
			b, err := textPart(p, pp)
			if err != nil {
				return nil, err
			}
			bs = append(bs, b)
		case p.Type == normalize.PartImageURL && p.Raw == nil:
			src, err := mediaFromURL(p.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			bs = append(bs, mediaBlock{Type: "image", Source: src})
		case p.Type == normalize.PartFile && p.Raw == nil && p.FileID == "":
			src, err := fileSource(p, pp)
			if err != nil {
				return nil, err
			}
			bs = append(bs, mediaBlock{Type: "document", Source: src})
		default:
			return nil, invalid(pp, "Anthropic adapter does not support %q content parts of this shape", p.Type)
		}
	}
	return bs, nil
}

// mediaFromURL maps an image URL: data: URLs to a base64 source, http(s)
// URLs to a url source.
func mediaFromURL(u, param string) (mediaSource, error) {
	if mt, data, ok := wire.ParseDataURL(u); ok {
		return mediaSource{Type: "base64", MediaType: mt, Data: data}, nil
	}
	if lu := strings.ToLower(u); strings.HasPrefix(lu, "https://") || strings.HasPrefix(lu, "http://") {
		return mediaSource{Type: "url", URL: u}, nil
	}
	return mediaSource{}, invalid(param, "image URLs must be https URLs or base64 data: URLs")
}

// fileSource accepts PDF files sent inline, the only file type Anthropic
// reads from base64 data.
func fileSource(p *normalize.Part, param string) (mediaSource, error) {
	mt, data, ok := wire.ParseDataURL(p.Data)
	if !ok && strings.HasSuffix(strings.ToLower(p.Filename), ".pdf") {
		mt, data, ok = "application/pdf", p.Data, true
	}
	if !ok || mt != "application/pdf" {
		return mediaSource{}, invalid(param+".file", "Anthropic adapter accepts only PDF files sent as base64 file_data")
	}
	return mediaSource{Type: "base64", MediaType: mt, Data: data}, nil
}

func assistantBlocks(m *normalize.Message, param string) ([]any, error) {
	var bs []any
	for j := range m.Content {
		p := &m.Content[j]
		pp := param + ".content[" + strconv.Itoa(j) + "]"
		switch p.Type {
		case normalize.PartText:
			b, err := textPart(p, pp)
			if err != nil {
				return nil, err
			}
			bs = append(bs, b)
		case normalize.PartRefusal:
			bs = append(bs, textBlock{Type: "text", Text: p.Text})
		default:
			return nil, invalid(pp, "Anthropic accepts only text in assistant messages, not %q parts", p.Type)
		}
	}
	if m.Refusal != "" {
		bs = append(bs, textBlock{Type: "text", Text: m.Refusal})
	}
	for j, tc := range m.ToolCalls {
		input, err := wire.JSONObject(tc.Arguments)
		if err != nil {
			return nil, invalid(param+".tool_calls["+strconv.Itoa(j)+"].function.arguments", "tool call arguments must be a JSON object: %v", err)
		}
		bs = append(bs, toolUseBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: input})
	}
	return bs, nil
}

func encodeTools(tools []normalize.Tool) ([]wireTool, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	out := make([]wireTool, len(tools))
	for i := range tools {
		t := &tools[i]
		if t.Type != "function" || t.Raw != nil {
			return nil, invalid("tools["+strconv.Itoa(i)+"]", "Anthropic adapter supports only plain function tools (name, description, parameters, strict)")
		}
		schema := json.RawMessage(t.Parameters)
		if schema == nil {
			schema = emptySchema
		}
		out[i] = wireTool{Name: t.Name, Description: t.Description, InputSchema: schema}
	}
	return out, nil
}

func encodeToolChoice(req *normalize.Request) (*wireToolChoice, error) {
	if len(req.Tools) == 0 {
		return nil, nil // Anthropic rejects tool_choice without tools; without tools none is implied
	}
	disable := req.Params.ParallelToolCalls != nil && !*req.Params.ParallelToolCalls
	var tc wireToolChoice
	switch s := req.ToolChoice; s {
	case "", "auto":
		if !disable {
			return nil, nil
		}
		tc.Type = "auto"
	case "none":
		return &wireToolChoice{Type: "none"}, nil
	case "required":
		tc.Type = "any"
	default:
		fn, ok := wire.NamedFunction(s)
		if !ok {
			return nil, invalid("tool_choice", "Anthropic adapter supports tool_choice auto, none, required or a named function")
		}
		tc.Type, tc.Name = "tool", fn
	}
	tc.DisableParallelToolUse = disable
	return &tc, nil
}

func encodeResponseFormat(rf json.RawMessage) (*outputConfig, error) {
	if rf == nil {
		return nil, nil
	}
	typ, schema, err := wire.ParseResponseFormat(rf)
	if err != nil {
		return nil, invalid("response_format", "invalid response_format: %v", err)
	}
	switch typ {
	case "text":
		return nil, nil
	case "json_schema":
		if schema == nil {
			return nil, invalid("response_format.json_schema.schema", "response_format json_schema needs a schema")
		}
		return &outputConfig{Format: outputFormat{Type: "json_schema", Schema: schema}}, nil
	}
	return nil, invalid("response_format", "Anthropic supports response_format json_schema only, not %q", typ)
}
