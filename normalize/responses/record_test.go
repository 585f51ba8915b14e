package responses_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/responses"
)

func mustDecode(t *testing.T, body string, records map[string]*responses.Record) (*responses.Parsed, *normalize.Request) {
	t.Helper()
	p, err := responses.Parse([]byte(body))
	if err != nil {
		t.Fatalf("Parse(%s) = %v", body, err)
	}
	r, err := p.Decode(records)
	if err != nil {
		t.Fatalf("Decode(%s) = %v", body, err)
	}
	return p, r
}

func toolAnswer() *normalize.Response {
	return &normalize.Response{ID: "chatcmpl-42", Created: 1, Model: "m", Choices: []normalize.Choice{{
		Message: normalize.Message{
			Role:      normalize.RoleAssistant,
			Content:   []normalize.Part{{Type: normalize.PartText, Text: "Checking both."}},
			ToolCalls: []normalize.ToolCall{{ID: "call_a", Type: "function", Name: "w", Arguments: `{"city":"Oslo"}`}, {ID: "call_b", Type: "function", Name: "w", Arguments: `{"city":"Rome"}`}},
			Extra:     []normalize.Field{{Name: "reasoning_content", Value: []byte(`"hmm"`)}},
		},
		FinishReason: "tool_calls",
	}}}
}

// A record round-trips: the conversation without the instructions, then
// the answer without provider extras.
func TestRecordRoundTrip(t *testing.T) {
	p, req := mustDecode(t, `{"model":"m","instructions":"Be brief.","input":[{"role":"system","content":"Input system message."},{"role":"user","content":"Weather?"}]}`, nil)
	rec, err := responses.ParseRecord(responses.NewRecord(req, toolAnswer(), p.Echo))
	if err != nil {
		t.Fatal(err)
	}
	want := []normalize.Message{
		{Role: "system", Content: []normalize.Part{{Type: "text", Text: "Input system message."}}},
		{Role: "user", Content: []normalize.Part{{Type: "text", Text: "Weather?"}}},
		{Role: "assistant", Content: []normalize.Part{{Type: "text", Text: "Checking both."}}, ToolCalls: toolAnswer().Choices[0].Message.ToolCalls},
	}
	if diff := cmp.Diff(want, rec.Messages); diff != "" {
		t.Errorf("record messages (-want +got):\n%s", diff)
	}
}

func TestParseRecordRejects(t *testing.T) {
	for _, give := range []string{``, `{}`, `{"v":2,"messages":[{"role":"user","content":"x"}]}`, `{"v":1,"messages":[]}`, `{"v":1,"messages":[{"role":"nobody"}]}`, `{"v":1,"messages":[{"role":"user","content":"x"}],"stop":"y","messages":[]}`} {
		if _, err := responses.ParseRecord([]byte(give)); !errors.Is(err, responses.ErrRecord) {
			t.Errorf("ParseRecord(%s) = %v, want ErrRecord", give, err)
		}
	}
}

// A follow-up naming the previous response gets the same messages as the
// same conversation sent in full, with the Responses output items the
// client received (message and function_call items, reasoning dropped).
func TestPreviousResponseExpansion(t *testing.T) {
	p1, req1 := mustDecode(t, `{"model":"m","instructions":"Be brief.","input":"Weather in Oslo and Rome?","tools":[{"type":"function","name":"w"}]}`, nil)
	answer := toolAnswer()
	p1.Echo.IDSeed = []byte("entry-digest")
	id := responses.ResponseID(answer, p1.Echo)
	rec, err := responses.ParseRecord(responses.NewRecord(req1, answer, p1.Echo))
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]*responses.Record{id: rec}

	follow := `{"model":"m","instructions":"Be brief.","previous_response_id":"` + id + `","input":[{"type":"function_call_output","call_id":"call_a","output":"cold"},{"type":"function_call_output","call_id":"call_b","output":"warm"}],"tools":[{"type":"function","name":"w"}]}`
	p2, viaID := mustDecode(t, follow, records)
	if got := p2.Needs(); len(got) != 1 || got[0] != id {
		t.Errorf("Needs() = %v, want [%s]", got, id)
	}

	// The client's own copy of the history: what it sent, then the output
	// items of the rendered response.
	rendered := responses.AppendResponse(nil, answer, p1.Echo)
	var out struct {
		Output []map[string]any
	}
	if err := jsonUnmarshal(rendered, &out); err != nil {
		t.Fatal(err)
	}
	input := `[{"role":"user","content":"Weather in Oslo and Rome?"}`
	for _, item := range out.Output {
		input += "," + string(mustJSON(t, item))
	}
	input += `,{"type":"function_call_output","call_id":"call_a","output":"cold"},{"type":"function_call_output","call_id":"call_b","output":"warm"}]`
	_, full := mustDecode(t, `{"model":"m","instructions":"Be brief.","input":`+input+`,"tools":[{"type":"function","name":"w"}]}`, nil)
	if diff := cmp.Diff(full.Messages, viaID.Messages); diff != "" {
		t.Errorf("expanded history differs from the explicit one (-explicit +expanded):\n%s", diff)
	}
	if viaID.Dialect != responses.Dialect || full.Dialect != "" {
		t.Errorf("Dialect = %q and %q, want previous_response_id keyed in the dialect only", viaID.Dialect, full.Dialect)
	}
	portable, err := responses.Portable(viaID)
	if err != nil {
		t.Fatalf("Portable = %v", err)
	}
	if got, want := string(normalize.Canonical(portable)), string(normalize.Canonical(full)); got != want {
		t.Errorf("portable follow-up = %s\nwant the explicit conversation %s", got, want)
	}

	// item_reference items naming the rendered items resolve from the
	// same record, as the AI SDK sends them when store is true.
	var refs string
	for _, item := range out.Output {
		refs += `{"type":"item_reference","id":"` + item["id"].(string) + `"},`
	}
	pr, viaRefs := mustDecode(t, `{"model":"m","instructions":"Be brief.","input":[{"role":"user","content":"Weather in Oslo and Rome?"},`+refs+`{"type":"function_call_output","call_id":"call_a","output":"cold"},{"type":"function_call_output","call_id":"call_b","output":"warm"}],"tools":[{"type":"function","name":"w"}]}`, records)
	if got := pr.Needs(); len(got) != 1 || got[0] != id {
		t.Errorf("Needs() = %v, want [%s]", got, id)
	}
	if diff := cmp.Diff(full.Messages, viaRefs.Messages); diff != "" {
		t.Errorf("resolved references differ from the explicit items (-explicit +resolved):\n%s", diff)
	}
	if viaRefs.Dialect != "" {
		t.Errorf("resolved references keep Dialect %q %v", viaRefs.Dialect, viaRefs.DialectFields)
	}
}

func TestMissingRecords(t *testing.T) {
	tests := []struct{ give, param string }{
		{`{"model":"m","previous_response_id":"resp_ditto_00112233445566778899aabbccddeeff","input":"Hi"}`, "previous_response_id"},
		{`{"model":"m","input":[{"type":"item_reference","id":"msg_ditto_00112233445566778899aabbccddeeff"}]}`, "input[0]"},
		{`{"model":"m","input":[{"id":"fc_ditto_00112233445566778899aabbccddeeff_3"}]}`, "input[0]"},
	}
	for _, tt := range tests {
		p, err := responses.Parse([]byte(tt.give))
		if err != nil {
			t.Fatalf("Parse(%s) = %v", tt.give, err)
		}
		_, err = p.Decode(nil)
		var e *normalize.Error
		if !errors.As(err, &e) || e.Param != tt.param || !errors.Is(err, normalize.ErrInvalid) {
			t.Errorf("Decode(%s) = %v, want an invalid-request error for %s", tt.give, err, tt.param)
		}
	}
}

// Ids are deterministic, depend on the seed, and are Ditto's own.
func TestResponseIDs(t *testing.T) {
	a := toolAnswer()
	e1, e2 := &responses.Echo{IDSeed: []byte("a")}, &responses.Echo{IDSeed: []byte("b")}
	if responses.ResponseID(a, e1) != responses.ResponseID(a, e1) {
		t.Error("ResponseID is not deterministic")
	}
	if responses.ResponseID(a, e1) == responses.ResponseID(a, e2) {
		t.Error("ResponseID ignores IDSeed")
	}
	if got := responses.ResponseID(a, nil); len(got) != len("resp_ditto_")+32 || got[:11] != "resp_ditto_" {
		t.Errorf("ResponseID = %q", got)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
