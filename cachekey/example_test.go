package cachekey_test

import (
	"fmt"

	"github.com/dittocache/ditto/cachekey"
)

// A key names the namespace, the resolved route and a 64-bit hash of the
// canonical request bytes (normalize.Canonical in Ditto).
func ExampleNew() {
	canonical := []byte(`{"messages":[{"role":"user","content":"Hi"}]}`)
	k := cachekey.New("acme/support", "openai/gpt-4o-mini", canonical)
	fmt.Println(k)
	fmt.Printf("digest %x...\n", k.Digest[:4])
	// Output:
	// ditto:v1:acme/support:openai/gpt-4o-mini:28172615e0354a7f
	// digest 6aefbbd3...
}

// Separators and glob characters inside names are escaped, so a key string
// identifies its namespace and route unambiguously.
func ExampleKey_String() {
	k := cachekey.Key{Namespace: "@shared/faq", Route: "ollama/llama3:8b", Hash: 0xff}
	fmt.Println(k)
	// Output:
	// ditto:v1:@shared/faq:ollama/llama3%3A8b:00000000000000ff
}

// Prefix selects the entries of a namespace (and route) for purges.
func ExamplePrefix() {
	fmt.Println(cachekey.Prefix("acme", ""))
	fmt.Println(cachekey.Prefix("acme", "openai/gpt-4o"))
	// Output:
	// ditto:v1:acme:
	// ditto:v1:acme:openai/gpt-4o:
}
