package messages_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/messages"
)

var update = flag.Bool("update", false, "rewrite testdata/canonical/*.golden and testdata/rendered/*")

// files returns the files of testdata/dir matching ext, by name without
// the extension, in name order.
func files(t testing.TB, dir, ext string) (names []string, data map[string][]byte) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no testdata/%s/*%s: %v", dir, ext, err)
	}
	data = map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ext)
		names = append(names, name)
		data[name] = b
	}
	return names, data
}

// golden compares got with testdata/path, rewriting it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	path = filepath.Join("testdata", path)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant\n%s", path, got, want)
	}
}

// TestDecodeGolden pins the canonical form of every Messages request of
// testdata/requests (testdata/canonical/NAME.golden), and checks that it
// is a fixed point of the chat wire encoding sent to OpenAI-compatible
// upstreams, and that decoding is deterministic.
func TestDecodeGolden(t *testing.T) {
	names, bodies := files(t, "requests", ".json")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			req, err := messages.Decode(bodies[name])
			if err != nil {
				t.Fatalf("Decode = %v", err)
			}
			canon := normalize.Canonical(req)
			golden(t, filepath.Join("canonical", name+".golden"), append(canon, '\n'))
			again, err := messages.Decode(bodies[name])
			if err != nil || !bytes.Equal(normalize.Canonical(again), canon) {
				t.Errorf("second Decode = %v, canonical %s", err, normalize.Canonical(again))
			}
			if len(req.Params.Stop) > normalize.MaxStop {
				return // more stop sequences than the chat API accepts: no chat body says this
			}
			wire := normalize.AppendOpenAIRequest(nil, req, req.Model, req.Stream)
			back, err := normalize.DecodeOpenAI(wire)
			if err != nil {
				t.Fatalf("DecodeOpenAI(upstream body) = %v\n%s", err, wire)
			}
			if c := normalize.Canonical(back); !bytes.Equal(c, canon) {
				t.Errorf("Canonical(DecodeOpenAI(upstream body)) =\n%s\nwant\n%s", c, canon)
			}
		})
	}
}

// stored reads a stored answer (chat.completion JSON, as the cache keeps
// answers).
func stored(t *testing.T, body []byte) *normalize.Response {
	t.Helper()
	r, err := normalize.ParseOpenAIResponse(body)
	if err != nil {
		t.Fatalf("ParseOpenAIResponse = %v", err)
	}
	return r
}

const model = "claude-sonnet-4-5" // as a client sent it

// TestRenderGolden renders every stored answer of testdata/answers as a
// message object (rendered/NAME.json) and as a replayed event stream
// (rendered/NAME.sse), and checks that the stream, accumulated as the
// SDKs do, is the same message.
func TestRenderGolden(t *testing.T) {
	names, bodies := files(t, "answers", ".json")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			resp := stored(t, bodies[name])
			body := messages.AppendResponse(nil, resp, model)
			golden(t, filepath.Join("rendered", name+".json"), append(body, '\n'))
			s := messages.NewStream(model)
			var sse []byte
			for _, c := range normalize.Replay(resp, true) {
				sse = s.Chunk(sse, &c)
			}
			sse = s.End(sse, resp)
			golden(t, filepath.Join("rendered", name+".sse"), sse)
			sameMessage(t, body, sse, !strings.Contains(name, "cut-tool-call"))
		})
	}
}

// TestStreamGolden renders live streams (testdata/streams: OpenAI chunk
// streams as providers send them) chunk by chunk and checks them against
// the message object of the assembled answer.
func TestStreamGolden(t *testing.T) {
	names, streams := files(t, "streams", ".sse")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			chunks := openAIChunks(t, streams[name])
			var asm normalize.Assembler
			s := messages.NewStream(model)
			var sse []byte
			for _, c := range chunks {
				asm.Add(c)
				sse = s.Chunk(sse, c)
			}
			resp, err := asm.Response()
			if err != nil {
				t.Fatal(err)
			}
			sse = s.End(sse, resp)
			golden(t, filepath.Join("rendered", name+".stream.sse"), sse)
			sameMessage(t, messages.AppendResponse(nil, resp, model), sse, true)
		})
	}
}

// openAIChunks parses the data events of an OpenAI SSE stream.
func openAIChunks(t testing.TB, sse []byte) []*normalize.Chunk {
	t.Helper()
	var out []*normalize.Chunk
	for _, line := range strings.Split(string(sse), "\n") {
		data, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		c, err := normalize.ParseOpenAIChunk([]byte(data))
		if err != nil {
			t.Fatalf("ParseOpenAIChunk(%s) = %v", data, err)
		}
		out = append(out, c)
	}
	return out
}

// sameMessage checks that the events in sse are well formed and
// accumulate to the message object body (which must be valid JSON).
// Partial tool input is only parsed when complete is set: arguments cut
// off mid-call stream through as the provider sent them, while the
// message object has {} (see AppendResponse).
func sameMessage(t *testing.T, body, sse []byte, complete bool) {
	t.Helper()
	var want map[string]any
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("AppendResponse is not JSON: %v\n%s", err, body)
	}
	evs, err := parseEvents(sse)
	if err != nil {
		t.Fatal(err)
	}
	got, err := accumulate(evs, complete)
	if err != nil {
		t.Fatalf("%v\n%s", err, sse)
	}
	if !complete {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("accumulated stream differs from the message object (-json +stream):\n%s", diff)
	}
}
