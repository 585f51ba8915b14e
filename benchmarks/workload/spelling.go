package workload

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Chat is one logical chat completion request: a single user turn.
type Chat struct {
	Model        string
	Prompt       string
	Stop         string // one stop sequence, sent as a string or a one-element list; "" for none
	Stream       bool
	IncludeUsage bool // stream_options.include_usage, with Stream
}

// Spelling is one way client libraries put a Chat on the wire. Every
// spelling of a Chat is the same request to OpenAI and should share a cache
// key (docs/normalization.md).
type Spelling struct {
	Name   string
	Encode func(Chat) []byte
}

// Spellings lists the byte spellings the mix sends. They differ in key
// order, whitespace, string escaping, explicit defaults, the stop form and
// the content form.
var Spellings = []Spelling{
	{"python-sdk", pythonStyle},       // messages first, ", "/": " separators, non-ASCII as \uXXXX, stop as a string
	{"node-sdk", nodeStyle},           // compact, model first, stop as a list
	{"explicit-defaults", explicit},   // temperature 1, top_p 1, n 1, penalties 0, stream false written out
	{"text-parts", textParts},         // content as [{"type":"text","text":…}], sorted keys, indented
	{"go-encoding-json", goHTMLStyle}, // <, >, & escaped as \u003c…, n 1 written out
}

// Body encodes c in the compact node-sdk spelling, the one the hit and miss
// scenarios use.
func Body(c Chat) []byte { return nodeStyle(c) }

// str appends s as a JSON string. asciiOnly escapes everything beyond ASCII
// as Python's json.dumps does (surrogate pairs above U+FFFF); html escapes
// <, >, &, U+2028 and U+2029 as Go's encoding/json does.
func str(b []byte, s string, asciiOnly, html bool) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20, html && (r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029):
			b = u4(b, r)
		case asciiOnly && r > 0xffff:
			r -= 0x10000
			b = u4(u4(b, 0xd800+(r>>10)), 0xdc00+(r&0x3ff))
		case asciiOnly && r > 0x7f:
			b = u4(b, r)
		default:
			b = utf8.AppendRune(b, r) // invalid UTF-8 becomes U+FFFD, as in encoding/json
		}
	}
	return append(b, '"')
}

// u4 appends r as \uXXXX; r must be at most 0xFFFF.
func u4(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

func streamFields(b []byte, c Chat, sep, colon string) []byte {
	if !c.Stream {
		return b
	}
	b = append(b, sep+`"stream"`+colon+`true`...)
	if c.IncludeUsage {
		b = append(b, sep+`"stream_options"`+colon+`{"include_usage"`+colon+`true}`...)
	}
	return b
}

func pythonStyle(c Chat) []byte {
	b := []byte(`{"messages": [{"role": "user", "content": `)
	b = str(b, c.Prompt, true, false)
	b = append(b, `}], "model": `...)
	b = str(b, c.Model, true, false)
	if c.Stop != "" {
		b = append(b, `, "stop": `...)
		b = str(b, c.Stop, true, false)
	}
	b = streamFields(b, c, ", ", ": ")
	return append(b, '}')
}

func nodeStyle(c Chat) []byte {
	b := []byte(`{"model":`)
	b = str(b, c.Model, false, false)
	b = append(b, `,"messages":[{"role":"user","content":`...)
	b = str(b, c.Prompt, false, false)
	b = append(b, `}]`...)
	if c.Stop != "" {
		b = append(b, `,"stop":[`...)
		b = str(b, c.Stop, false, false)
		b = append(b, ']')
	}
	b = streamFields(b, c, ",", ":")
	return append(b, '}')
}

func explicit(c Chat) []byte {
	b := []byte(`{"model":`)
	b = str(b, c.Model, false, false)
	b = append(b, `,"messages":[{"role":"user","content":`...)
	b = str(b, c.Prompt, false, false)
	b = append(b, `}],"temperature":1,"top_p":1,"n":1,"presence_penalty":0,"frequency_penalty":0`...)
	if c.Stop != "" {
		b = append(b, `,"stop":[`...)
		b = str(b, c.Stop, false, false)
		b = append(b, ']')
	}
	if !c.Stream {
		b = append(b, `,"stream":false`...)
	}
	b = streamFields(b, c, ",", ":")
	return append(b, '}')
}

func textParts(c Chat) []byte {
	type part struct {
		Text string `json:"text"`
		Type string `json:"type"`
	}
	type msg struct {
		Content []part `json:"content"`
		Role    string `json:"role"`
	}
	type opts struct {
		IncludeUsage bool `json:"include_usage"`
	}
	type req struct { // fields in sorted order
		Messages      []msg    `json:"messages"`
		Model         string   `json:"model"`
		Stop          []string `json:"stop,omitempty"`
		Stream        bool     `json:"stream,omitempty"`
		StreamOptions *opts    `json:"stream_options,omitempty"`
	}
	r := req{Messages: []msg{{Content: []part{{Text: c.Prompt, Type: "text"}}, Role: "user"}}, Model: c.Model, Stream: c.Stream}
	if c.Stop != "" {
		r.Stop = []string{c.Stop}
	}
	if c.Stream && c.IncludeUsage {
		r.StreamOptions = &opts{true}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		panic(err) // only strings and bools: cannot fail
	}
	return buf.Bytes()
}

func goHTMLStyle(c Chat) []byte {
	b := []byte(`{"model":`)
	b = str(b, c.Model, false, true)
	b = append(b, `,"messages":[{"role":"user","content":`...)
	b = str(b, c.Prompt, false, true)
	b = append(b, `}],"n":1`...)
	if c.Stop != "" {
		b = append(b, `,"stop":[`...)
		b = str(b, c.Stop, false, true)
		b = append(b, ']')
	}
	b = streamFields(b, c, ",", ":")
	return append(b, '}')
}

// Unique returns a source of all-distinct bodies: c with " #<i>" appended to
// the prompt, so no two requests of a run share a key. Safe for concurrent use.
func Unique(c Chat, runID string) func(i int64) []byte {
	c.Prompt += " #" + runID + "-"
	full := Body(c)
	// Split the encoded body where the nonce goes: just before the closing
	// quote of the prompt.
	at := bytes.Index(full, []byte(`-"}]`)) + 1
	head, tail := full[:at], full[at:]
	return func(i int64) []byte {
		b := make([]byte, 0, len(full)+20)
		b = append(b, head...)
		b = strconv.AppendInt(b, i, 10)
		return append(b, tail...)
	}
}
