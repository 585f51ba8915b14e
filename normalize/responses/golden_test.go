package responses_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/responses"
)

// testRecords answers every response id a corpus request names with one
// fixed earlier exchange.
func testRecords(t testing.TB, ids []string) map[string]*responses.Record {
	t.Helper()
	prev, err := responses.Parse([]byte(`{"model":"m","instructions":"Be funny.","input":"Tell me a joke about caches."}`))
	if err != nil {
		t.Fatal(err)
	}
	req, err := prev.Decode(nil)
	if err != nil {
		t.Fatal(err)
	}
	answer := &normalize.Response{ID: "chatcmpl-prev", Choices: []normalize.Choice{{
		Message:      normalize.Message{Role: normalize.RoleAssistant, Content: []normalize.Part{{Type: normalize.PartText, Text: "It had no hits."}}},
		FinishReason: "stop",
	}}}
	rec, err := responses.ParseRecord(responses.NewRecord(req, answer, prev.Echo))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*responses.Record{}
	for _, id := range ids {
		out[id] = rec
	}
	return out
}

func decodeBody(t testing.TB, body []byte) (*responses.Parsed, *normalize.Request, error) {
	t.Helper()
	p, err := responses.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	r, err := p.Decode(testRecords(t, p.Needs()))
	return p, r, err
}

// Every corpus request (shapes sent by the openai npm SDK, the Vercel AI
// SDK's responses provider and LangChain) decodes to the golden canonical
// form, and its portable form is a fixed point of
// encode upstream → decode → canonicalize.
func TestGoldenRequests(t *testing.T) {
	files, err := filepath.Glob("testdata/requests/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, req, err := decodeBody(t, body)
			if err != nil {
				t.Fatalf("Decode = %v", err)
			}
			canon := normalize.Canonical(req)
			var out bytes.Buffer
			if err := json.Indent(&out, canon, "", " "); err != nil {
				t.Fatalf("canonical form is not JSON: %v\n%s", err, canon)
			}
			out.WriteString("\n")
			portable, err := responses.Portable(req)
			var e *normalize.Error
			switch {
			case err == nil:
				out.WriteString("portable: yes\n")
				upstream := normalize.AppendOpenAIRequest(nil, portable, "upstream-model", req.Stream)
				again, err := normalize.DecodeOpenAI(upstream)
				if err != nil {
					t.Fatalf("DecodeOpenAI(upstream body) = %v\n%s", err, upstream)
				}
				if got, want := normalize.Canonical(again), normalize.Canonical(portable); !bytes.Equal(got, want) {
					t.Errorf("upstream body is not a fixed point:\n got %s\nwant %s", got, want)
				}
			case errors.As(err, &e) && errors.Is(err, normalize.ErrInvalid):
				fmt.Fprintf(&out, "portable: no (%s: %s)\n", e.Param, e.Message)
			default:
				t.Fatalf("Portable = %v, want a *normalize.Error", err)
			}
			golden(t, "canonical/"+name+".golden", out.Bytes())
		})
	}
}
