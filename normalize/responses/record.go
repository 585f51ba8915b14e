package responses

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/dittocache/ditto/normalize"
)

// Record is Ditto's own record of a response it answered, so that a
// follow-up naming it (previous_response_id, or item_reference items naming
// its output) works with any provider. It holds the full conversation of the
// response: its expanded input messages, without the instructions (OpenAI
// does not carry instructions over), and the assistant's answer last.
//
// A Record is immutable once parsed and safe for concurrent use.
type Record struct {
	// Messages is the conversation in canonical form, the answer last.
	Messages []normalize.Message
	raw      []byte // the messages as chat JSON, comma separated, no brackets
}

// recordHead and recordTail frame the record encoding, a compact JSON
// document {"v":1,"messages":[...chat-completions messages...]}: the
// messages are written by normalize.AppendOpenAIRequest and read back by
// normalize.DecodeOpenAI, the same rules as every chat request.
const (
	recordHead = `{"v":1,"messages":[`
	recordTail = `]}`
	wireHead   = `{"model":"","messages":[`
	wireTail   = `]}`
)

// NewRecord encodes the record of resp, the answer to req (as Decode
// returned it; echo is that request's Echo, which says whether its first
// message is the instructions). Only the first choice is recorded: the
// Responses API has one. The gateway stores the bytes under ResponseID(resp,
// echo), per tenant.
func NewRecord(req *normalize.Request, resp *normalize.Response, echo *Echo) []byte {
	msgs := req.Messages
	if echo != nil && echo.instructions != nil && len(msgs) > 0 && msgs[0].Role == normalize.RoleSystem {
		msgs = msgs[1:]
	}
	all := make([]normalize.Message, 0, len(msgs)+1)
	all = append(all, msgs...)
	if c := firstChoice(resp); c != nil {
		m := c.Message
		// The answer as a chat client would send it back: provider extras
		// such as reasoning_content are not part of the conversation.
		all = append(all, normalize.Message{Role: normalize.RoleAssistant, Content: m.Content, Refusal: m.Refusal, ToolCalls: m.ToolCalls})
	}
	wire := normalize.AppendOpenAIRequest(nil, &normalize.Request{Messages: all}, "", false)
	inner := wire[len(wireHead) : len(wire)-len(wireTail)]
	out := make([]byte, 0, len(recordHead)+len(inner)+len(recordTail))
	out = append(out, recordHead...)
	out = append(out, inner...)
	return append(out, recordTail...)
}

// ErrRecord reports a stored record that cannot be read (another format
// version or corrupt bytes): treat it as absent.
var ErrRecord = errors.New("responses: unreadable record")

// ParseRecord decodes the bytes of NewRecord. The Record does not alias b.
func ParseRecord(b []byte) (*Record, error) {
	if !bytes.HasPrefix(b, []byte(recordHead)) || !bytes.HasSuffix(b, []byte(recordTail)) || len(b) < len(recordHead)+len(recordTail) {
		return nil, ErrRecord
	}
	inner := b[len(recordHead) : len(b)-len(recordTail)]
	body := make([]byte, 0, len(wireHead)+len(inner)+len(wireTail))
	body = append(body, `{"model":"r","messages":[`...)
	body = append(body, inner...)
	body = append(body, wireTail...)
	req, err := normalize.DecodeOpenAI(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecord, err)
	}
	if len(req.Params.Stop) > 0 || req.Extra != nil || req.Tools != nil {
		return nil, ErrRecord // not messages alone: not ours
	}
	return &Record{Messages: req.Messages, raw: bytes.Clone(inner)}, nil
}

// answer returns the assistant message the record ends with, or nil.
func (r *Record) answer() *normalize.Message {
	if r == nil || len(r.Messages) == 0 {
		return nil
	}
	m := &r.Messages[len(r.Messages)-1]
	if m.Role != normalize.RoleAssistant {
		return nil
	}
	return m
}

func firstChoice(resp *normalize.Response) *normalize.Choice {
	if resp == nil || len(resp.Choices) == 0 {
		return nil
	}
	for i := range resp.Choices {
		if resp.Choices[i].Index == 0 {
			return &resp.Choices[i]
		}
	}
	return &resp.Choices[0]
}
