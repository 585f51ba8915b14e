package store

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/dittocache/ditto/cachekey"
)

func TestUvarintLen(t *testing.T) {
	for _, x := range []uint64{0, 1, 127, 128, 1<<14 - 1, 1 << 14, uint64(time.Hour), math.MaxInt64, math.MaxUint64} {
		if got, want := uvarintLen(x), len(binary.AppendUvarint(nil, x)); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", x, got, want)
		}
	}
}

// TestMemoryExtremes round-trips the header's limits and checks that Set
// sizes the buffer exactly: a short estimate would grow it by half again.
func TestMemoryExtremes(t *testing.T) {
	m := NewMemory(1 << 20)
	defer m.Close()
	k := cachekey.New("ns", "r", []byte("x"))
	for _, e := range []Entry{
		{Digest: k.Digest, Created: time.Unix(0, math.MaxInt64).UTC(), Fresh: math.MaxInt64, Meta: make([]byte, 300), Body: []byte("b")},
		{Digest: k.Digest, Created: time.Unix(0, math.MinInt64+1).UTC(), Fresh: 1, Body: nil},
		{Digest: k.Digest, Created: time.Date(1969, 12, 31, 23, 59, 59, 999, time.UTC), Fresh: 0, Meta: []byte("m")},
	} {
		for _, ttl := range []time.Duration{1, time.Hour, math.MaxInt64} {
			if err := m.Set(t.Context(), k, e, ttl); err != nil {
				t.Fatal(err)
			}
			got, ok, err := m.Get(t.Context(), k)
			if !ok || err != nil || got.Digest != e.Digest || !got.Created.Equal(e.Created) || got.Fresh != e.Fresh ||
				string(got.Meta) != string(e.Meta) || string(got.Body) != string(e.Body) {
				if ttl == 1 && !ok {
					continue // a 1ns TTL may expire before the Get
				}
				t.Errorf("Set(%+v, ttl %v) then Get = %+v, %v, %v", e, ttl, got, ok, err)
			}
			for _, buf := range m.c.All() {
				if len(buf) != cap(buf) {
					t.Errorf("buffer of %d bytes has capacity %d", len(buf), cap(buf))
				}
			}
		}
	}
}
