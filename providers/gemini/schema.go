package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/dittocache/ditto/providers/internal/wire"
)

// schemaKeys are the members of Gemini's Schema object (an OpenAPI 3.0
// subset). Gemini rejects a request naming any other member, so
// sanitizeSchema drops everything else: notably $schema, $id, $defs,
// definitions, additionalProperties, patternProperties, unevaluated*,
// dependent*, strict, examples, exclusiveMinimum/Maximum, multipleOf,
// uniqueItems, contains, not, if/then/else, const (after rewriting) and
// readOnly/writeOnly.
var schemaKeys = map[string]bool{
	"type": true, "format": true, "title": true, "description": true, "nullable": true,
	"enum": true, "maxItems": true, "minItems": true, "properties": true, "required": true,
	"minProperties": true, "maxProperties": true, "minLength": true, "maxLength": true,
	"pattern": true, "example": true, "anyOf": true, "propertyOrdering": true, "default": true,
	"items": true, "minimum": true, "maximum": true,
}

// formats Gemini accepts; others (uri, email, uuid, …) are dropped.
var formats = map[string]bool{"date-time": true, "enum": true, "int32": true, "int64": true, "float": true, "double": true}

// maxSchemaDepth bounds $ref inlining; a recursive schema is cut off at
// this depth with an unconstrained {} schema.
const maxSchemaDepth = 24

// sanitizeSchema rewrites a JSON Schema into the subset Gemini accepts:
//   - local $ref pointers (#/$defs/X, #/definitions/X, …) are inlined, and a
//     one-element allOf is merged into its schema (the shapes Pydantic and
//     zod emit);
//   - a type list such as ["string","null"] becomes type "string" with
//     nullable true, and a {"type":"null"} member of anyOf/oneOf becomes
//     nullable; oneOf is sent as anyOf; const becomes a one-value enum;
//   - unsupported formats and every member not in schemaKeys are dropped.
//
// Property names are kept as they are. The output has sorted keys, so it is
// deterministic.
func sanitizeSchema(raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("invalid JSON Schema: %w", err)
	}
	s := sanitizer{root: root}
	out := s.schema(root, 0)
	if s.err != nil {
		return nil, s.err
	}
	return wire.Marshal(out)
}

type sanitizer struct {
	root any
	err  error
}

func (s *sanitizer) schema(v any, depth int) map[string]any {
	m, ok := v.(map[string]any)
	if !ok || depth > maxSchemaDepth {
		return map[string]any{} // boolean schemas and cut-off recursion: unconstrained
	}
	out := map[string]any{}
	if ref, ok := m["$ref"].(string); ok {
		target, err := s.resolve(ref)
		if err != nil {
			s.fail(err)
			return out
		}
		merge(out, s.schema(target, depth+1))
	}
	if all, ok := m["allOf"].([]any); ok {
		for _, sub := range all {
			merge(out, s.schema(sub, depth+1))
		}
	}
	s.anyOf(out, m["anyOf"], depth)
	s.anyOf(out, m["oneOf"], depth)
	// The schema's own members override what references and combinators
	// brought in; sorted, so the result never depends on map order.
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		val := m[k]
		switch k {
		case "type":
			setType(out, val)
		case "properties":
			props, ok := val.(map[string]any)
			if !ok {
				continue
			}
			sp := make(map[string]any, len(props))
			for name, p := range props {
				sp[name] = s.schema(p, depth+1)
			}
			out["properties"] = sp
		case "items":
			if _, ok := val.(map[string]any); ok {
				out["items"] = s.schema(val, depth+1)
			}
		case "$ref", "allOf", "anyOf", "oneOf":
		case "const":
			out["enum"] = []any{val}
		case "format":
			if f, ok := val.(string); ok && formats[f] {
				out["format"] = f
			}
		default:
			if schemaKeys[k] {
				out[k] = val
			}
		}
	}
	return out
}

// setType maps a JSON Schema type (a string or a list) to Gemini's single
// type plus nullable.
func setType(out map[string]any, val any) {
	var types []string
	switch t := val.(type) {
	case string:
		types = []string{t}
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				types = append(types, s)
			}
		}
	}
	var kept []any
	for _, t := range types {
		if t == "null" {
			out["nullable"] = true
			continue
		}
		kept = append(kept, t)
	}
	switch len(kept) {
	case 0:
	case 1:
		out["type"] = kept[0]
	default:
		var alts []any
		for _, t := range kept {
			alts = append(alts, map[string]any{"type": t})
		}
		out["anyOf"] = alts
	}
}

func (s *sanitizer) anyOf(out map[string]any, val any, depth int) {
	list, ok := val.([]any)
	if !ok {
		return
	}
	var alts []map[string]any
	for _, sub := range list {
		ss := s.schema(sub, depth+1)
		if len(ss) == 1 && ss["nullable"] == true {
			out["nullable"] = true // the {"type":"null"} alternative
			continue
		}
		alts = append(alts, ss)
	}
	switch len(alts) {
	case 0:
	case 1:
		merge(out, alts[0])
	default:
		as := make([]any, len(alts))
		for i, a := range alts {
			as[i] = a
		}
		out["anyOf"] = as
	}
}

// merge copies src's members into dst; properties and required are unioned.
func merge(dst, src map[string]any) {
	for k, v := range src {
		switch k {
		case "properties":
			if dp, ok := dst[k].(map[string]any); ok {
				for name, p := range v.(map[string]any) {
					dp[name] = p
				}
				continue
			}
		case "required":
			if dr, ok := dst[k].([]any); ok {
				if sr, ok := v.([]any); ok {
					dst[k] = append(dr, sr...)
					continue
				}
			}
		}
		dst[k] = v
	}
}

// resolve follows a local JSON pointer such as "#/$defs/Address".
func (s *sanitizer) resolve(ref string) (any, error) {
	if !strings.HasPrefix(ref, "#") {
		return nil, fmt.Errorf("$ref %q: only local references (#/…) are supported", ref)
	}
	cur := s.root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#"), "/")[1:] {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	if ref == "#" {
		return s.root, nil
	}
	return cur, nil
}

func (s *sanitizer) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// emptyObjectSchema reports whether a sanitized parameters schema is an
// object with no properties, which Gemini rejects ("properties: should be
// non-empty for OBJECT type"); such a declaration is sent without
// parameters.
func emptyObjectSchema(raw json.RawMessage) bool {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for k, v := range m {
		switch k {
		case "type":
			if t, _ := v.(string); !strings.EqualFold(t, "object") {
				return false
			}
		case "properties":
			if p, _ := v.(map[string]any); len(p) > 0 {
				return false
			}
		case "required", "description", "title":
		default:
			return false
		}
	}
	return true
}
