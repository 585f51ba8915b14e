package gemini

import (
	"encoding/json"
	"path"
	"strconv"
	"strings"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
	"github.com/dittocache/ditto/providers/internal/wire"
)

// Wire types of a GenerateContentRequest. Field order is the encoding order.
type wireRequest struct {
	Contents          []wireContent    `json:"contents"`
	SystemInstruction *wireContent     `json:"systemInstruction,omitempty"`
	Tools             []wireTool       `json:"tools,omitempty"`
	ToolConfig        *toolConfig      `json:"toolConfig,omitempty"`
	GenerationConfig  generationConfig `json:"generationConfig"`
}

var wireFields = map[string]bool{
	"contents": true, "systemInstruction": true, "system_instruction": true, "tools": true,
	"toolConfig": true, "tool_config": true, "generationConfig": true, "generation_config": true,
}

type wireContent struct {
	Role  string `json:"role,omitempty"`
	Parts []any  `json:"parts"`
}

type textPart struct {
	Text string `json:"text"`
}

type inlineDataPart struct {
	InlineData blob `json:"inlineData"`
}

type blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type fileDataPart struct {
	FileData fileData `json:"fileData"`
}

type fileData struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

type functionCallPart struct {
	FunctionCall functionCall `json:"functionCall"`
}

type functionCall struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type functionResponsePart struct {
	FunctionResponse functionResponse `json:"functionResponse"`
}

type functionResponse struct {
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type wireTool struct {
	FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
}

type functionDeclaration struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type toolConfig struct {
	FunctionCallingConfig functionCallingConfig `json:"functionCallingConfig"`
}

type functionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type generationConfig struct {
	Temperature      *float64        `json:"temperature,omitempty"`
	TopP             *float64        `json:"topP,omitempty"`
	MaxOutputTokens  *int            `json:"maxOutputTokens,omitempty"`
	CandidateCount   *int            `json:"candidateCount,omitempty"`
	StopSequences    []string        `json:"stopSequences,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	PresencePenalty  *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty *float64        `json:"frequencyPenalty,omitempty"`
	ResponseMimeType string          `json:"responseMimeType,omitempty"`
	ResponseSchema   json.RawMessage `json:"responseSchema,omitempty"`
}

// encodeRequest translates req into a GenerateContentRequest body. Errors
// are *providers.Error with status 400 naming the parameter.
func encodeRequest(req *normalize.Request) ([]byte, error) {
	p := &req.Params
	if err := checkParams(p); err != nil {
		return nil, err
	}
	w := wireRequest{GenerationConfig: generationConfig{
		StopSequences:    p.Stop,
		CandidateCount:   p.N,
		MaxOutputTokens:  p.MaxTokens,
		Temperature:      p.Temperature,
		TopP:             p.TopP,
		Seed:             p.Seed,
		PresencePenalty:  p.PresencePenalty,
		FrequencyPenalty: p.FrequencyPenalty,
	}}
	var err error
	if w.SystemInstruction, w.Contents, err = encodeMessages(req.Messages); err != nil {
		return nil, err
	}
	if w.Tools, err = encodeTools(req.Tools); err != nil {
		return nil, err
	}
	if w.ToolConfig, err = encodeToolChoice(req); err != nil {
		return nil, err
	}
	if err := encodeResponseFormat(req.ResponseFormat, &w.GenerationConfig); err != nil {
		return nil, err
	}
	return wire.EncodeRequest(name, "Gemini", &w, req.Extra, wireFields)
}

func invalid(param, format string, args ...any) *providers.Error {
	return wire.InvalidParam(name, param, format, args...)
}

func checkParams(p *normalize.Params) error {
	if p.ReasoningEffort != "" {
		return invalid("reasoning_effort", "Gemini adapter does not map reasoning_effort; pass generationConfig.thinkingConfig through instead")
	}
	return wire.Unsupported(name, "Gemini", p, "logprobs", "top_logprobs", "logit_bias",
		"verbosity", "modalities", "audio", "prediction", "service_tier")
}

func encodeMessages(msgs []normalize.Message) (system *wireContent, contents []wireContent, err error) {
	add := func(role string, parts ...any) {
		if n := len(contents); n > 0 && contents[n-1].Role == role {
			contents[n-1].Parts = append(contents[n-1].Parts, parts...)
			return
		}
		contents = append(contents, wireContent{Role: role, Parts: parts})
	}
	callNames := map[string]string{} // tool call id → function name, latest wins
	for i := range msgs {
		m := &msgs[i]
		param := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case normalize.RoleSystem, normalize.RoleDeveloper:
			if system == nil {
				system = &wireContent{}
			}
			for j := range m.Content {
				t, err := text(&m.Content[j], param+".content["+strconv.Itoa(j)+"]")
				if err != nil {
					return nil, nil, err
				}
				system.Parts = append(system.Parts, textPart{Text: t})
			}
		case normalize.RoleUser:
			parts, err := userParts(m.Content, param)
			if err != nil {
				return nil, nil, err
			}
			add("user", parts...)
		case normalize.RoleAssistant:
			var parts []any
			for j := range m.Content {
				t, err := text(&m.Content[j], param+".content["+strconv.Itoa(j)+"]")
				if err != nil {
					return nil, nil, err
				}
				parts = append(parts, textPart{Text: t})
			}
			if m.Refusal != "" {
				parts = append(parts, textPart{Text: m.Refusal})
			}
			for j, tc := range m.ToolCalls {
				args, err := wire.JSONObject(tc.Arguments)
				if err != nil {
					return nil, nil, invalid(param+".tool_calls["+strconv.Itoa(j)+"].function.arguments", "tool call arguments must be a JSON object: %v", err)
				}
				parts = append(parts, functionCallPart{FunctionCall: functionCall{Name: tc.Name, Args: args}})
				callNames[tc.ID] = tc.Name
			}
			add("model", parts...)
		case normalize.RoleTool:
			fn, ok := callNames[m.ToolCallID]
			if !ok {
				return nil, nil, invalid(param+".tool_call_id", "no earlier assistant tool call has id %q; Gemini needs the function name of every tool result", m.ToolCallID)
			}
			var b strings.Builder
			for j := range m.Content {
				t, err := text(&m.Content[j], param+".content["+strconv.Itoa(j)+"]")
				if err != nil {
					return nil, nil, err
				}
				b.WriteString(t)
			}
			add("user", functionResponsePart{FunctionResponse: functionResponse{Name: fn, Response: toolResponse(b.String())}})
		default:
			return nil, nil, invalid(param+".role", "Gemini does not support %q messages", m.Role)
		}
	}
	for i := range contents {
		if contents[i].Parts == nil {
			contents[i].Parts = []any{}
		}
	}
	return system, contents, nil
}

// text returns the text of a text or refusal part; text parts with members
// Ditto does not model (such as Anthropic's cache_control) keep only their
// text, which is all Gemini reads.
func text(p *normalize.Part, param string) (string, error) {
	switch {
	case p.Type == normalize.PartRefusal && p.Raw == nil:
		return p.Text, nil
	case p.Type != normalize.PartText:
		return "", invalid(param, "Gemini adapter accepts only text here, not %q parts", p.Type)
	case p.Raw == nil:
		return p.Text, nil
	}
	var raw struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(p.Raw, &raw); err != nil || raw.Text == nil {
		return "", invalid(param, "text part without text")
	}
	return *raw.Text, nil
}

func userParts(content []normalize.Part, param string) ([]any, error) {
	parts := make([]any, 0, len(content))
	for j := range content {
		p := &content[j]
		pp := param + ".content[" + strconv.Itoa(j) + "]"
		switch {
		case p.Type == normalize.PartText:
			t, err := text(p, pp)
			if err != nil {
				return nil, err
			}
			parts = append(parts, textPart{Text: t})
		case p.Type == normalize.PartImageURL && p.Raw == nil:
			if mt, data, ok := wire.ParseDataURL(p.URL); ok {
				parts = append(parts, inlineDataPart{InlineData: blob{MimeType: mt, Data: data}})
				continue
			}
			if lu := strings.ToLower(p.URL); !strings.HasPrefix(lu, "https://") && !strings.HasPrefix(lu, "http://") {
				return nil, invalid(pp+".image_url.url", "image URLs must be https URLs or base64 data: URLs")
			}
			parts = append(parts, fileDataPart{FileData: fileData{MimeType: mimeFromURL(p.URL), FileURI: p.URL}})
		case p.Type == normalize.PartInputAudio && p.Raw == nil:
			parts = append(parts, inlineDataPart{InlineData: blob{MimeType: "audio/" + p.Format, Data: p.Data}})
		case p.Type == normalize.PartFile && p.Raw == nil && p.FileID == "":
			mt, data, ok := wire.ParseDataURL(p.Data)
			if !ok && strings.HasSuffix(strings.ToLower(p.Filename), ".pdf") {
				mt, data, ok = "application/pdf", p.Data, true
			}
			if !ok {
				return nil, invalid(pp+".file", "Gemini adapter accepts files only as base64 data: URLs or PDF file_data")
			}
			parts = append(parts, inlineDataPart{InlineData: blob{MimeType: mt, Data: data}})
		default:
			return nil, invalid(pp, "Gemini adapter does not support %q content parts of this shape", p.Type)
		}
	}
	return parts, nil
}

var mimeByExt = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
	".gif": "image/gif", ".heic": "image/heic", ".heif": "image/heif", ".pdf": "application/pdf",
}

// mimeFromURL guesses a file URL's media type from its extension; "" when
// unknown, leaving Gemini to detect it.
func mimeFromURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return mimeByExt[strings.ToLower(path.Ext(u))]
}

// toolResponse is a tool result as functionResponse.response, which must be
// an object.
func toolResponse(s string) json.RawMessage {
	if obj, err := wire.JSONObject(s); err == nil && strings.TrimSpace(s) != "" {
		return obj
	}
	b, _ := json.Marshal(map[string]string{"result": s})
	return b
}

func encodeTools(tools []normalize.Tool) ([]wireTool, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	decls := make([]functionDeclaration, len(tools))
	for i := range tools {
		t := &tools[i]
		param := "tools[" + strconv.Itoa(i) + "]"
		if t.Type != "function" || t.Raw != nil {
			return nil, invalid(param, "Gemini adapter supports only plain function tools (name, description, parameters, strict)")
		}
		d := functionDeclaration{Name: t.Name, Description: t.Description}
		if t.Parameters != nil {
			s, err := sanitizeSchema(t.Parameters)
			if err != nil {
				return nil, invalid(param+".function.parameters", "%v", err)
			}
			if !emptyObjectSchema(s) {
				d.Parameters = s
			}
		}
		decls[i] = d
	}
	return []wireTool{{FunctionDeclarations: decls}}, nil
}

func encodeToolChoice(req *normalize.Request) (*toolConfig, error) {
	if len(req.Tools) == 0 {
		return nil, nil
	}
	var fc functionCallingConfig
	switch s := req.ToolChoice; s {
	case "", "auto":
		return nil, nil // AUTO is Gemini's default
	case "none":
		fc.Mode = "NONE"
	case "required":
		fc.Mode = "ANY"
	default:
		fn, ok := wire.NamedFunction(s)
		if !ok {
			return nil, invalid("tool_choice", "Gemini adapter supports tool_choice auto, none, required or a named function")
		}
		fc.Mode, fc.AllowedFunctionNames = "ANY", []string{fn}
	}
	return &toolConfig{FunctionCallingConfig: fc}, nil
}

func encodeResponseFormat(rf json.RawMessage, gc *generationConfig) error {
	if rf == nil {
		return nil
	}
	typ, schema, err := wire.ParseResponseFormat(rf)
	if err != nil {
		return invalid("response_format", "invalid response_format: %v", err)
	}
	switch typ {
	case "text":
	case "json_object":
		gc.ResponseMimeType = "application/json"
	case "json_schema":
		gc.ResponseMimeType = "application/json"
		if schema != nil {
			s, err := sanitizeSchema(schema)
			if err != nil {
				return invalid("response_format.json_schema.schema", "%v", err)
			}
			gc.ResponseSchema = s
		}
	default:
		return invalid("response_format", "Gemini adapter does not support response_format %q", typ)
	}
	return nil
}
