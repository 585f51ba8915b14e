package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
)

// Options loosen how requests are matched, per route. The zero value is
// Ditto's strict matching: every field that shapes the answer is keyed.
//
// Loose keys must never share a namespace with strict ones: a caller using
// non-zero Options appends Tag to the key's namespace.
type Options struct {
	// IgnoreFields names top-level request fields left out of the key, e.g.
	// "seed" or an unknown "user_id". Requests differing only in these fields
	// share an entry, and the first answer stored is served to all of them.
	// The fields are still sent upstream. max_tokens and
	// max_completion_tokens name the same field. Fields that decide the
	// shape of the answer (messages, model, n, tools, tool_choice,
	// response_format, logprobs, top_logprobs, modalities, audio,
	// parallel_tool_calls, functions, function_call) cannot be ignored.
	IgnoreFields []string
	// TrimTrailingWhitespace keys each text content (string contents and
	// text parts of every message) without its trailing white space.
	TrimTrailingWhitespace bool
}

// structuralFields decide the shape of the answer; ignoring them would
// serve answers that do not fit the request.
var structuralFields = []string{
	"audio", "function_call", "functions", "logprobs", "messages", "modalities",
	"model", "n", "parallel_tool_calls", "response_format", "tool_choice",
	"tools", "top_logprobs",
}

// transportFields are never keyed, so ignoring them would be a no-op that
// suggests otherwise.
var transportFields = append([]string{"stream", "stream_options", "user"}, unkeyedFields...)

// Validate reports options that cannot be honoured: structural or unkeyed
// field names and names that are not plain identifiers.
func (o Options) Validate() error {
	var errs []error
	for _, f := range o.IgnoreFields {
		switch {
		case !validFieldName(f):
			errs = append(errs, fmt.Errorf("ignore_fields: %q is not a field name (1-64 letters, digits, '_', '-', '.')", f))
		case slices.Contains(structuralFields, f):
			errs = append(errs, fmt.Errorf("ignore_fields: %q shapes the answer and cannot be ignored", f))
		case slices.Contains(transportFields, f):
			errs = append(errs, fmt.Errorf("ignore_fields: %q is never part of the key; remove it", f))
		}
	}
	return errors.Join(errs...)
}

func validFieldName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// normalizedIgnore returns the ignored names as the canonical encoding
// spells them, sorted and without repeats.
func (o Options) normalizedIgnore() []string {
	out := make([]string, 0, len(o.IgnoreFields))
	for _, f := range o.IgnoreFields {
		if f == "max_completion_tokens" {
			f = "max_tokens"
		}
		out = append(out, f)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Tag returns a short stable name for the options, "" for strict matching
// and "loose:" followed by 8 hex digits of a hash of the normalized options
// otherwise. Equal options give equal tags whatever the order or spelling
// of IgnoreFields.
func (o Options) Tag() string {
	ignore := o.normalizedIgnore()
	if len(ignore) == 0 && !o.TrimTrailingWhitespace {
		return ""
	}
	// Names are JSON strings, so no choice of names can make two lists
	// encode alike.
	b := []byte("ditto-match-v1\nignore=[")
	for i, f := range ignore {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f)
	}
	b = fmt.Appendf(b, "]\ntrim=%t\n", o.TrimTrailingWhitespace)
	sum := sha256.Sum256(b)
	return "loose:" + hex.EncodeToString(sum[:4])
}
