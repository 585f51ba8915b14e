// Package wire holds what the adapters that translate OpenAI-shaped
// requests into another provider's JSON (Anthropic, Gemini) do alike:
// encoding a request body with the client's pass-through members, the 400
// error naming a parameter the provider cannot honour, reading the pieces
// of an OpenAI request every translation needs (data: URLs, tool-call
// arguments, a named tool_choice, response_format), and carrying reasoning
// text in answers.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers"
)

// Marshal encodes v as JSON without escaping HTML characters and without
// the trailing newline json.Encoder writes.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// EncodeRequest encodes w, a provider's request whose JSON form is an
// object, with Marshal and appends extra, the client's pass-through
// members, to it. A member of extra that w's encoding may write (reserved)
// is refused with an InvalidParam error naming it. provider is the adapter
// name and display the provider's name in messages, e.g. "anthropic" and
// "Anthropic".
func EncodeRequest(provider, display string, w any, extra []normalize.Field, reserved map[string]bool) ([]byte, error) {
	out, err := Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding request: %w", provider, err)
	}
	if f, ok := firstReserved(extra, reserved); ok {
		return nil, InvalidParam(provider, f, "%q is set by Ditto from the OpenAI request and cannot be passed through to %s", f, display)
	}
	return appendMembers(out, extra), nil
}

// firstReserved returns the name of the first member of extra that
// reserved holds.
func firstReserved(extra []normalize.Field, reserved map[string]bool) (string, bool) {
	for _, f := range extra {
		if reserved[f.Name] {
			return f.Name, true
		}
	}
	return "", false
}

// appendMembers returns obj, the encoding of a JSON object, with extra
// added as further members in order. obj is returned as it is when extra
// is empty; otherwise its closing brace is overwritten.
func appendMembers(obj []byte, extra []normalize.Field) []byte {
	if len(extra) == 0 {
		return obj
	}
	out := obj[:len(obj)-1] // reopen the object for the pass-through members
	for _, f := range extra {
		key, _ := json.Marshal(f.Name)
		out = append(out, ',')
		out = append(out, key...)
		out = append(out, ':')
		out = append(out, f.Value...)
	}
	return append(out, '}')
}

// InvalidParam is the 400 invalid_request_error the adapter named provider
// returns for a request parameter param it cannot honour; the message is
// formatted from format and args.
func InvalidParam(provider, param, format string, args ...any) *providers.Error {
	return &providers.Error{
		Provider: provider,
		Status:   http.StatusBadRequest,
		Type:     "invalid_request_error",
		Param:    param,
		Message:  fmt.Sprintf(format, args...),
	}
}

// ParseDataURL splits "data:<media type>;base64,<data>", lower-casing the
// media type. ok is false for anything else.
func ParseDataURL(u string) (mediaType, data string, ok bool) {
	if len(u) < 5 || !strings.EqualFold(u[:5], "data:") {
		return "", "", false
	}
	meta, data, found := strings.Cut(u[5:], ",")
	if !found {
		return "", "", false
	}
	mt, enc, found := strings.Cut(meta, ";")
	if !found || !strings.EqualFold(enc, "base64") || mt == "" {
		return "", "", false
	}
	return strings.ToLower(mt), data, true
}

// JSONObject parses tool-call arguments for a provider that needs them as
// a JSON object: surrounding space is trimmed, and empty arguments are {}.
func JSONObject(args string) (json.RawMessage, error) {
	b := bytes.TrimSpace([]byte(args))
	if len(b) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if !json.Valid(b) {
		return nil, errors.New("invalid JSON")
	}
	if b[0] != '{' {
		return nil, errors.New("not an object")
	}
	return json.RawMessage(b), nil
}

// NamedFunction returns the function a tool_choice names
// ({"type":"function","function":{"name":…}}); ok is false for any other
// tool_choice.
func NamedFunction(toolChoice string) (name string, ok bool) {
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal([]byte(toolChoice), &obj); err != nil || obj.Type != "function" || obj.Function.Name == "" {
		return "", false
	}
	return obj.Function.Name, true
}

// ParseResponseFormat reads an OpenAI response_format's type and, for
// json_schema, its schema (nil when absent).
func ParseResponseFormat(rf json.RawMessage) (typ string, schema json.RawMessage, err error) {
	var f struct {
		Type       string `json:"type"`
		JSONSchema struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(rf, &f); err != nil {
		return "", nil, err
	}
	return f.Type, f.JSONSchema.Schema, nil
}

// ReasoningField is the message (and delta) member carrying a model's
// reasoning text, as OpenAI-compatible servers name it.
const ReasoningField = "reasoning_content"

// Reasoning is the Extra of a message or delta that carries text as its
// ReasoningField.
func Reasoning(text string) []normalize.Field {
	v, _ := json.Marshal(text)
	return []normalize.Field{{Name: ReasoningField, Value: v}}
}

// CompactArgs renders a tool call's input object as compact JSON
// arguments: "{}" when in is empty, in unchanged when it is not valid JSON.
func CompactArgs(in json.RawMessage) string {
	if len(in) == 0 {
		return "{}"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, in); err != nil {
		return string(in)
	}
	return b.String()
}

// Unsupported returns the InvalidParam error for the first of params, in
// the order given, that p sets: "<display> does not support the parameter
// "<name>"". It returns nil when p sets none of them. Each name is the
// OpenAI parameter of a normalize.Params field that carries no value a
// provider could ignore; a name not listed in paramSet is a programming
// error and panics.
func Unsupported(provider, display string, p *normalize.Params, params ...string) error {
	for _, param := range params {
		if paramSet(p, param) {
			return InvalidParam(provider, param, "%s does not support the parameter %q", display, param)
		}
	}
	return nil
}

func paramSet(p *normalize.Params, param string) bool {
	switch param {
	case "logprobs":
		return p.Logprobs
	case "top_logprobs":
		return p.TopLogprobs != nil
	case "logit_bias":
		return p.LogitBias != nil
	case "seed":
		return p.Seed != nil
	case "presence_penalty":
		return p.PresencePenalty != nil
	case "frequency_penalty":
		return p.FrequencyPenalty != nil
	case "verbosity":
		return p.Verbosity != ""
	case "modalities":
		return len(p.Modalities) > 0
	case "audio":
		return p.Audio != nil
	case "prediction":
		return p.Prediction != nil
	case "service_tier":
		return p.ServiceTier != ""
	}
	panic("wire: no check for the parameter " + param)
}
