package store

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/dittocache/ditto/cachekey"
)

func TestDurationBits(t *testing.T) {
	for _, d := range []time.Duration{0, 1, time.Second - 1, time.Second, time.Second + 1, 24 * time.Hour,
		math.MaxInt64 / time.Second * time.Second, math.MaxInt64} {
		p := 0
		if got := memDuration(binary.AppendUvarint(nil, durationBits(d)), &p); got != d {
			t.Errorf("duration %d decodes as %d", d, got)
		}
	}
	if n := uvarintLen(durationBits(24 * time.Hour)); n != 3 {
		t.Errorf("24h takes %d bytes, want 3", n)
	}
}

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
	const maxSeconds = math.MaxInt64 / time.Second * time.Second
	for _, e := range []Entry{
		{Digest: k.Digest, Created: time.Unix(0, math.MaxInt64).UTC(), Fresh: math.MaxInt64, Meta: make([]byte, 300), Body: []byte("b")},
		{Digest: k.Digest, Created: time.Unix(0, math.MinInt64+1).UTC(), Fresh: 1, Body: nil},
		{Digest: k.Digest, Created: time.Date(1969, 12, 31, 23, 59, 59, 999, time.UTC), Fresh: 0, Meta: []byte("m")},
		{Digest: k.Digest, Created: time.Now(), Fresh: maxSeconds, Body: []byte("b")},
		{Digest: k.Digest, Created: time.Now(), Fresh: 24*time.Hour + time.Millisecond, Body: []byte("b")},
	} {
		for _, ttl := range []time.Duration{1, time.Second, time.Hour, maxSeconds, math.MaxInt64} {
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
				if want := cap(slices.Grow([]byte(nil), len(buf))); cap(buf) != want {
					t.Errorf("buffer of %d bytes has capacity %d, want its size class %d", len(buf), cap(buf), want)
				}
			}
		}
	}
}

// TestMemoryStoreKey checks that Purge sees every entry under its store key:
// the key rebuilt from the entry equals cachekey.Key.String, escapes and
// all.
func TestMemoryStoreKey(t *testing.T) {
	m := NewMemory(1 << 20)
	defer m.Close()
	want := map[memKey]string{}
	for _, k := range []cachekey.Key{
		cachekey.New("acme/support", "openai/gpt-4o-mini", []byte("a")),
		{Namespace: "a:b%", Route: "ollama/llama3:8b", Hash: 0xdeadbeefcafebabe},
		{Namespace: "x*?[]\\", Route: "", Hash: 0},
		{Namespace: "", Route: "r", Hash: 1<<64 - 1},
	} {
		if err := m.Set(t.Context(), k, Entry{Digest: k.Digest, Meta: []byte("m"), Body: []byte("b")}, time.Hour); err != nil {
			t.Fatal(err)
		}
		want[m.key(k)] = k.String()
	}
	got := 0
	for key, buf := range m.c.All() {
		got++
		if sk := string(appendStoreKey(nil, key, buf)); sk != want[key] {
			t.Errorf("rebuilt store key %q, want %q", sk, want[key])
		}
	}
	if got != len(want) {
		t.Errorf("%d entries, want %d", got, len(want))
	}
}
