package responses

import (
	"bytes"
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/dittocache/ditto/normalize"
)

// Stream renders one answer as the Responses API's typed event stream:
// response.created and response.in_progress, then per output item
// response.output_item.added, its content events (reasoning summary text,
// output_text, refusal, function_call_arguments) and
// response.output_item.done, and finally response.completed or
// response.incomplete. Each event is a complete SSE frame
// ("event: NAME\ndata: JSON\n\n") with a sequence_number counting from 0.
//
// Chunks may come from any provider (or normalize.Replay of a stored
// answer): reasoning text in Delta.Extra reasoning_content, content,
// refusal and tool-call deltas in any mix. An item is closed when a delta of
// another kind starts; function calls stay open together until then. Only
// choice 0 is rendered (the Responses API has no n). A Stream is used by one
// goroutine; after End or Fail it appends nothing.
type Stream struct {
	e       *Echo
	seq     int
	started bool
	done    bool
	h       idHash
	created int64
	model   string
	finish  string

	items     []*sitem
	reasoning *sitem // the open reasoning item, or nil
	message   *sitem // the open message item, or nil
	calls     []*sitem
	nMsg, nRs int
}

// sitem is one output item of the stream.
type sitem struct {
	kind     byte // 'r' reasoning, 'm' message, 'f' function call
	out      int  // output_index
	n        int  // ordinal among items of its kind (ids after the first get a suffix)
	closed   bool
	status   string
	text     []byte
	parts    []spart
	open     *spart // the open content part of a message
	call     int    // tool call index
	callID   string
	name     string
	idSuffix string // for a tool call index seen again after its item closed
}

type spart struct {
	refusal bool
	text    []byte
	lp      []byte // Responses logprobs tokens, comma separated
}

// NewStream starts the stream of the answer to the request echo describes
// (nil: defaults).
func NewStream(echo *Echo) *Stream { return &Stream{e: orDefault(echo)} }

func (s *Stream) event(dst []byte, name string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, name...)
	dst = append(dst, `","sequence_number":`...)
	dst = strconv.AppendInt(dst, int64(s.seq), 10)
	s.seq++
	return dst
}

func endEvent(dst []byte) []byte { return append(dst, "}\n\n"...) }

func (s *Stream) start(dst []byte, id string, created int64, model string) []byte {
	s.started = true
	s.h = hashID(id, s.e.IDSeed)
	s.created, s.model = created, model
	for _, name := range [...]string{"response.created", "response.in_progress"} {
		dst = s.event(dst, name)
		dst = append(dst, `,"response":`...)
		dst = appendHead(dst, &s.h, s.created, "in_progress", "", s.model, s.e)
		dst = appendServiceTier(dst, "", s.e)
		dst = append(dst, `,"output":[]}`...)
		dst = endEvent(dst)
	}
	return dst
}

// Chunk appends the events of one canonical chunk (possibly none).
func (s *Stream) Chunk(dst []byte, c *normalize.Chunk) []byte {
	if s.done {
		return dst
	}
	if !s.started {
		dst = s.start(dst, c.ID, c.Created, c.Model)
	}
	for i := range c.Choices {
		cc := &c.Choices[i]
		if cc.Index != 0 {
			continue
		}
		d := &cc.Delta
		if text, ok := reasoningText(d.Extra); ok && text != "" {
			dst = s.reasoningDelta(dst, text)
		}
		if d.Content != nil && (*d.Content != "" || cc.Logprobs != nil) {
			dst = s.textDelta(dst, *d.Content, cc.Logprobs)
		} else if d.Content != nil && s.message == nil && len(d.ToolCalls) == 0 && d.Refusal == nil {
			// An empty content delta still says the answer has text.
			dst = s.textDelta(dst, "", nil)
		}
		if d.Refusal != nil && *d.Refusal != "" {
			dst = s.refusalDelta(dst, *d.Refusal)
		}
		for j := range d.ToolCalls {
			dst = s.callDelta(dst, &d.ToolCalls[j])
		}
		if cc.FinishReason != "" {
			s.finish = cc.FinishReason
		}
	}
	return dst
}

func (s *Stream) newItem(kind byte) *sitem {
	it := &sitem{kind: kind, out: len(s.items), status: "in_progress"}
	switch kind {
	case 'm':
		it.n = s.nMsg
		s.nMsg++
	case 'r':
		it.n = s.nRs
		s.nRs++
	}
	s.items = append(s.items, it)
	return it
}

func (s *Stream) appendItemID(dst []byte, it *sitem) []byte {
	switch it.kind {
	case 'r':
		return s.h.append(dst, rsPrefix, it.n, it.n > 0)
	case 'm':
		return s.h.append(dst, msgPrefix, it.n, it.n > 0)
	}
	if it.idSuffix != "" {
		dst = s.h.append(dst, fcPrefix, it.call, true)
		dst = dst[:len(dst)-1]
		dst = append(dst, it.idSuffix...)
		return append(dst, '"')
	}
	return s.h.append(dst, fcPrefix, it.call, true)
}

// itemRef writes ,"item_id":…,"output_index":….
func (s *Stream) itemRef(dst []byte, it *sitem) []byte {
	dst = append(dst, `,"item_id":`...)
	dst = s.appendItemID(dst, it)
	dst = append(dst, `,"output_index":`...)
	return appendInt(dst, it.out)
}

// appendItem writes the item as it stands.
func (s *Stream) appendItem(dst []byte, it *sitem) []byte {
	switch it.kind {
	case 'r':
		dst = append(dst, `{"id":`...)
		dst = s.appendItemID(dst, it)
		dst = append(dst, `,"type":"reasoning","summary":[`...)
		if it.closed {
			dst = append(dst, `{"type":"summary_text","text":`...)
			dst = appendString(dst, string(it.text))
			dst = append(dst, '}')
		}
		dst = append(dst, `],"status":"`...)
		dst = append(dst, it.status...)
		return append(dst, `"}`...)
	case 'm':
		dst = append(dst, `{"id":`...)
		dst = s.appendItemID(dst, it)
		dst = append(dst, `,"type":"message","status":"`...)
		dst = append(dst, it.status...)
		dst = append(dst, `","role":"assistant","content":[`...)
		if it.closed {
			for k := range it.parts {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = appendPart(dst, &it.parts[k])
			}
		}
		return append(dst, `]}`...)
	}
	dst = append(dst, `{"id":`...)
	dst = s.appendItemID(dst, it)
	dst = append(dst, `,"type":"function_call","status":"`...)
	dst = append(dst, it.status...)
	dst = append(dst, `","arguments":`...)
	if it.closed {
		dst = appendString(dst, string(it.text))
	} else {
		dst = append(dst, `""`...)
	}
	dst = append(dst, `,"call_id":`...)
	dst = appendString(dst, it.callID)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, it.name)
	return append(dst, '}')
}

func appendPart(dst []byte, p *spart) []byte {
	if p.refusal {
		return appendRefusalPart(dst, string(p.text))
	}
	dst = append(dst, `{"type":"output_text","text":`...)
	dst = appendString(dst, string(p.text))
	dst = append(dst, `,"annotations":[],"logprobs":[`...)
	dst = append(dst, p.lp...)
	return append(dst, `]}`...)
}

func (s *Stream) added(dst []byte, it *sitem) []byte {
	dst = s.event(dst, "response.output_item.added")
	dst = append(dst, `,"output_index":`...)
	dst = appendInt(dst, it.out)
	dst = append(dst, `,"item":`...)
	dst = s.appendItem(dst, it)
	return endEvent(dst)
}

// closeAll closes every open item.
func (s *Stream) closeAll(dst []byte, st string) []byte {
	dst = s.closeReasoning(dst)
	dst = s.closeMessage(dst, st)
	return s.closeCalls(dst, st)
}

func (s *Stream) itemDone(dst []byte, it *sitem, st string) []byte {
	it.closed, it.status = true, st
	dst = s.event(dst, "response.output_item.done")
	dst = append(dst, `,"output_index":`...)
	dst = appendInt(dst, it.out)
	dst = append(dst, `,"item":`...)
	dst = s.appendItem(dst, it)
	return endEvent(dst)
}

func (s *Stream) reasoningDelta(dst []byte, text string) []byte {
	if s.reasoning == nil {
		dst = s.closeMessage(dst, "completed")
		dst = s.closeCalls(dst, "completed")
		s.reasoning = s.newItem('r')
		dst = s.added(dst, s.reasoning)
		dst = s.event(dst, "response.reasoning_summary_part.added")
		dst = s.itemRef(dst, s.reasoning)
		dst = append(dst, `,"summary_index":0,"part":{"type":"summary_text","text":""}`...)
		dst = endEvent(dst)
	}
	it := s.reasoning
	it.text = append(it.text, text...)
	dst = s.event(dst, "response.reasoning_summary_text.delta")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"summary_index":0,"delta":`...)
	dst = appendString(dst, text)
	return endEvent(dst)
}

func (s *Stream) closeReasoning(dst []byte) []byte {
	it := s.reasoning
	if it == nil {
		return dst
	}
	s.reasoning = nil
	dst = s.event(dst, "response.reasoning_summary_text.done")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"summary_index":0,"text":`...)
	dst = appendString(dst, string(it.text))
	dst = endEvent(dst)
	dst = s.event(dst, "response.reasoning_summary_part.done")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"summary_index":0,"part":{"type":"summary_text","text":`...)
	dst = appendString(dst, string(it.text))
	dst = append(dst, '}')
	dst = endEvent(dst)
	return s.itemDone(dst, it, "completed")
}

// openPart makes sure the open message has an open part of the kind.
func (s *Stream) openPart(dst []byte, refusal bool) []byte {
	if s.message == nil {
		dst = s.closeReasoning(dst)
		dst = s.closeCalls(dst, "completed")
		s.message = s.newItem('m')
		dst = s.added(dst, s.message)
	}
	it := s.message
	if it.open != nil && it.open.refusal == refusal {
		return dst
	}
	dst = s.closePart(dst)
	it.parts = append(it.parts, spart{refusal: refusal})
	it.open = &it.parts[len(it.parts)-1]
	dst = s.event(dst, "response.content_part.added")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"content_index":`...)
	dst = appendInt(dst, len(it.parts)-1)
	if refusal {
		dst = append(dst, `,"part":{"type":"refusal","refusal":""}`...)
	} else {
		dst = append(dst, `,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}`...)
	}
	return endEvent(dst)
}

func (s *Stream) textDelta(dst []byte, text string, logprobs []byte) []byte {
	dst = s.openPart(dst, false)
	it := s.message
	p := it.open
	p.text = append(p.text, text...)
	dst = s.event(dst, "response.output_text.delta")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"content_index":`...)
	dst = appendInt(dst, len(it.parts)-1)
	dst = append(dst, `,"delta":`...)
	dst = appendString(dst, text)
	dst = append(dst, `,"logprobs":[`...)
	if s.e.logprobs && logprobs != nil {
		mark := len(dst)
		dst = appendChunkTokens(dst, logprobs)
		if len(dst) > mark {
			if len(p.lp) > 0 {
				p.lp = append(p.lp, ',')
			}
			p.lp = append(p.lp, dst[mark:]...)
		}
	}
	dst = append(dst, ']')
	return endEvent(dst)
}

// appendChunkTokens writes the Responses tokens of one chunk's chat
// logprobs, comma separated, without brackets.
func appendChunkTokens(dst []byte, chat []byte) []byte {
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(chat)
	if err != nil || v.Type() != fastjson.TypeObject {
		return dst
	}
	for i, t := range v.GetArray("content") {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendToken(dst, t, true)
	}
	return dst
}

func (s *Stream) refusalDelta(dst []byte, text string) []byte {
	dst = s.openPart(dst, true)
	it := s.message
	it.open.text = append(it.open.text, text...)
	dst = s.event(dst, "response.refusal.delta")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"content_index":`...)
	dst = appendInt(dst, len(it.parts)-1)
	dst = append(dst, `,"delta":`...)
	dst = appendString(dst, text)
	return endEvent(dst)
}

func (s *Stream) closePart(dst []byte) []byte {
	it := s.message
	if it == nil || it.open == nil {
		return dst
	}
	p := it.open
	it.open = nil
	k := len(it.parts) - 1
	if p.refusal {
		dst = s.event(dst, "response.refusal.done")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"content_index":`...)
		dst = appendInt(dst, k)
		dst = append(dst, `,"refusal":`...)
		dst = appendString(dst, string(p.text))
	} else {
		dst = s.event(dst, "response.output_text.done")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"content_index":`...)
		dst = appendInt(dst, k)
		dst = append(dst, `,"text":`...)
		dst = appendString(dst, string(p.text))
		dst = append(dst, `,"logprobs":[`...)
		dst = append(dst, p.lp...)
		dst = append(dst, ']')
	}
	dst = endEvent(dst)
	dst = s.event(dst, "response.content_part.done")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"content_index":`...)
	dst = appendInt(dst, k)
	dst = append(dst, `,"part":`...)
	dst = appendPart(dst, p)
	return endEvent(dst)
}

func (s *Stream) closeMessage(dst []byte, st string) []byte {
	if s.message == nil {
		return dst
	}
	dst = s.closePart(dst)
	it := s.message
	s.message = nil
	return s.itemDone(dst, it, st)
}

func (s *Stream) callDelta(dst []byte, d *normalize.ToolCallDelta) []byte {
	var it *sitem
	for _, c := range s.calls {
		if c.call == d.Index {
			it = c
			break
		}
	}
	if it == nil {
		dst = s.closeReasoning(dst)
		dst = s.closeMessage(dst, "completed")
		it = s.newItem('f')
		it.call, it.callID, it.name = d.Index, d.ID, d.Name
		for _, prev := range s.items[:len(s.items)-1] {
			if prev.kind == 'f' && prev.call == d.Index {
				// The same call index again after its item closed: a new
				// item with an id of its own.
				it.idSuffix = "_" + strconv.Itoa(it.out)
			}
		}
		s.calls = append(s.calls, it)
		dst = s.added(dst, it)
	} else {
		if it.callID == "" {
			it.callID = d.ID
		}
		it.name += d.Name
	}
	if d.Arguments == "" {
		return dst
	}
	it.text = append(it.text, d.Arguments...)
	dst = s.event(dst, "response.function_call_arguments.delta")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"delta":`...)
	dst = appendString(dst, d.Arguments)
	return endEvent(dst)
}

func (s *Stream) closeCalls(dst []byte, st string) []byte {
	for _, it := range s.calls {
		dst = s.event(dst, "response.function_call_arguments.done")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"name":`...)
		dst = appendString(dst, it.name)
		dst = append(dst, `,"arguments":`...)
		dst = appendString(dst, string(it.text))
		dst = endEvent(dst)
		dst = s.itemDone(dst, it, st)
	}
	s.calls = s.calls[:0]
	return dst
}

// End appends the closing events of a complete answer: resp is the answer
// the chunks assembled into (normalize.Assembler), with its usage and finish
// reasons. The final response.completed (or response.incomplete) event
// carries the items as streamed. If no chunk was seen, resp is streamed
// first.
func (s *Stream) End(dst []byte, resp *normalize.Response) []byte {
	if s.done {
		return dst
	}
	if !s.started {
		for _, c := range normalize.Replay(resp, false) {
			dst = s.Chunk(dst, &c)
		}
		if !s.started {
			dst = s.start(dst, resp.ID, resp.Created, resp.Model)
		}
	}
	finish := s.finish
	if c := firstChoice(resp); c != nil && c.FinishReason != "" {
		finish = c.FinishReason
	}
	st, reason := status(finish)
	dst = s.closeAll(dst, itemStatus(st))
	s.done = true
	name := "response.completed"
	if st == "incomplete" {
		name = "response.incomplete"
	}
	dst = s.event(dst, name)
	dst = append(dst, `,"response":`...)
	dst = appendHead(dst, &s.h, s.created, st, reason, s.model, s.e)
	dst = appendServiceTier(dst, resp.ServiceTier, s.e)
	dst = s.appendOutput(dst)
	if resp.Usage != nil {
		dst = appendUsage(append(dst, `,"usage":`...), resp.Usage)
	}
	dst = append(dst, '}')
	return endEvent(dst)
}

func (s *Stream) appendOutput(dst []byte) []byte {
	dst = append(dst, `,"output":[`...)
	for i, it := range s.items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = s.appendItem(dst, it)
	}
	return append(dst, ']')
}

// Fail ends a stream that failed after it started, as OpenAI does: a
// response.failed event whose response carries the error (and the items
// streamed so far, marked incomplete), then an error event. status is the
// HTTP status the failure would have had (429 reads as
// rate_limit_exceeded), typ and code the OpenAI error type and code (code
// may be empty), message the error message.
func (s *Stream) Fail(dst []byte, status int, typ, code, message string) []byte {
	if s.done {
		return dst
	}
	if !s.started {
		dst = s.start(dst, "", 0, "")
	}
	for _, it := range s.items {
		if !it.closed {
			it.closed, it.status = true, "incomplete"
			if it.kind == 'm' {
				it.open = nil
			}
		}
	}
	s.reasoning, s.message, s.calls = nil, nil, nil
	s.done = true
	rc := responseErrorCode(status, code)
	dst = s.event(dst, "response.failed")
	dst = append(dst, `,"response":`...)
	head := appendHead(nil, &s.h, s.created, "failed", "", s.model, s.e)
	// appendHead writes "error":null; the failed response carries the error.
	const null = `"error":null`
	at := bytes.Index(head, []byte(null))
	dst = append(dst, head[:at]...)
	dst = append(dst, `"error":{"code":`...)
	dst = appendString(dst, rc)
	dst = append(dst, `,"message":`...)
	dst = appendString(dst, message)
	dst = append(dst, '}')
	dst = append(dst, head[at+len(null):]...)
	dst = appendServiceTier(dst, "", s.e)
	dst = s.appendOutput(dst)
	dst = append(dst, '}')
	dst = endEvent(dst)
	dst = s.event(dst, "error")
	dst = append(dst, `,"code":`...)
	switch {
	case code != "":
		dst = appendString(dst, code)
	case typ != "":
		dst = appendString(dst, typ)
	default:
		dst = appendString(dst, rc)
	}
	dst = append(dst, `,"message":`...)
	dst = appendString(dst, message)
	dst = append(dst, `,"param":null`...)
	return endEvent(dst)
}

// responseErrorCode picks the Response error code (an enum in the API) for
// a failure.
func responseErrorCode(status int, code string) string {
	switch code {
	case "server_error", "rate_limit_exceeded", "invalid_prompt":
		return code
	}
	if status == 429 {
		return "rate_limit_exceeded"
	}
	return "server_error"
}
