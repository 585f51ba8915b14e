package gemini

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/providers/internal/eventstream"
	"github.com/dittocache/ditto/providers/internal/wire"
)

// errTruncated ends a stream whose body ended before every candidate
// finished.
var errTruncated = fmt.Errorf("gemini: stream ended before every candidate finished: %w", io.ErrUnexpectedEOF)

// stream turns streamGenerateContent events (each a whole
// GenerateContentResponse) into OpenAI-shaped chunks: per candidate a first
// delta with role assistant, content and tool-call deltas, and a finish
// chunk; then, when the body ends after every candidate finished, a
// usage-only chunk from the last usageMetadata, and io.EOF.
type stream struct {
	*eventstream.Stream
	key string

	model   string
	created int64
	id      string
	cands   map[int]*candState
	usage   *wireUsage
}

type candState struct {
	calls    int // tool calls emitted
	finished bool
}

func newStream(body io.ReadCloser, model string, created int64, key string) *stream {
	s := &stream{key: key, model: model, created: created, cands: map[int]*candState{}}
	s.Stream = eventstream.New(name, body, s.handle, s.end)
	return s
}

// end runs at the clean end of the body.
func (s *stream) end() error {
	if len(s.cands) == 0 {
		return errTruncated
	}
	for _, c := range s.cands {
		if !c.finished {
			return errTruncated
		}
	}
	if s.usage != nil {
		c := s.chunk()
		c.Choices = []normalize.ChunkChoice{}
		c.Usage = s.usage.canonical()
		s.Push(c)
	}
	return nil
}

func (s *stream) handle(data []byte) error {
	var w wireResponse
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("gemini: decoding stream event: %w", err)
	}
	if len(w.Error) > 0 && string(w.Error) != "null" {
		return streamError(w.Error, s.key)
	}
	if err := blocked(&w); err != nil {
		return err
	}
	if s.id == "" {
		s.id = w.ResponseID
	}
	if w.ModelVersion != "" {
		s.model = w.ModelVersion
	}
	if w.UsageMetadata != nil {
		s.usage = w.UsageMetadata
	}
	cands := slices.Clone(w.Candidates)
	slices.SortStableFunc(cands, func(a, b wireCandidate) int { return a.Index - b.Index })
	for i := range cands {
		c := &cands[i]
		st := s.cands[c.Index]
		first := st == nil
		if first {
			st = &candState{}
			s.cands[c.Index] = st
		}
		if st.finished {
			return fmt.Errorf("gemini: candidate %d continued after its finishReason", c.Index)
		}
		var p candidateParts
		p.addFrom(c, st.calls)
		d := normalize.Delta{}
		if first {
			d.Role = normalize.RoleAssistant
		}
		if p.text.Len() > 0 || first {
			t := p.text.String()
			d.Content = &t
		}
		if p.thought.Len() > 0 {
			d.Extra = wire.Reasoning(p.thought.String())
		}
		for j, tc := range p.calls {
			d.ToolCalls = append(d.ToolCalls, normalize.ToolCallDelta{Index: st.calls + j, ID: tc.ID, Type: "function", Name: tc.Name, Arguments: tc.Arguments})
		}
		st.calls += len(p.calls)
		if d.Role != "" || d.Content != nil || d.Extra != nil || d.ToolCalls != nil {
			ch := s.chunk()
			ch.Choices = []normalize.ChunkChoice{{Index: c.Index, Delta: d}}
			s.Push(ch)
		}
		if c.FinishReason != "" {
			st.finished = true
			ch := s.chunk()
			ch.Choices = []normalize.ChunkChoice{{Index: c.Index, FinishReason: finishReason(c.FinishReason, st.calls > 0)}}
			s.Push(ch)
		}
	}
	return nil
}

func (s *stream) chunk() *normalize.Chunk {
	return &normalize.Chunk{ID: s.id, Created: s.created, Model: s.model}
}
