package messages_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// event is one parsed SSE frame of a Messages stream.
type event struct {
	name string
	data map[string]any
}

// parseEvents splits a rendered stream into frames, each exactly
// "event: NAME\ndata: JSON\n\n" with JSON an object whose type is NAME.
func parseEvents(b []byte) ([]event, error) {
	var evs []event
	for len(b) > 0 {
		end := bytes.Index(b, []byte("\n\n"))
		if end < 0 {
			return nil, fmt.Errorf("unterminated frame %q", b)
		}
		frame := string(b[:end])
		b = b[end+2:]
		name, data, ok := strings.Cut(frame, "\n")
		if !ok || !strings.HasPrefix(name, "event: ") || !strings.HasPrefix(data, "data: ") || strings.Contains(data, "\n") {
			return nil, fmt.Errorf("malformed frame %q", frame)
		}
		ev := event{name: strings.TrimPrefix(name, "event: ")}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &ev.data); err != nil {
			return nil, fmt.Errorf("frame %q: %v", frame, err)
		}
		if ev.data["type"] != ev.name {
			return nil, fmt.Errorf("frame %q: type %v is not the event name", frame, ev.data["type"])
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// accumulate checks that evs follow Anthropic's event grammar and builds
// the message a client SDK would, block by block:
//
//	message_start (content_block_start (ping)? content_block_delta* content_block_stop)* message_delta message_stop
//
// or, for a failed stream, anything valid up to one final error event.
// Deltas must name a started block and suit its type; each block stops
// once; indices count up from 0. Tool inputs are accumulated from their
// partial JSON and parsed at the end (as the SDKs do), when complete is
// set.
func accumulate(evs []event, complete bool) (map[string]any, error) {
	if len(evs) == 0 || evs[0].name != "message_start" {
		return nil, fmt.Errorf("stream does not begin with message_start")
	}
	msg, ok := evs[0].data["message"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("message_start without a message")
	}
	var blocks []map[string]any
	var partial []*strings.Builder
	stopped := map[int]bool{}
	end := false
	for i, ev := range evs[1:] {
		if end {
			return nil, fmt.Errorf("event %s after message_stop", ev.name)
		}
		idx := -1
		if f, ok := ev.data["index"].(float64); ok {
			idx = int(f)
		}
		switch ev.name {
		case "ping":
		case "content_block_start":
			if idx != len(blocks) {
				return nil, fmt.Errorf("block %d started, want %d", idx, len(blocks))
			}
			b, ok := ev.data["content_block"].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("content_block_start without a block")
			}
			blocks = append(blocks, b)
			partial = append(partial, new(strings.Builder))
		case "content_block_delta":
			if idx < 0 || idx >= len(blocks) {
				return nil, fmt.Errorf("delta for unknown block %d", idx)
			}
			d, _ := ev.data["delta"].(map[string]any)
			b := blocks[idx]
			switch want := map[string]string{"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "thinking", "input_json_delta": "tool_use"}[fmt.Sprint(d["type"])]; {
			case want == "" || b["type"] != want:
				return nil, fmt.Errorf("delta %v for a %v block", d["type"], b["type"])
			case d["type"] == "text_delta":
				b["text"] = b["text"].(string) + d["text"].(string)
			case d["type"] == "thinking_delta":
				b["thinking"] = b["thinking"].(string) + d["thinking"].(string)
			case d["type"] == "signature_delta":
				b["signature"] = d["signature"].(string)
			default:
				partial[idx].WriteString(d["partial_json"].(string))
			}
			if stopped[idx] && d["type"] != "input_json_delta" {
				return nil, fmt.Errorf("delta for stopped block %d", idx)
			}
		case "content_block_stop":
			if idx < 0 || idx >= len(blocks) || stopped[idx] {
				return nil, fmt.Errorf("stop of block %d (started %d, stopped %v)", idx, len(blocks), stopped[idx])
			}
			stopped[idx] = true
		case "message_delta":
			if len(stopped) != len(blocks) {
				return nil, fmt.Errorf("message_delta with open blocks")
			}
			d, _ := ev.data["delta"].(map[string]any)
			msg["stop_reason"], msg["stop_sequence"] = d["stop_reason"], d["stop_sequence"]
			msg["usage"] = ev.data["usage"]
			if i+2 >= len(evs) || evs[i+2].name != "message_stop" {
				return nil, fmt.Errorf("message_delta not followed by message_stop")
			}
		case "message_stop":
			end = true
		case "error":
			if i+2 != len(evs) {
				return nil, fmt.Errorf("events after an error")
			}
			return nil, nil
		default:
			return nil, fmt.Errorf("unknown event %s", ev.name)
		}
	}
	if !end {
		return nil, fmt.Errorf("stream does not end with message_stop")
	}
	content := make([]any, len(blocks))
	for i, b := range blocks {
		if b["type"] == "tool_use" && complete {
			var in any = map[string]any{}
			if s := partial[i].String(); s != "" {
				if err := json.Unmarshal([]byte(s), &in); err != nil {
					return nil, fmt.Errorf("tool input %q: %v", s, err)
				}
			}
			b["input"] = in
		}
		content[i] = b
	}
	msg["content"] = content
	return msg, nil
}
