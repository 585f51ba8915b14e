package store_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/dittocache/ditto/cache/store"
)

func sampleEntry() store.Entry {
	e := store.Entry{
		Created: time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.UTC),
		Fresh:   90 * time.Minute,
		Meta:    []byte("meta"),
		Body:    []byte(`{"id":"chatcmpl-1","object":"chat.completion"}`),
	}
	for i := range e.Digest {
		e.Digest[i] = byte(i)
	}
	return e
}

func TestMarshalRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		give store.Entry
	}{
		{"sample", sampleEntry()},
		{"zero", store.Entry{}},
		{"empty body", store.Entry{Created: time.Unix(1, 0), Body: []byte{}}},
		{"pre-epoch", store.Entry{Created: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := store.MarshalEntry(tt.give)
			got, err := store.UnmarshalEntry(b)
			if err != nil {
				t.Fatalf("UnmarshalEntry(MarshalEntry(e)) error = %v", err)
			}
			if got.Digest != tt.give.Digest || !got.Created.Equal(tt.give.Created) || got.Fresh != tt.give.Fresh || !bytes.Equal(got.Meta, tt.give.Meta) || !bytes.Equal(got.Body, tt.give.Body) {
				t.Errorf("UnmarshalEntry(MarshalEntry(e)) = %+v, want %+v", got, tt.give)
			}
		})
	}
}

func TestMarshalDoesNotAlias(t *testing.T) {
	e := sampleEntry()
	b := store.MarshalEntry(e)
	e.Body[0] = 'X'
	got, err := store.UnmarshalEntry(b)
	if err != nil || got.Body[0] != '{' {
		t.Errorf("MarshalEntry aliases e.Body: got %q, %v", got.Body, err)
	}
}

func TestUnmarshalCorrupt(t *testing.T) {
	valid := store.MarshalEntry(sampleEntry())
	with := func(f func(b []byte) []byte) []byte {
		return f(bytes.Clone(valid))
	}
	tests := []struct {
		name string
		give []byte
	}{
		{"nil", nil},
		{"garbage", []byte("not an entry at all, but long enough to have a header of 52 bytes")},
		{"json", []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`)},
		{"header only truncated", valid[:40]},
		{"truncated body", valid[:len(valid)-1]},
		{"trailing byte", append(bytes.Clone(valid), 0)},
		{"bad magic", with(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"old version", with(func(b []byte) []byte { b[3] = 3; return b })},
		{"future version", with(func(b []byte) []byte { b[3] = 5; return b })},
		{"huge meta length", with(func(b []byte) []byte { b[68] = 0xff; return b })},
		{"flipped meta byte", with(func(b []byte) []byte { b[76] ^= 1; return b })},
		{"flipped body byte", with(func(b []byte) []byte { b[len(b)-3] ^= 1; return b })},
		{"flipped checksum byte", with(func(b []byte) []byte { b[61] ^= 1; return b })},
		{"huge length", with(func(b []byte) []byte { b[52] = 0xff; return b })},
		{"negative fresh", with(func(b []byte) []byte { b[44] = 0xff; return b })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := store.UnmarshalEntry(tt.give)
			if !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("UnmarshalEntry(%.20q) = %+v, %v; want ErrCorrupt", tt.give, e, err)
			}
		})
	}
}

func FuzzUnmarshalEntry(f *testing.F) {
	f.Add(store.MarshalEntry(sampleEntry()))
	f.Add(store.MarshalEntry(store.Entry{}))
	f.Add([]byte("DTO\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := store.UnmarshalEntry(b)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("UnmarshalEntry error %v does not wrap ErrCorrupt", err)
			}
			// Any bytes work as a body and must round-trip.
			e = store.Entry{Created: time.Unix(0, int64(len(b))+1), Body: b}
			got, err := store.UnmarshalEntry(store.MarshalEntry(e))
			if err != nil || !bytes.Equal(got.Body, b) || !got.Created.Equal(e.Created) {
				t.Fatalf("round trip of a %d-byte body = %+v, %v", len(b), got, err)
			}
			return
		}
		// A value that decodes re-encodes to the same bytes.
		if again := store.MarshalEntry(e); !bytes.Equal(again, b) {
			t.Fatalf("MarshalEntry(UnmarshalEntry(b)) = %x, want %x", again, b)
		}
	})
}

func TestSealRoundTripAndRefusals(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	e := sampleEntry()
	sealed := store.SealEntry(e, key)
	got, err := store.OpenEntry(sealed, key)
	if err != nil || !bytes.Equal(got.Body, e.Body) || !bytes.Equal(got.Meta, e.Meta) || got.Digest != e.Digest ||
		!got.Created.Equal(e.Created) || got.Fresh != e.Fresh {
		t.Fatalf("OpenEntry(SealEntry(e)) = %+v, %v; want e", got, err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-40] ^= 1 // a body byte
	tests := []struct {
		name string
		give []byte
		key  []byte
	}{
		{"unsealed value", store.MarshalEntry(e), key},
		{"sealed under another key", store.SealEntry(e, []byte("another key of thirty-two bytes!")), key},
		{"tampered body", flipped, key},
		{"truncated seal", sealed[:len(sealed)-1], key},
		{"empty", nil, key},
	}
	for _, tt := range tests {
		if _, err := store.OpenEntry(tt.give, tt.key); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: OpenEntry = %v, want ErrCorrupt", tt.name, err)
		}
	}
	if _, err := store.UnmarshalEntry(sealed); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("UnmarshalEntry(sealed) = %v, want ErrCorrupt: a store without the key must not serve sealed values", err)
	}
}
