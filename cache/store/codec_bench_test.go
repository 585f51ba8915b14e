package store_test

import (
	"bytes"
	"testing"

	"github.com/dittocache/ditto/cache/store"
)

func BenchmarkEntryCodec(b *testing.B) {
	e := sampleEntry()
	e.Body = bytes.Repeat([]byte("x"), 2048)
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(e.Body)))
		for b.Loop() {
			store.MarshalEntry(e)
		}
	})
	v := store.MarshalEntry(e)
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(e.Body)))
		for b.Loop() {
			if _, err := store.UnmarshalEntry(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
