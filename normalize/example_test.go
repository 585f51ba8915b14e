package normalize_test

import (
	"fmt"

	"github.com/dittocache/ditto/normalize"
)

// Two spellings of one request decode to the same canonical form: member
// order, a one-part content array, a default sent explicitly and pure
// metadata do not matter.
func ExampleCanonical() {
	a, _ := normalize.DecodeOpenAI([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"stop":"END"}`))
	b, _ := normalize.DecodeOpenAI([]byte(`{
		"stop": ["END"],
		"temperature": 1.0,
		"user": "alice",
		"messages": [{"content": [{"type": "text", "text": "Hi"}], "role": "user"}],
		"model": "gpt-4o"
	}`))
	fmt.Println(string(normalize.Canonical(a)))
	fmt.Println(string(normalize.Canonical(a)) == string(normalize.Canonical(b)))
	// Output:
	// {"messages":[{"role":"user","content":"Hi"}],"stop":["END"]}
	// true
}

// Inline media is keyed by its SHA-256 digest, never by its bytes.
func ExampleCanonical_inlineImage() {
	r, _ := normalize.DecodeOpenAI([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":[
		{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}`))
	fmt.Println(string(normalize.Canonical(r)))
	// Output:
	// {"messages":[{"role":"user","content":[{"type":"image_url","url_sha256":"e1e10747c2374f621aa59fefede6ef99dc6acdb41b267ab4af408d5529f89ea8"}]}]}
}

// DecodeOpenAI rejects what cannot be keyed unambiguously, such as a member
// sent twice.
func ExampleDecodeOpenAI() {
	_, err := normalize.DecodeOpenAI([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"seed":1,"seed":2}`))
	fmt.Println(err)
	// Output:
	// seed: duplicate key "seed"
}

// Options loosen matching for a route; Tag names them for the namespace.
func ExampleCanonicalWith() {
	r, _ := normalize.DecodeOpenAI([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"Hi  \n"}],"seed":7}`))
	opts := normalize.Options{IgnoreFields: []string{"seed"}, TrimTrailingWhitespace: true}
	fmt.Println(string(normalize.Canonical(r)))
	fmt.Println(string(normalize.CanonicalWith(r, opts)))
	fmt.Printf("%q %q\n", normalize.Options{}.Tag(), opts.Tag())
	// Output:
	// {"messages":[{"role":"user","content":"Hi  \n"}],"seed":7}
	// {"messages":[{"role":"user","content":"Hi"}]}
	// "" "loose:ce9a5025"
}
