package anthropic

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/messages"
	"github.com/dittocache/ditto/providers/providertest"
)

// TestMessagesRoundTrip is the property that lets an Anthropic client use
// Ditto without losing anything: a Messages request decoded into the
// canonical form (normalize/messages) and encoded by this adapter is the
// request the client sent, up to the differences documented in
// docs/normalization.md, which asAnthropicSends applies to the client's
// request:
//
//   - consecutive turns of one role are one turn (Anthropic's own rule);
//     content that is one plain text block is sent as a string;
//   - in an assistant turn, tool_use blocks follow the other blocks (chat
//     orders them so);
//   - documented defaults and nulls are left out: temperature 1, top_p 1,
//     service_tier auto, stream false, tool_choice auto without
//     disable_parallel_tool_use, is_error false, strict false, type
//     custom, an empty description or user_id, caller {"type":"direct"};
//   - a tool_result without content has content "";
//   - stop sequences are a sorted set;
//   - unsigned thinking blocks are dropped (no provider can use them);
//   - media types are lower case.
func TestMessagesRoundTrip(t *testing.T) {
	paths, _ := filepath.Glob("testdata/messages.*.request.json")
	more, _ := filepath.Glob("testdata/messages/*.json")
	paths = append(paths, more...)
	if len(paths) < 8 {
		t.Fatalf("found only %d requests", len(paths))
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			body := providertest.ReadFile(t, path)
			req, err := messages.Decode(body)
			if err != nil {
				t.Fatalf("messages.Decode = %v", err)
			}
			got, err := encodeRequest(req, req.Stream, DefaultMaxTokens)
			if err != nil {
				t.Fatalf("encodeRequest = %v", err)
			}
			var want, have map[string]any
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &have); err != nil {
				t.Fatalf("encoded body is not JSON: %v\n%s", err, got)
			}
			asAnthropicSends(want)
			if diff := cmp.Diff(want, have); diff != "" {
				t.Errorf("round trip differs (-client +sent):\n%s\nsent: %s", diff, got)
			}
		})
	}
}

// asAnthropicSends applies the documented differences of the round trip
// to a client's Messages request (see TestMessagesRoundTrip).
func asAnthropicSends(m map[string]any) {
	dropNulls(m)
	for k, def := range map[string]any{"temperature": 1.0, "top_p": 1.0, "service_tier": "auto", "stream": false} {
		if m[k] == def {
			delete(m, k)
		}
	}
	if md, ok := m["metadata"].(map[string]any); ok && (md["user_id"] == nil || md["user_id"] == "") {
		delete(m, "metadata")
	}
	if s, ok := m["stop_sequences"].([]any); ok {
		var ss []string
		for _, e := range s {
			ss = append(ss, e.(string))
		}
		slices.Sort(ss)
		ss = slices.Compact(ss)
		s = s[:0]
		for _, e := range ss {
			s = append(s, e)
		}
		m["stop_sequences"] = s
	}
	if tc, ok := m["tool_choice"].(map[string]any); ok {
		if tc["disable_parallel_tool_use"] == false {
			delete(tc, "disable_parallel_tool_use")
		}
		if tc["type"] == "auto" && tc["disable_parallel_tool_use"] == nil {
			delete(m, "tool_choice")
		}
	}
	for _, tv := range asList(m["tools"]) {
		tool := tv.(map[string]any)
		if tool["type"] == "custom" {
			delete(tool, "type")
		}
		if tool["strict"] == false {
			delete(tool, "strict")
		}
		if tool["description"] == "" {
			delete(tool, "description")
		}
	}
	if sys, ok := m["system"].([]any); ok {
		m["system"] = simplified(sys)
	}
	var turns []any
	for _, mv := range asList(m["messages"]) {
		msg := mv.(map[string]any)
		blocks := asBlocks(msg["content"])
		if msg["role"] == "assistant" {
			blocks = assistantOrder(blocks)
		}
		for _, b := range blocks {
			block(b.(map[string]any))
		}
		if n := len(turns); n > 0 && turns[n-1].(map[string]any)["role"] == msg["role"] {
			prev := turns[n-1].(map[string]any)
			prev["blocks"] = append(prev["blocks"].([]any), blocks...)
			continue
		}
		turns = append(turns, map[string]any{"role": msg["role"], "blocks": blocks})
	}
	for _, tv := range turns {
		turn := tv.(map[string]any)
		turn["content"] = simplified(turn["blocks"].([]any))
		delete(turn, "blocks")
	}
	m["messages"] = turns
}

func block(b map[string]any) {
	switch b["type"] {
	case "tool_use":
		if c, ok := b["caller"].(map[string]any); ok && len(c) == 1 && c["type"] == "direct" {
			delete(b, "caller")
		}
	case "tool_result":
		if b["is_error"] == false {
			delete(b, "is_error")
		}
		if b["content"] == nil {
			b["content"] = ""
		}
		if c, ok := b["content"].([]any); ok {
			b["content"] = simplified(c)
		}
	case "image", "document":
		if src, ok := b["source"].(map[string]any); ok {
			if mt, ok := src["media_type"].(string); ok {
				src["media_type"] = strings.ToLower(mt)
			}
		}
	}
}

// assistantOrder moves tool_use blocks after the others and drops
// unsigned thinking blocks.
func assistantOrder(blocks []any) []any {
	var rest, calls []any
	for _, bv := range blocks {
		b := bv.(map[string]any)
		switch {
		case b["type"] == "tool_use":
			calls = append(calls, b)
		case b["type"] == "thinking" && (b["signature"] == nil || b["signature"] == ""):
		default:
			rest = append(rest, b)
		}
	}
	return append(rest, calls...)
}

func asList(v any) []any { l, _ := v.([]any); return l }

// asBlocks returns content as blocks (a string is one text block).
func asBlocks(c any) []any {
	if s, ok := c.(string); ok {
		return []any{map[string]any{"type": "text", "text": s}}
	}
	return asList(c)
}

// simplified is content as the adapter sends it: one plain text block as
// a string.
func simplified(blocks []any) any {
	if len(blocks) == 1 {
		if b, ok := blocks[0].(map[string]any); ok && b["type"] == "text" && len(b) == 2 {
			return b["text"]
		}
	}
	if blocks == nil {
		return []any{}
	}
	return blocks
}

func dropNulls(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
			} else {
				dropNulls(e)
			}
		}
	case []any:
		for _, e := range v {
			dropNulls(e)
		}
	}
}

// event is one SSE event of a Messages stream.
type event struct {
	name string
	data map[string]any
}

func events(t *testing.T, sse []byte) []event {
	t.Helper()
	var evs []event
	for _, raw := range providertest.SplitEvents(sse) {
		var ev event
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			if n, ok := strings.CutPrefix(line, "event: "); ok {
				ev.name = n
			} else if d, ok := strings.CutPrefix(line, "data: "); ok {
				if err := json.Unmarshal([]byte(d), &ev.data); err != nil {
					t.Fatalf("event data %q: %v", d, err)
				}
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestMessagesStreamFidelity plays Anthropic's recorded streams through
// this adapter (Anthropic → canonical chunks) and normalize/messages
// (canonical → Anthropic events): a Messages client gets the events
// Anthropic sent, but for the documented differences: message_start
// carries the prompt's tokens but no output tokens, message_delta all of
// the usage (as OpenAI upstreams report it, at the end), empty deltas are
// left out, and tool_use blocks carry no caller.
func TestMessagesStreamFidelity(t *testing.T) {
	paths, _ := filepath.Glob("testdata/messages.*.sse")
	if len(paths) < 4 {
		t.Fatalf("found only %d recorded streams", len(paths))
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			recorded := providertest.ReadFile(t, path)
			chunks, err := providertest.Collect(t, newStream(io.NopCloser(bytes.NewReader(recorded)), 0, ""))
			if err != nil {
				t.Fatal(err)
			}
			want := events(t, recorded)
			model := want[0].data["message"].(map[string]any)["model"].(string)
			s := messages.NewStream(model)
			var asm normalize.Assembler
			var out []byte
			for i := range chunks {
				asm.Add(&chunks[i])
				out = s.Chunk(out, &chunks[i])
			}
			resp, err := asm.Response()
			if err != nil {
				t.Fatal(err)
			}
			got := events(t, s.End(out, resp))
			if diff := cmp.Diff(asDittoSends(want), got, cmp.AllowUnexported(event{})); diff != "" {
				t.Errorf("events differ (-recorded +rendered):\n%s", diff)
			}
		})
	}
}

// asDittoSends applies the documented differences to a recorded stream.
func asDittoSends(evs []event) []event {
	var out []event
	usage := map[string]any{"input_tokens": 0.0, "cache_creation_input_tokens": 0.0, "cache_read_input_tokens": 0.0, "output_tokens": 0.0}
	update := func(u map[string]any) {
		for k := range usage {
			if v, ok := u[k]; ok {
				usage[k] = v
			}
		}
	}
	for _, ev := range evs {
		switch ev.name {
		case "message_start":
			msg := ev.data["message"].(map[string]any)
			u := msg["usage"].(map[string]any)
			update(u)
			// The prompt's tokens as Anthropic sent them; output only at the end.
			start := map[string]any{"output_tokens": 0.0}
			for _, k := range []string{"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"} {
				start[k] = 0.0
				if v, ok := u[k]; ok {
					start[k] = v
				}
			}
			msg["usage"] = start
		case "content_block_start":
			delete(ev.data["content_block"].(map[string]any), "caller")
		case "content_block_delta":
			d := ev.data["delta"].(map[string]any)
			if d["partial_json"] == "" || d["text"] == "" {
				continue
			}
		case "message_delta":
			update(ev.data["usage"].(map[string]any))
			ev.data["usage"] = usage
		}
		out = append(out, ev)
	}
	return out
}

// TestMessagesResponseFidelity renders Anthropic's recorded answers, read
// by this adapter, as message objects: the client gets what Anthropic
// sent, but for usage details Ditto does not keep (cache_creation by TTL,
// service_tier, inference_geo) and tool_use callers.
func TestMessagesResponseFidelity(t *testing.T) {
	paths, _ := filepath.Glob("testdata/messages.*.response.json")
	if len(paths) < 3 {
		t.Fatalf("found only %d recorded answers", len(paths))
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			recorded := providertest.ReadFile(t, path)
			resp, err := decodeResponse(recorded, 0)
			if err != nil {
				t.Fatal(err)
			}
			var want, got map[string]any
			if err := json.Unmarshal(recorded, &want); err != nil {
				t.Fatal(err)
			}
			body := messages.AppendResponse(nil, resp, want["model"].(string))
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("AppendResponse is not JSON: %v\n%s", err, body)
			}
			u := want["usage"].(map[string]any)
			for _, k := range []string{"cache_creation", "service_tier", "inference_geo"} {
				delete(u, k)
			}
			for _, b := range want["content"].([]any) {
				delete(b.(map[string]any), "caller")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rendered answer differs (-recorded +rendered):\n%s", diff)
			}
		})
	}
}

// TestThinkingToolLoop follows a tool-use loop with extended thinking
// through Ditto: Anthropic's answer (streamed or not) is rendered for the
// client, the client sends the assistant turn back with its tool result,
// and Anthropic must receive the thinking blocks exactly as it sent them,
// signatures included, before the tool_use (it rejects the request
// otherwise).
func TestThinkingToolLoop(t *testing.T) {
	const answer = `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[` +
		`{"type":"thinking","thinking":"Need the weather.","signature":"sig-1"},` +
		`{"type":"redacted_thinking","data":"opaque=="},` +
		`{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],` +
		`"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":50,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"output_tokens":30}}`
	const sse = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"usage\":{\"input_tokens\":50,\"output_tokens\":1}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Need the \"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"weather.\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"sig-1\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"opaque==\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":30}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	var sent struct {
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal([]byte(answer), &sent); err != nil {
		t.Fatal(err)
	}
	complete, err := decodeResponse([]byte(answer), 0)
	if err != nil {
		t.Fatal(err)
	}
	streamed := providertest.CollectResponse(t, newStream(io.NopCloser(strings.NewReader(sse)), 0, ""))
	for name, resp := range map[string]*normalize.Response{"complete": complete, "streamed": streamed} {
		t.Run(name, func(t *testing.T) {
			// The cache stores the answer as chat JSON; hits read it back.
			stored, err := normalize.ParseOpenAIResponse(normalize.OpenAIResponseJSON(resp))
			if err != nil {
				t.Fatal(err)
			}
			var rendered struct {
				Content json.RawMessage `json:"content"`
			}
			if err := json.Unmarshal(messages.AppendResponse(nil, stored, "claude-sonnet-4-5"), &rendered); err != nil {
				t.Fatal(err)
			}
			next := `{"model":"claude-sonnet-4-5","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},` +
				`"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":[` +
				`{"role":"user","content":"Weather in Paris?"},` +
				`{"role":"assistant","content":` + string(rendered.Content) + `},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"}]}]}`
			req, err := messages.Decode([]byte(next))
			if err != nil {
				t.Fatal(err)
			}
			body, err := encodeRequest(req, false, DefaultMaxTokens)
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Messages []struct {
					Content json.RawMessage `json:"content"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			var got, want any
			_ = json.Unmarshal(out.Messages[1].Content, &got)
			_ = json.Unmarshal(sent.Content, &want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("assistant turn sent back (-Anthropic's answer +sent):\n%s", diff)
			}
		})
	}
}
