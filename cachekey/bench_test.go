package cachekey

import (
	"bytes"
	"testing"
)

func BenchmarkNew(b *testing.B) {
	canonical := bytes.Repeat([]byte(`{"role":"user","content":"hello world"},`), 25) // ~1 KB
	b.ReportAllocs()
	b.SetBytes(int64(len(canonical)))
	for b.Loop() {
		_ = New("acme/support", "openai/gpt-4o-mini", canonical)
	}
}
