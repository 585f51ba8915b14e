// Package normalize defines Ditto's provider-neutral canonical request and
// response, converts them from and to OpenAI's chat-completions wire format,
// and encodes requests deterministically for cache keys.
//
// Everything here is a pure function of its input: no I/O, no clocks, no
// globals that change behaviour.
package normalize

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrInvalid marks a request that cannot be served as sent. Errors wrapping it
// are *Error values naming the offending parameter.
var ErrInvalid = errors.New("invalid request")

// Error describes an invalid request in the terms of OpenAI's error object.
type Error struct {
	Param   string // JSON path of the offending field, e.g. "messages[2].content"; may be empty
	Message string
}

func (e *Error) Error() string {
	if e.Param == "" {
		return e.Message
	}
	return fmt.Sprintf("%s: %s", e.Param, e.Message)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

// Invalid is an *Error naming param (a path in the client's dialect, ""
// for the body) whose message is format, formatted with args when there
// are any. The dialect codecs report their errors with it.
func Invalid(param, format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Param: param, Message: msg}
}

func invalid(param, format string, args ...any) error { return Invalid(param, format, args...) }

// Request is a chat request in canonical, provider-neutral form.
//
// Fields above the "not keyed" line take part in the cache key (see
// docs/normalization.md); fields below it are carried to the provider but do
// not change which answer is served. Slices and raw JSON values are owned by
// the Request and must not be modified by adapters.
type Request struct {
	Model    string    // as sent by the client, e.g. "gpt-4o" or "anthropic/claude-sonnet-4-5"
	Messages []Message // at least one
	Params   Params
	Tools    []Tool
	// ToolChoice is "auto", "none", "required" or canonical JSON of an object
	// such as {"function":{"name":"f"},"type":"function"}; empty means unset.
	ToolChoice string
	// ResponseFormat is canonical JSON of response_format; nil means unset or
	// the default {"type":"text"}.
	ResponseFormat json.RawMessage
	// Extra holds request fields Ditto does not model, sorted by name, with
	// canonical JSON values. They are keyed and passed through to
	// OpenAI-compatible upstreams.
	Extra []Field
	// Dialect is empty for a request every client API can say: the
	// portable form that chat completions, Responses and Messages share,
	// so the same question asked through any of them has one key. It names
	// the client API ("responses", "completions", ...) when the request
	// needs that API's own semantics, and then keys the request within
	// that dialect (see docs/normalization.md).
	Dialect string
	// DialectFields are the members only Dialect can say, sorted by name,
	// with canonical JSON values. Adapters that speak Dialect natively send
	// them; others reject what they cannot honour. Empty when Dialect is.
	DialectFields []Field
	// Betas are the Anthropic beta features the client asked for (the
	// anthropic-beta request header: ParseBetas), sorted, without
	// repeats. A beta can change the answer, so they are keyed; the
	// Anthropic adapter sends them as its anthropic-beta header, other
	// providers have no such features and ignore them.
	Betas []string

	// --- not keyed ---

	Stream       bool   // client asked for SSE
	IncludeUsage bool   // stream_options.include_usage
	User         string // end-user id for provider abuse monitoring
	// Unkeyed holds pure-metadata fields passed through to OpenAI-compatible
	// upstreams but excluded from the key (metadata, store,
	// safety_identifier, prompt_cache_key, prompt_cache_retention), sorted
	// by name.
	Unkeyed []Field
	// MaxTokensField records which spelling the client used for the output
	// token limit ("max_tokens" or "max_completion_tokens") so OpenAI-compatible
	// upstreams receive what the client sent. Both spellings share keys.
	MaxTokensField string
}

// Field is one JSON member with a canonical JSON value.
type Field struct {
	Name  string
	Value json.RawMessage
}

// Params are the generation parameters. A nil pointer means "not sent";
// values equal to the provider-documented default are normalized to nil.
type Params struct {
	Temperature       *float64
	TopP              *float64
	N                 *int
	MaxTokens         *int     // max_completion_tokens or max_tokens
	Stop              []string // sorted, without repeats: stop sequences are a set
	Seed              *int64
	PresencePenalty   *float64
	FrequencyPenalty  *float64
	LogitBias         json.RawMessage // canonical JSON object, nil when empty
	Logprobs          bool
	TopLogprobs       *int
	ReasoningEffort   string
	ParallelToolCalls *bool           // nil when true (the default) or when there are no tools
	Modalities        []string        // sorted, without repeats; nil for the default ["text"]
	Audio             json.RawMessage // canonical JSON
	Prediction        json.RawMessage // canonical JSON
	ServiceTier       string          // "" for the default "auto"
	Verbosity         string
}

// Role values used by the canonical form.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Message is one conversation turn.
type Message struct {
	Role string
	Name string
	// Content holds the message parts. A plain string content becomes one
	// text part; nil means null or absent content (assistant turns carrying
	// only tool calls).
	Content    []Part
	ToolCalls  []ToolCall // assistant turns
	ToolCallID string     // tool turns
	Refusal    string     // assistant turns replayed by the client
	Extra      []Field    // unknown message fields, sorted, canonical JSON
}

// Text returns the concatenation of the message's text parts.
func (m *Message) Text() string {
	if len(m.Content) == 1 && m.Content[0].Type == PartText {
		return m.Content[0].Text
	}
	var n int
	for _, p := range m.Content {
		n += len(p.Text)
	}
	b := make([]byte, 0, n)
	for _, p := range m.Content {
		if p.Type == PartText {
			b = append(b, p.Text...)
		}
	}
	return string(b)
}

// Part types.
const (
	PartText       = "text"
	PartImageURL   = "image_url"
	PartInputAudio = "input_audio"
	PartFile       = "file"
	PartRefusal    = "refusal"
)

// Part is one content part. Type selects which fields are set; unknown part
// types keep their whole JSON in Raw.
type Part struct {
	Type string
	Text string // text and refusal parts

	// image_url parts: URL is the full URL as sent (https or data:), Detail
	// is "" for the default "auto".
	URL    string
	Detail string

	// input_audio parts: base64 Data and Format ("wav", "mp3").
	// file parts: FileID, or base64 Data with Filename.
	Data     string
	Format   string
	FileID   string
	Filename string

	// Raw holds the canonical JSON of a part of unknown type, or of a known
	// type with members Ditto does not model. It is sent upstream verbatim;
	// in the cache key its inline data is replaced by digests.
	Raw json.RawMessage
}

// Tool is a function the model may call.
type Tool struct {
	Type        string          // "function", or another type whose canonical JSON is in Raw
	Name        string          // function name
	Description string          // function description
	Parameters  json.RawMessage // JSON Schema, canonical JSON; nil when absent
	Strict      *bool
	Raw         json.RawMessage // canonical JSON of the whole tool for non-function types
}

// ToolCall is a call the assistant made.
type ToolCall struct {
	ID        string
	Type      string // "function"
	Name      string
	Arguments string // JSON text exactly as produced by the model
	// Raw holds the canonical JSON of the whole call when it has members
	// Ditto does not model (or is not a function call); the fields above are
	// then filled on a best-effort basis. nil for ordinary calls.
	Raw json.RawMessage
}

// Response is a complete, successful answer in canonical form. It is what the
// cache stores and what streams are assembled into.
type Response struct {
	ID                string
	Created           int64 // unix seconds
	Model             string
	SystemFingerprint string
	ServiceTier       string
	Choices           []Choice
	Usage             *Usage
}

// Choice is one generated alternative.
type Choice struct {
	Index        int
	Message      Message // Role assistant; Content nil or a single text part
	FinishReason string
	Logprobs     json.RawMessage // OpenAI logprobs object, or nil
}

// Usage counts tokens. Details are kept as OpenAI reports them.
type Usage struct {
	PromptTokens            int
	CompletionTokens        int
	TotalTokens             int
	PromptTokensDetails     json.RawMessage
	CompletionTokensDetails json.RawMessage
}

// Chunk is one streamed increment, shaped like an OpenAI chat.completion.chunk.
type Chunk struct {
	ID                string
	Created           int64
	Model             string
	SystemFingerprint string
	ServiceTier       string
	Choices           []ChunkChoice
	Usage             *Usage // set on the final usage chunk only
	// PromptUsage is the prompt side of the usage when it is known before
	// the end (Anthropic's message_start reports it; a replayed answer
	// knows it all): PromptTokens and PromptTokensDetails count, the
	// completion side does not. Set on a stream's first chunk, nil when
	// the provider tells usage only at the end (OpenAI-compatible ones).
	// Renderers whose wire format has no such field ignore it.
	PromptUsage *Usage
}

// ChunkChoice is the per-choice delta of a Chunk.
type ChunkChoice struct {
	Index        int
	Delta        Delta
	FinishReason string // "" while the choice is still generating
	Logprobs     json.RawMessage
}

// Delta is the incremental content of one choice.
type Delta struct {
	Role      string
	Content   *string // nil when this chunk adds no content
	Refusal   *string
	ToolCalls []ToolCallDelta
	// Extra holds delta members Ditto does not model (e.g. reasoning_content
	// from OpenAI-compatible servers). String values are concatenated when a
	// stream is assembled; other values keep the last one seen.
	Extra []Field
}

// ToolCallDelta is an incremental tool call; ID, Type and Name arrive in the
// first delta of a call, Arguments in pieces.
type ToolCallDelta struct {
	Index     int
	ID        string
	Type      string
	Name      string
	Arguments string
}

// Stream yields chunks of one streamed answer. Recv returns io.EOF after the
// last chunk of a complete answer; any other error means the stream ended
// early and the answer is incomplete. Close releases the stream and may be
// called at any time, more than once. A Stream is used by one goroutine.
type Stream interface {
	Recv() (*Chunk, error)
	Close() error
}
