package responses_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/responses"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, cmp.Diff(string(want), string(got)))
	}
}

type answerCase struct {
	name string
	echo *responses.Echo
	resp *normalize.Response
}

func loadAnswers(t *testing.T) []answerCase {
	t.Helper()
	files, err := filepath.Glob("testdata/answers/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no answers: %v", err)
	}
	var out []answerCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Request, Answer json.RawMessage }
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		p, err := responses.Parse(c.Request)
		if err != nil {
			t.Fatalf("%s: Parse(request) = %v", f, err)
		}
		resp, err := normalize.ParseOpenAIResponse(c.Answer)
		if err != nil {
			t.Fatalf("%s: ParseOpenAIResponse = %v", f, err)
		}
		out = append(out, answerCase{strings.TrimSuffix(filepath.Base(f), ".json"), p.Echo, resp})
	}
	return out
}

// A stored answer renders as a schema-valid Response object, the same
// bytes every time.
func TestAppendResponseGolden(t *testing.T) {
	for _, c := range loadAnswers(t) {
		t.Run(c.name, func(t *testing.T) {
			got := responses.AppendResponse(nil, c.resp, c.echo)
			validate(t, "Response", got)
			if again := responses.AppendResponse(nil, c.resp, c.echo); !bytes.Equal(got, again) {
				t.Errorf("AppendResponse is not deterministic:\n%s\n%s", got, again)
			}
			golden(t, "render/"+c.name+".json", append(indentJSON(t, got), '\n'))
		})
	}
}

func indentJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", " "); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	return out.Bytes()
}

// event is one parsed SSE frame.
type event struct {
	name string
	data []byte
	v    map[string]any
}

// parseEvents splits a rendered stream into frames and checks the framing,
// that each event's type matches its event: line, validates against
// ResponseStreamEvent, and that sequence numbers count from 0 by 1.
func parseEvents(t *testing.T, stream []byte) []event {
	t.Helper()
	if len(stream) > 0 && !bytes.HasSuffix(stream, []byte("\n\n")) {
		t.Fatalf("stream does not end with a blank line: %q", stream[max(0, len(stream)-40):])
	}
	var out []event
	for _, frame := range strings.Split(strings.TrimSuffix(string(stream), "\n\n"), "\n\n") {
		if frame == "" {
			continue
		}
		name, data, ok := strings.Cut(frame, "\n")
		if !ok || !strings.HasPrefix(name, "event: ") || !strings.HasPrefix(data, "data: ") || strings.Contains(data, "\n") {
			t.Fatalf("malformed frame %q", frame)
		}
		e := event{name: strings.TrimPrefix(name, "event: "), data: []byte(strings.TrimPrefix(data, "data: "))}
		if err := json.Unmarshal(e.data, &e.v); err != nil {
			t.Fatalf("event %s: %v\n%s", e.name, err, e.data)
		}
		if e.v["type"] != e.name {
			t.Errorf("event %s has type %v", e.name, e.v["type"])
		}
		if seq, _ := e.v["sequence_number"].(float64); int(seq) != len(out) {
			t.Errorf("event %d (%s) has sequence_number %v", len(out), e.name, e.v["sequence_number"])
		}
		validateEvent(t, e.name, e.data)
		validate(t, "ResponseStreamEvent", e.data)
		if r, ok := e.v["response"]; ok {
			b, _ := json.Marshal(r)
			validate(t, "Response", b)
		}
		out = append(out, e)
	}
	return out
}

// rebuild applies the events' deltas and returns each item's final text (by
// output index), checking on the way that every delta names an open item
// and that each done event repeats what the deltas said.
func rebuild(t *testing.T, events []event) map[int]string {
	t.Helper()
	texts := map[int]*strings.Builder{}
	open := map[int]bool{}
	for _, e := range events {
		idx := -1
		if f, ok := e.v["output_index"].(float64); ok {
			idx = int(f)
		}
		switch e.name {
		case "response.output_item.added":
			if open[idx] {
				t.Errorf("item %d added twice", idx)
			}
			open[idx] = true
			texts[idx] = &strings.Builder{}
		case "response.output_text.delta", "response.refusal.delta", "response.function_call_arguments.delta", "response.reasoning_summary_text.delta":
			if !open[idx] {
				t.Errorf("%s for item %d, which is not open", e.name, idx)
				continue
			}
			texts[idx].WriteString(e.v["delta"].(string))
		case "response.output_text.done", "response.function_call_arguments.done", "response.reasoning_summary_text.done", "response.refusal.done":
			key := map[string]string{"response.output_text.done": "text", "response.function_call_arguments.done": "arguments", "response.reasoning_summary_text.done": "text", "response.refusal.done": "refusal"}[e.name]
			if got, want := e.v[key].(string), texts[idx].String(); !strings.HasSuffix(want, got) {
				t.Errorf("%s says %q, the deltas said %q", e.name, got, want)
			}
		case "response.output_item.done":
			if !open[idx] {
				t.Errorf("item %d done but not open", idx)
			}
			open[idx] = false
		case "response.completed", "response.incomplete", "response.failed":
			for i, o := range open {
				if o && e.name != "response.failed" {
					t.Errorf("%s while item %d is open", e.name, i)
				}
			}
		}
	}
	out := map[int]string{}
	for i, b := range texts {
		out[i] = b.String()
	}
	return out
}

func renderStream(echo *responses.Echo, chunks []normalize.Chunk, end *normalize.Response) []byte {
	s := responses.NewStream(echo)
	var out []byte
	for i := range chunks {
		out = s.Chunk(out, &chunks[i])
	}
	return s.End(out, end)
}

func finalResponse(t *testing.T, events []event) []byte {
	t.Helper()
	last := events[len(events)-1]
	if last.name != "response.completed" && last.name != "response.incomplete" {
		t.Fatalf("last event is %s", last.name)
	}
	var r struct{ Response json.RawMessage }
	if err := json.Unmarshal(last.data, &r); err != nil {
		t.Fatal(err)
	}
	return r.Response
}

// A replayed stored answer streams as schema-valid events, and the final
// response.completed (or response.incomplete) object is exactly what
// AppendResponse renders for the same answer.
func TestReplayStreamGolden(t *testing.T) {
	for _, c := range loadAnswers(t) {
		t.Run(c.name, func(t *testing.T) {
			got := renderStream(c.echo, normalize.Replay(c.resp, true), c.resp)
			events := parseEvents(t, got)
			rebuild(t, events)
			if diff := cmp.Diff(string(indentJSON(t, responses.AppendResponse(nil, c.resp, c.echo))), string(indentJSON(t, finalResponse(t, events)))); diff != "" {
				t.Errorf("final event differs from AppendResponse (-AppendResponse +stream):\n%s", diff)
			}
			golden(t, "render/"+c.name+".sse", got)
			// End alone (no chunks) streams the answer too.
			s := responses.NewStream(c.echo)
			if alone := s.End(nil, c.resp); !bytes.Equal(alone, got) {
				t.Errorf("End without chunks differs from the replay:\n%s", cmp.Diff(string(got), string(alone)))
			}
		})
	}
}

func readChunks(t *testing.T, path string) []normalize.Chunk {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []normalize.Chunk
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		c, err := normalize.ParseOpenAIChunk([]byte(data))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, *c)
	}
	return out
}

// Recorded OpenAI chat streams (arguments split over many chunks, a final
// usage-only chunk) render as schema-valid Responses event streams whose
// deltas add up to the assembled answer.
func TestLiveStreamGolden(t *testing.T) {
	for _, name := range []string{"text", "tools"} {
		t.Run(name, func(t *testing.T) {
			req, err := os.ReadFile("testdata/streams/" + name + ".request.json")
			if err != nil {
				t.Fatal(err)
			}
			p, err := responses.Parse(req)
			if err != nil {
				t.Fatal(err)
			}
			chunks := readChunks(t, "testdata/streams/"+name+".sse")
			var asm normalize.Assembler
			for i := range chunks {
				asm.Add(&chunks[i])
			}
			resp, err := asm.Response()
			if err != nil {
				t.Fatal(err)
			}
			got := renderStream(p.Echo, chunks, resp)
			events := parseEvents(t, got)
			texts := rebuild(t, events)
			m := resp.Choices[0].Message
			want := map[int]string{}
			if m.Content != nil {
				want[len(want)] = m.Text()
			}
			for _, tc := range m.ToolCalls {
				want[len(want)] = tc.Arguments
			}
			if diff := cmp.Diff(want, texts); diff != "" {
				t.Errorf("deltas do not add up to the answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(string(indentJSON(t, responses.AppendResponse(nil, resp, p.Echo))), string(indentJSON(t, finalResponse(t, events)))); diff != "" {
				t.Errorf("final event differs from AppendResponse:\n%s", diff)
			}
			golden(t, "render/live_"+name+".sse", got)
		})
	}
}

// A stream that fails after it started ends with response.failed (carrying
// the error and what was streamed) and an error event.
func TestStreamFail(t *testing.T) {
	content := "Hel"
	s := responses.NewStream(nil)
	out := s.Chunk(nil, &normalize.Chunk{ID: "chatcmpl-1", Created: 7, Model: "m", Choices: []normalize.ChunkChoice{{Delta: normalize.Delta{Role: "assistant", Content: &content}}}})
	out = s.Fail(out, 429, "rate_limit_error", "", "Rate limit reached")
	events := parseEvents(t, out)
	var names []string
	for _, e := range events {
		names = append(names, e.name)
	}
	want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.failed", "error"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	failed := events[5].v["response"].(map[string]any)
	if got := fmt.Sprint(failed["status"], " ", failed["error"]); got != "failed map[code:rate_limit_exceeded message:Rate limit reached]" {
		t.Errorf("failed response = %s", got)
	}
	if got := fmt.Sprint(events[6].v["code"], " ", events[6].v["message"]); got != "rate_limit_error Rate limit reached" {
		t.Errorf("error event = %s", got)
	}
	if more := s.End(nil, &normalize.Response{}); len(more) != 0 {
		t.Errorf("End after Fail appended %q", more)
	}
	golden(t, "render/fail.sse", out)
}
