package eventstream

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
)

// testStream queues one chunk per event named by its data, fails at
// "fail" after queuing, and finishes at "stop".
func testStream(body string, end func() error) *Stream {
	var s *Stream
	s = New("test", io.NopCloser(strings.NewReader(body)), func(data []byte) error {
		switch d := string(data); d {
		case "stop":
			s.Finish()
		case "fail":
			s.Push(&normalize.Chunk{ID: d})
			return errors.New("failed")
		default:
			s.Push(&normalize.Chunk{ID: d})
		}
		return nil
	}, end)
	return s
}

func recvAll(s *Stream) (ids []string, err error) {
	for {
		c, err := s.Recv()
		if err != nil {
			return ids, err
		}
		ids = append(ids, c.ID)
	}
}

func TestStream(t *testing.T) {
	truncated := errors.New("truncated")
	endErr := func() error { return truncated }
	tests := []struct {
		name, body string
		end        func() error
		ids        string
		err        error // nil: any non-EOF error
	}{
		{"finished", "data: a\n\ndata: b\n\ndata: stop\n\ndata: c\n\n", endErr, "a b", io.EOF},
		{"cut", "data: a\n\n", endErr, "a", truncated},
		{"end accepts", "data: a\n\n", func() error { return nil }, "a", io.EOF},
		{"error after queued chunk", "data: a\n\ndata: fail\n\ndata: b\n\n", endErr, "a fail", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testStream(tt.body, tt.end)
			defer s.Close()
			ids, err := recvAll(s)
			if got := strings.Join(ids, " "); got != tt.ids {
				t.Errorf("chunks %q, want %q", got, tt.ids)
			}
			if (tt.err != nil && err != tt.err) || (tt.err == nil && (err == nil || err == io.EOF)) {
				t.Errorf("ended with %v, want %v", err, tt.err)
			}
			if _, again := s.Recv(); again != err {
				t.Errorf("Recv after the end = %v, want %v again", again, err)
			}
		})
	}
}

func TestChoices(t *testing.T) {
	var c Choices
	if c.Complete() {
		t.Error("no choices seen, yet complete")
	}
	c.Track(&normalize.Chunk{Choices: []normalize.ChunkChoice{{Index: 0}, {Index: 1}}})
	c.Track(&normalize.Chunk{Choices: []normalize.ChunkChoice{{Index: 0, FinishReason: "stop"}}})
	if c.Complete() {
		t.Error("choice 1 unfinished, yet complete")
	}
	c.Track(&normalize.Chunk{Choices: []normalize.ChunkChoice{{Index: 1, FinishReason: "length"}, {Index: 0}}})
	if !c.Complete() {
		t.Error("every choice finished, yet not complete")
	}
}
