package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func events(t *testing.T, r io.Reader) ([]Event, error) {
	t.Helper()
	rd := NewReader(r)
	var out []Event
	for {
		ev, err := rd.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		out = append(out, ev)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []Event
	}{
		{"lf", "event: a\ndata: 1\n\ndata: 2\n\n", []Event{{"a", []byte("1")}, {"", []byte("2")}}},
		{"crlf", "data: {\"x\":1}\r\n\r\ndata: y\r\n\r\n", []Event{{"", []byte(`{"x":1}`)}, {"", []byte("y")}}},
		{"cr", "data: a\r\rdata: b\r\r", []Event{{"", []byte("a")}, {"", []byte("b")}}},
		{"multi-line data", "data: a\ndata:b\n\n", []Event{{"", []byte("a\nb")}}},
		{"comments, id, retry, no data", ": ping\nid: 3\nretry: 10\n\nevent: x\n\ndata: z\n\n", []Event{{"", []byte("z")}}},
		{"no final blank line", "data: a\n\nevent: e\ndata: b\n", []Event{{"", []byte("a")}, {"e", []byte("b")}}},
		{"no final newline", "data: a\n\ndata: b", []Event{{"", []byte("a")}, {"", []byte("b")}}},
		{"padded JSON kept verbatim", "data: {\"type\":\"x\"   }\n\n", []Event{{"", []byte(`{"type":"x"   }`)}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time exercises the "\r" then "\n" split too.
			got, err := events(t, iotest.OneByteReader(strings.NewReader(tt.give)))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events %q, want %d %q", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i].Name != tt.want[i].Name || string(got[i].Data) != string(tt.want[i].Data) {
					t.Errorf("event %d = %q %q, want %q %q", i, got[i].Name, got[i].Data, tt.want[i].Name, tt.want[i].Data)
				}
			}
		})
	}
}

func TestReaderError(t *testing.T) {
	boom := errors.New("boom")
	rd := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)))
	if ev, err := rd.Next(); err != nil || string(ev.Data) != "a" {
		t.Fatalf("Next = %q, %v; want a, nil", ev.Data, err)
	}
	for range 2 {
		if ev, err := rd.Next(); !errors.Is(err, boom) {
			t.Errorf("Next = %q, %v; want the read error, and the cut event b never", ev.Data, err)
		}
	}
}

func TestReleasedReaderFails(t *testing.T) {
	r := NewReader(strings.NewReader("data: a\n\ndata: b\n\n"))
	if ev, err := r.Next(); err != nil || string(ev.Data) != "a" {
		t.Fatalf("Next = %q, %v", ev.Data, err)
	}
	r.Release()
	r.Release()
	if ev, err := r.Next(); err == nil || err == io.EOF {
		t.Fatalf("Next after Release = %q, %v; want an error", ev.Data, err)
	}
	// A new reader may get the recycled buffer and reads its own stream.
	r2 := NewReader(strings.NewReader("data: c\n\n"))
	defer r2.Release()
	if ev, err := r2.Next(); err != nil || string(ev.Data) != "c" {
		t.Fatalf("second reader: %q, %v", ev.Data, err)
	}
}

func TestNextViewSharesTheBufferUntilTheNextEvent(t *testing.T) {
	r := NewReader(strings.NewReader("data: first\n\ndata: second\n\n"))
	defer r.Release()
	a, err := r.NextView()
	if err != nil || string(a.Data) != "first" {
		t.Fatalf("NextView = %q, %v", a.Data, err)
	}
	kept := string(a.Data)
	b, err := r.Next() // a copy: survives later reads
	if err != nil || string(b.Data) != "second" || kept != "first" {
		t.Fatalf("Next = %q, %v (kept %q)", b.Data, err, kept)
	}
	if _, err := r.NextView(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if string(b.Data) != "second" {
		t.Fatalf("Next's data changed after a later read: %q", b.Data)
	}
}
