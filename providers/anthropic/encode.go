package anthropic

import (
	"encoding/json"
	"maps"
	"slices"
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
	Tools         []any           `json:"tools,omitempty"` // wireTool, or a server tool as sent
	ToolChoice    *wireToolChoice `json:"tool_choice,omitempty"`
	Metadata      *wireMetadata   `json:"metadata,omitempty"`
	OutputConfig  *outputConfig   `json:"output_config,omitempty"`
	ServiceTier   string          `json:"service_tier,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
}

// wireFields are the members encodeRequest may write; Request.Extra must
// not collide with them.
var wireFields = map[string]bool{
	"model": true, "max_tokens": true, "system": true, "messages": true, "stop_sequences": true,
	"temperature": true, "top_p": true, "tools": true, "tool_choice": true, "metadata": true,
	"output_config": true, "service_tier": true, "stream": true,
}

// wireFieldsOwnOutput are wireFields for a request without a
// response_format: an output_config in Request.Extra (a Messages client's
// effort, say) is then the client's to send.
var wireFieldsOwnOutput = func() map[string]bool {
	m := maps.Clone(wireFields)
	delete(m, "output_config")
	return m
}()

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
	Strict      bool            `json:"strict,omitempty"`
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
	if req.Params.ServiceTier != "" {
		w.ServiceTier = req.Params.ServiceTier // checkParams admits Anthropic's own tiers only
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
	reserved := wireFields
	if w.OutputConfig == nil {
		reserved = wireFieldsOwnOutput
	}
	return wire.EncodeRequest(name, "Anthropic", &w, req.Extra, reserved)
}

func invalid(param, format string, args ...any) *providers.Error {
	return wire.InvalidParam(name, param, format, args...)
}

func checkParams(p *normalize.Params) error {
	switch {
	case p.N != nil && *p.N != 1:
		return invalid("n", "Anthropic does not support n > 1")
	case p.ReasoningEffort != "":
		return invalid("reasoning_effort", "Anthropic does not support reasoning_effort; pass an Anthropic \"thinking\" object instead")
	case p.ServiceTier != "" && p.ServiceTier != "standard_only":
		// "auto", Anthropic's default, is folded away by the decoders.
		return invalid("service_tier", "Anthropic supports service_tier auto and standard_only, not %q", p.ServiceTier)
	}
	return wire.Unsupported(name, "Anthropic", p, "logprobs", "top_logprobs", "logit_bias", "seed",
		"presence_penalty", "frequency_penalty", "verbosity", "modalities", "audio", "prediction")
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
			// is_error, cache_control: tool_result members that chat
			// clients (and Messages clients through normalize/messages)
			// send as members of the tool message.
			blk, err := extend(res, m.Extra, param, "type", "tool_use_id", "content")
			if err != nil {
				return nil, nil, err
			}
			add("user", blk)
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
		case p.Type == normalize.PartImageURL || p.Type == normalize.PartFile:
			b, err := rawMediaPart(p, pp)
			if err != nil {
				return nil, err
			}
			bs = append(bs, b)
		case p.Raw != nil && !openAIPart(p.Type):
			bs = append(bs, json.RawMessage(p.Raw)) // an Anthropic block (search_result, ...) as the client sent it
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
			if p.Raw != nil && !openAIPart(p.Type) {
				// thinking, redacted_thinking, server tool blocks: given
				// back to Anthropic as it sent them.
				bs = append(bs, json.RawMessage(p.Raw))
				continue
			}
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
		var blk any = toolUseBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: input}
		if tc.Raw != nil && (tc.Type == "" || tc.Type == "function") {
			// Members beside id, type and function (cache_control, an
			// Anthropic caller) belong to the tool_use block.
			extra, err := rawMembers(tc.Raw, param+".tool_calls["+strconv.Itoa(j)+"]", "id", "type", "function")
			if err != nil {
				return nil, err
			}
			if blk, err = extend(blk, extra, param+".tool_calls["+strconv.Itoa(j)+"]", "type", "id", "name", "input"); err != nil {
				return nil, err
			}
		}
		bs = append(bs, blk)
	}
	return bs, nil
}

func encodeTools(tools []normalize.Tool) ([]any, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	out := make([]any, len(tools))
	for i := range tools {
		t := &tools[i]
		param := "tools[" + strconv.Itoa(i) + "]"
		switch {
		case t.Type == "function" && t.Raw == nil:
			out[i] = functionTool(t.Name, t.Description, t.Parameters, t.Strict != nil && *t.Strict)
		case t.Type == "function":
			tool, err := rawFunctionTool(t.Raw, param)
			if err != nil {
				return nil, err
			}
			out[i] = tool
		case serverTool(t.Type):
			out[i] = json.RawMessage(t.Raw) // web_search_20250305, bash_20250124, ...: Anthropic's own shape
		default:
			return nil, invalid(param, "Anthropic adapter supports function tools and Anthropic server tools (web_search_20250305, ...), not %q tools", t.Type)
		}
	}
	return out, nil
}

func functionTool(name, description string, parameters json.RawMessage, strict bool) wireTool {
	if parameters == nil {
		parameters = emptySchema
	}
	return wireTool{Name: name, Description: description, InputSchema: parameters, Strict: strict}
}

// rawFunctionTool encodes a function tool kept whole because it has
// members beside type and function (cache_control, defer_loading, ...):
// they become members of the Anthropic tool.
func rawFunctionTool(raw json.RawMessage, param string) (any, error) {
	var tool struct {
		Function map[string]json.RawMessage `json:"function"`
	}
	if err := json.Unmarshal(raw, &tool); err != nil || tool.Function == nil {
		return nil, invalid(param+".function", "a function tool needs a function object")
	}
	var fn struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      bool            `json:"strict"`
	}
	for k := range tool.Function {
		switch k {
		case "name", "description", "parameters", "strict":
		default:
			return nil, invalid(param+".function."+k, "Anthropic adapter does not support the function member %q", k)
		}
	}
	fnJSON, _ := json.Marshal(tool.Function)
	if err := json.Unmarshal(fnJSON, &fn); err != nil {
		return nil, invalid(param+".function", "invalid function tool: %v", err)
	}
	if string(fn.Parameters) == "null" {
		fn.Parameters = nil
	}
	extra, err := rawMembers(raw, param, "type", "function")
	if err != nil {
		return nil, err
	}
	return extend(functionTool(fn.Name, fn.Description, fn.Parameters, fn.Strict), extra, param, "name", "description", "input_schema", "strict")
}

// serverTool reports whether a tool type names an Anthropic server tool:
// they are versioned by date (web_search_20250305, text_editor_20250728),
// which no OpenAI tool type is.
func serverTool(typ string) bool {
	n := len(typ)
	if n < 10 || typ[n-9] != '_' {
		return false
	}
	for _, c := range typ[n-8:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// openAIPart reports whether typ is a content part type of OpenAI's chat
// API, as opposed to an Anthropic block kept as the client sent it.
func openAIPart(typ string) bool {
	switch typ {
	case normalize.PartText, normalize.PartImageURL, normalize.PartInputAudio, normalize.PartFile, normalize.PartRefusal:
		return true
	}
	return false
}

// rawMediaPart encodes an image_url or file part kept whole because it
// has members beside its own (cache_control; a document's title, context
// or citations): they become members of the Anthropic block.
func rawMediaPart(p *normalize.Part, param string) (any, error) {
	var part map[string]json.RawMessage
	if err := json.Unmarshal(p.Raw, &part); err != nil {
		return nil, invalid(param, "invalid content part: %v", err)
	}
	own := "image_url"
	if p.Type == normalize.PartFile {
		own = "file"
	}
	var blk mediaBlock
	switch own {
	case "image_url":
		var u struct {
			URL    string `json:"url"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(part[own], &u.URL) != nil {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(part[own], &fields); err != nil {
				return nil, invalid(param+".image_url", "image_url must be a URL or an object")
			}
			for k := range fields {
				if k != "url" && k != "detail" {
					return nil, invalid(param+".image_url."+k, "Anthropic adapter does not support the image_url member %q", k)
				}
			}
			_ = json.Unmarshal(part[own], &u) // detail has no Anthropic equivalent and does not change the answer
		}
		src, err := mediaFromURL(u.URL, param+".image_url.url")
		if err != nil {
			return nil, err
		}
		blk = mediaBlock{Type: "image", Source: src}
	default:
		var f map[string]string
		if err := json.Unmarshal(part[own], &f); err != nil {
			return nil, invalid(param+".file", "file must be an object of strings")
		}
		fp := normalize.Part{Type: normalize.PartFile, Data: f["file_data"], Filename: f["filename"], FileID: f["file_id"]}
		for k := range f {
			if k != "file_data" && k != "filename" {
				return nil, invalid(param+".file."+k, "Anthropic adapter accepts only PDF files sent as base64 file_data")
			}
		}
		src, err := fileSource(&fp, param)
		if err != nil {
			return nil, err
		}
		blk = mediaBlock{Type: "document", Source: src}
	}
	extra, err := rawMembers(p.Raw, param, "type", own)
	if err != nil {
		return nil, err
	}
	return extend(blk, extra, param, "type", "source")
}

// rawMembers returns the members of the JSON object raw other than skip,
// sorted by name.
func rawMembers(raw json.RawMessage, param string, skip ...string) ([]normalize.Field, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, invalid(param, "invalid JSON object: %v", err)
	}
	var out []normalize.Field
	for k, v := range m {
		if !slices.Contains(skip, k) {
			out = append(out, normalize.Field{Name: k, Value: v})
		}
	}
	slices.SortFunc(out, func(a, b normalize.Field) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// extended is an Anthropic block with members Ditto does not model
// appended, in order.
type extended struct {
	block any
	extra []normalize.Field
}

func (e extended) MarshalJSON() ([]byte, error) {
	b, err := wire.Marshal(e.block)
	if err != nil {
		return nil, err
	}
	b = b[:len(b)-1] // reopen the object
	for _, f := range e.extra {
		key, _ := json.Marshal(f.Name)
		b = append(b, ',')
		b = append(b, key...)
		b = append(b, ':')
		b = append(b, f.Value...)
	}
	return append(b, '}'), nil
}

// extend returns blk with extra appended, or blk itself when there is
// none. A member blk writes itself (own) cannot be passed through.
func extend(blk any, extra []normalize.Field, param string, own ...string) (any, error) {
	if len(extra) == 0 {
		return blk, nil
	}
	for _, f := range extra {
		if slices.Contains(own, f.Name) {
			return nil, invalid(param+"."+f.Name, "%q is set by Ditto and cannot be passed through to Anthropic", f.Name)
		}
	}
	return extended{block: blk, extra: extra}, nil
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
