package completions

import (
	"strconv"
	"strings"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/internal/wirejson"
)

// AppendResponse appends resp as a text_completion object, the answer of
// a non-streaming completions request, with the model that answered
// (resp.Model; model, the client's, when the answer names none):
// id "cmpl-…" (resp.ID, prefixed unless it has the prefix), one choice
// per canonical choice with its text (the refusal when there is no text),
// index, logprobs (the legacy object as the provider sent it, or null)
// and finish reason (tool_calls, which a prompt cannot ask for, reads
// stop), and usage.
func AppendResponse(dst []byte, resp *normalize.Response, model string) []byte {
	if resp.Model != "" {
		model = resp.Model // the model that answered, as the provider names it
	}
	dst = appendHead(dst, resp.ID, resp.Created, model)
	dst = append(dst, `,"choices":[`...)
	for i := range resp.Choices {
		if i > 0 {
			dst = append(dst, ',')
		}
		c := &resp.Choices[i]
		dst = appendChoice(dst, text(&c.Message), c.Index, c.Logprobs, c.FinishReason)
	}
	dst = append(dst, ']')
	if resp.Usage != nil {
		dst = append(dst, `,"usage":`...)
		dst = normalize.AppendUsage(dst, resp.Usage)
	}
	if resp.SystemFingerprint != "" {
		dst = append(dst, `,"system_fingerprint":`...)
		dst = wirejson.AppendString(dst, resp.SystemFingerprint)
	}
	return append(dst, '}')
}

func text(m *normalize.Message) string {
	if t := m.Text(); t != "" {
		return t
	}
	return m.Refusal
}

func appendHead(dst []byte, id string, created int64, model string) []byte {
	dst = append(dst, `{"id":`...)
	if strings.HasPrefix(id, "cmpl-") {
		dst = wirejson.AppendString(dst, id)
	} else {
		dst = append(dst, `"cmpl-`...)
		dst = wirejson.AppendStringContent(dst, id)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"object":"text_completion","created":`...)
	dst = strconv.AppendInt(dst, created, 10)
	dst = append(dst, `,"model":`...)
	return wirejson.AppendString(dst, model)
}

func appendChoice(dst []byte, text string, index int, logprobs []byte, finish string) []byte {
	dst = append(dst, `{"text":`...)
	dst = wirejson.AppendString(dst, text)
	dst = append(dst, `,"index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"logprobs":`...)
	if logprobs == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, logprobs...)
	}
	dst = append(dst, `,"finish_reason":`...)
	switch finish {
	case "":
		dst = append(dst, "null"...)
	case "tool_calls", "function_call":
		dst = append(dst, `"stop"`...)
	default:
		dst = wirejson.AppendString(dst, finish)
	}
	return append(dst, '}')
}

// Stream renders one answer's canonical chunks as the legacy completions
// event stream: "data: {text_completion}\n\n" frames, each with the
// choices that gained text, logprobs or a finish reason, a usage frame
// (choices []) when the client asked for usage, and "data: [DONE]\n\n" at
// End. Role chunks and empty deltas give nothing. Each method appends
// complete frames to dst and returns it; nothing is appended after End or
// Fail. A Stream renders one answer and is not safe for concurrent use.
type Stream struct {
	model        string
	includeUsage bool
	usageSent    bool
	done         bool
}

// NewStream returns a Stream for an answer to a request for model, the
// model name as the client sent it, which frames carry until a chunk names
// the model that answered; includeUsage is the request's
// stream_options.include_usage (Request.IncludeUsage).
func NewStream(model string, includeUsage bool) *Stream {
	return &Stream{model: model, includeUsage: includeUsage}
}

// Chunk appends the frames for c, possibly none.
func (s *Stream) Chunk(dst []byte, c *normalize.Chunk) []byte {
	if s.done || c == nil {
		return dst
	}
	if c.Model != "" {
		s.model = c.Model // the model that answered, as the provider names it
	}
	n := 0
	for i := range c.Choices {
		cc := &c.Choices[i]
		t := chunkText(&cc.Delta)
		if t == "" && cc.FinishReason == "" && cc.Logprobs == nil {
			continue
		}
		if n == 0 {
			dst = append(dst, "data: "...)
			dst = appendHead(dst, c.ID, c.Created, s.model)
			dst = append(dst, `,"choices":[`...)
		} else {
			dst = append(dst, ',')
		}
		n++
		dst = appendChoice(dst, t, cc.Index, cc.Logprobs, cc.FinishReason)
	}
	if n > 0 {
		if c.SystemFingerprint != "" {
			dst = append(dst, `],"system_fingerprint":`...)
			dst = wirejson.AppendString(dst, c.SystemFingerprint)
			dst = append(dst, "}\n\n"...)
		} else {
			dst = append(dst, "]}\n\n"...)
		}
	}
	if c.Usage != nil && s.includeUsage && !s.usageSent {
		dst = s.usage(dst, c.ID, c.Created, c.Usage)
	}
	return dst
}

func chunkText(d *normalize.Delta) string {
	switch {
	case d.Content != nil && *d.Content != "":
		return *d.Content
	case d.Refusal != nil:
		return *d.Refusal
	}
	return ""
}

func (s *Stream) usage(dst []byte, id string, created int64, u *normalize.Usage) []byte {
	s.usageSent = true
	dst = append(dst, "data: "...)
	dst = appendHead(dst, id, created, s.model)
	dst = append(dst, `,"choices":[],"usage":`...)
	dst = normalize.AppendUsage(dst, u)
	return append(dst, "}\n\n"...)
}

// End appends the end of the complete answer resp: its usage frame if the
// client asked for usage and no chunk carried it, then "data: [DONE]".
func (s *Stream) End(dst []byte, resp *normalize.Response) []byte {
	if s.done {
		return dst
	}
	s.done = true
	if s.includeUsage && !s.usageSent && resp != nil && resp.Usage != nil {
		dst = s.usage(dst, resp.ID, resp.Created, resp.Usage)
	}
	return append(dst, "data: [DONE]\n\n"...)
}

// Fail appends the OpenAI-shaped error event that ends a stream which
// cannot finish ({"error":{"message","type","param","code"}}), which the
// SDKs raise rather than see a silent end. status is not part of the
// event: the response status was sent with the first frame.
func (s *Stream) Fail(dst []byte, status int, typ, message string) []byte {
	if s.done {
		return dst
	}
	s.done = true
	if typ == "" {
		typ = "server_error"
		if status >= 400 && status < 500 {
			typ = "invalid_request_error"
		}
	}
	dst = append(dst, `data: {"error":{"message":`...)
	dst = wirejson.AppendString(dst, message)
	dst = append(dst, `,"type":`...)
	dst = wirejson.AppendString(dst, typ)
	return append(dst, ",\"param\":null,\"code\":null}}\n\n"...)
}
