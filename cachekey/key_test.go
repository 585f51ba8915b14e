package cachekey

import (
	"strings"
	"testing"
)

func TestKeyString(t *testing.T) {
	tests := []struct {
		give Key
		want string
	}{
		{Key{Namespace: "default", Route: "openai/gpt-4o", Hash: 0x1}, "ditto:v1:default:openai/gpt-4o:0000000000000001"},
		{Key{Namespace: "a:b", Route: "ollama/llama3:8b", Hash: 0xdeadbeefcafebabe}, "ditto:v1:a%3Ab:ollama/llama3%3A8b:deadbeefcafebabe"},
		{Key{Namespace: "x*", Route: "r?[1]", Hash: 0}, "ditto:v1:x%2A:r%3F%5B1%5D:0000000000000000"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestDigestBindsAllInputs(t *testing.T) {
	base := New("t1", "openai/gpt-4o", []byte("abc"))
	others := []Key{
		New("t2", "openai/gpt-4o", []byte("abc")),
		New("t1", "openai/gpt-4o-mini", []byte("abc")),
		New("t1", "openai/gpt-4o", []byte("abd")),
		New("t1o", "penai/gpt-4o", []byte("abc")), // shifting bytes between fields
	}
	for _, o := range others {
		if o.Digest == base.Digest {
			t.Errorf("digest of %+v equals digest of %+v", o, base)
		}
	}
	if again := New("t1", "openai/gpt-4o", []byte("abc")); again != base {
		t.Errorf("New is not deterministic: %+v vs %+v", again, base)
	}
}

func TestDeriveWithCollidingHasher(t *testing.T) {
	zero := func([]byte) uint64 { return 0 }
	a := Derive(zero, "t", "r", []byte("one"))
	b := Derive(zero, "t", "r", []byte("two"))
	if a.String() != b.String() {
		t.Fatalf("colliding hasher should give equal key strings: %s vs %s", a, b)
	}
	if a.Digest == b.Digest {
		t.Fatal("digests must differ even when the 64-bit hash collides")
	}
}

func TestPrefix(t *testing.T) {
	k := New("acme", "openai/gpt-4o", []byte("x"))
	for _, p := range []string{Prefix("acme", ""), Prefix("acme", "openai/gpt-4o")} {
		if !strings.HasPrefix(k.String(), p) {
			t.Errorf("key %s does not start with prefix %s", k, p)
		}
	}
	if strings.HasPrefix(New("acme2", "r", nil).String(), Prefix("acme", "")) {
		t.Error("prefix of namespace acme matches namespace acme2")
	}
}

// FuzzKeyString checks that the store key string never confuses two
// (namespace, route) pairs: escaping is injective.
func FuzzKeyString(f *testing.F) {
	f.Add("a:b", "c", "a", "b:c")
	f.Add("a%3Ab", "c", "a:b", "c")
	f.Add("x*", "r", "x%2A", "r")
	f.Fuzz(func(t *testing.T, ns1, r1, ns2, r2 string) {
		k1 := Key{Namespace: ns1, Route: r1, Hash: 7}
		k2 := Key{Namespace: ns2, Route: r2, Hash: 7}
		if k1.String() == k2.String() && (ns1 != ns2 || r1 != r2) {
			t.Fatalf("(%q, %q) and (%q, %q) share key %s", ns1, r1, ns2, r2, k1)
		}
		if strings.ContainsAny(strings.TrimPrefix(k1.String(), prefix), "*?[]\\") {
			t.Fatalf("key %s contains a glob character", k1)
		}
	})
}
