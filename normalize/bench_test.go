package normalize_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
)

// benchBody builds a realistic chat request of about size bytes: a system
// prompt, alternating user and assistant turns of ~400 bytes, one tool and a
// few sampling parameters.
func benchBody(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"model":"gpt-4o-mini","temperature":0.2,"max_tokens":512,"messages":[`)
	b.WriteString(`{"role":"system","content":"You are a helpful assistant. Answer concisely and cite sources."}`)
	words := strings.Fields("the quick brown fox jumps over the lazy dog while a careful engineer measures latency percentiles under load and writes them down in a notebook café naïve")
	turn := 0
	for b.Len() < size-400 {
		role := "user"
		if turn%2 == 1 {
			role = "assistant"
		}
		var t strings.Builder
		for i := 0; t.Len() < 320; i++ {
			if i > 0 {
				t.WriteByte(' ')
			}
			t.WriteString(words[(turn*7+i)%len(words)])
		}
		fmt.Fprintf(&b, `,{"role":%q,"content":%q}`, role, t.String())
		turn++
	}
	b.WriteString(`],"tools":[{"type":"function","function":{"name":"search","description":"Search the web","parameters":{"type":"object","properties":{"q":{"type":"string"},"k":{"type":"integer"}},"required":["q"]}}}],"user":"u-123"}`)
	return []byte(b.String())
}

func BenchmarkDecodeCanonicalKey(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10} {
		body := benchBody(size)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			// The gateway's path: the canonical form goes into a recycled
			// buffer (gateway.chatKey), which is hashed and dropped.
			var canon []byte
			cpu := processCPU()
			for b.Loop() {
				req, err := normalize.DecodeOpenAI(body)
				if err != nil {
					b.Fatal(err)
				}
				canon = normalize.AppendCanonical(canon[:0], req)
				_ = cachekey.New("default", "openai/gpt-4o-mini", canon)
			}
			if cpu > 0 {
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkStages splits the 1 KB path into its stages.
func BenchmarkStages(b *testing.B) {
	body := benchBody(1 << 10)
	req, err := normalize.DecodeOpenAI(body)
	if err != nil {
		b.Fatal(err)
	}
	canon := normalize.Canonical(req)
	stages := []struct {
		name string
		f    func()
	}{
		{"decode", func() { _, _ = normalize.DecodeOpenAI(body) }},
		{"canonical", func() { _ = normalize.Canonical(req) }},
		{"canonical-reused-buffer", func() { canon = normalize.AppendCanonical(canon[:0], req) }},
		{"key", func() { _ = cachekey.New("default", "openai/gpt-4o-mini", canon) }},
	}
	for _, s := range stages {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				s.f()
			}
			if cpu > 0 {
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
