package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dittocache/ditto/internal/fakeopenai"
)

// postTo posts body to path and returns status, X-Ditto-Cache and body.
func postTo(t *testing.T, url, path, body string, header ...string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Ditto-Cache"), b
}

// responseText is the output text of a Responses API response object.
func responseText(t *testing.T, b []byte) (id, text string) {
	t.Helper()
	var r struct {
		ID     string `json:"id"`
		Object string `json:"object"`
		Status string `json:"status"`
		Output []struct {
			Type    string `json:"type"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		} `json:"output"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Object != "response" || r.Status != "completed" {
		t.Fatalf("not a completed response object (%v): %s", err, b)
	}
	for _, o := range r.Output {
		for _, c := range o.Content {
			if c.Type == "output_text" {
				text += c.Text
			}
		}
	}
	return r.ID, text
}

// One question asked as chat completions, then as Responses (JSON and
// stream) reaches the provider once: the dialects share the cache.
func TestResponsesShareTheChatCache(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	g.up.SetEcho(true)
	chatReq := `{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 2+2?"}],"max_tokens":50}`
	code, status, _ := postTo(t, g.url, "/v1/chat/completions", chatReq)
	if code != 200 || status != "MISS" {
		t.Fatalf("chat: %d %s, want 200 MISS", code, status)
	}
	respReq := `{"model":"gpt-4o","instructions":"Be brief.","input":"What is 2+2?","max_output_tokens":50}`
	code, status, body := postTo(t, g.url, "/v1/responses", respReq)
	if code != 200 || status != "HIT" {
		t.Fatalf("responses: %d %s %s, want 200 HIT", code, status, body)
	}
	if _, text := responseText(t, body); text != fakeopenai.EchoAnswer("What is 2+2?") {
		t.Errorf("responses text = %q", text)
	}
	stream := strings.Replace(respReq, `"input"`, `"stream":true,"input"`, 1)
	code, status, body = postTo(t, g.url, "/v1/responses", stream)
	if code != 200 || status != "HIT" {
		t.Fatalf("responses stream: %d %s, want 200 HIT", code, status)
	}
	events := sseEvents(t, body)
	if len(events) < 4 || events[0] != "response.created" || events[len(events)-1] != "response.completed" {
		t.Errorf("stream events %v, want response.created … response.completed", events)
	}
	if g.up.Calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", g.up.Calls())
	}
}

// A follow-up naming the previous response continues its conversation,
// through a chat-only provider: the history reaches the provider.
func TestResponsesPreviousResponseID(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	g.up.SetEcho(true)
	code, _, body := postTo(t, g.url, "/v1/responses", `{"model":"gpt-4o","input":"My name is Ada."}`)
	if code != 200 {
		t.Fatalf("first: %d %s", code, body)
	}
	id, _ := responseText(t, body)
	code, status, body := postTo(t, g.url, "/v1/responses", `{"model":"gpt-4o","previous_response_id":"`+id+`","input":"What is my name?"}`)
	if code != 200 || status != "MISS" {
		t.Fatalf("follow-up: %d %s %s", code, status, body)
	}
	reqs := g.up.Requests()
	last := string(reqs[len(reqs)-1])
	for _, want := range []string{"My name is Ada.", fakeopenai.EchoAnswer("My name is Ada."), "What is my name?"} {
		if !strings.Contains(last, want) {
			t.Errorf("upstream request lacks %q: %s", want, last)
		}
	}
	// An id Ditto never answered is the client's error.
	code, _, body = postTo(t, g.url, "/v1/responses", `{"model":"gpt-4o","previous_response_id":"resp_nope","input":"x"}`)
	if code != 400 || !strings.Contains(string(body), "previous_response_id") {
		t.Errorf("unknown previous response: %d %s, want 400 naming previous_response_id", code, body)
	}
	// Records are the tenant's: another sub-namespace cannot follow up.
	code, _, _ = postTo(t, g.url, "/v1/responses", `{"model":"gpt-4o","previous_response_id":"`+id+`","input":"x"}`,
		"X-Ditto-Namespace", "other")
	if code != 400 {
		t.Errorf("follow-up from another namespace: %d, want 400", code)
	}
}

func TestResponsesBadInput(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	for _, body := range []string{`{`, `[]`, `{"model":"gpt-4o"}`, `{"model":"gpt-4o","input":[{"type":"message","role":"user","content":[{"type":"input_image"}]}]}`,
		`{"model":"gpt-4o","input":"x","max_output_tokens":-1}`, `{"model":"gpt-4o","input":"x","tools":[{"type":"function"}]}`} {
		code, _, b := postTo(t, g.url, "/v1/responses", body)
		var e struct {
			Error struct {
				Message, Type string
			} `json:"error"`
		}
		if code != 400 || json.Unmarshal(b, &e) != nil || e.Error.Message == "" || e.Error.Type != "invalid_request_error" {
			t.Errorf("%s: %d %s, want a 400 OpenAI error", body, code, b)
		}
	}
	if g.up.Calls() != 0 {
		t.Errorf("bad input reached the provider %d times", g.up.Calls())
	}
}

// sseEvents lists the event names of an SSE body.
func sseEvents(t *testing.T, body []byte) []string {
	t.Helper()
	var names []string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			names = append(names, n)
		}
	}
	return names
}

// The same question as chat completions, as Responses and as Anthropic
// Messages reaches the provider once; each client gets its own wire format.
func TestOneCacheAcrossThreeDialects(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	g.up.SetEcho(true)
	code, status, _ := postTo(t, g.url, "/v1/chat/completions",
		`{"model":"gpt-4o","messages":[{"role":"system","content":"Answer in one word."},{"role":"user","content":"Capital of France?"}],"max_tokens":64}`)
	if code != 200 || status != "MISS" {
		t.Fatalf("chat: %d %s", code, status)
	}
	code, status, body := postTo(t, g.url, "/v1/responses",
		`{"model":"gpt-4o","instructions":"Answer in one word.","input":[{"role":"user","content":"Capital of France?"}],"max_output_tokens":64}`)
	if code != 200 || status != "HIT" {
		t.Fatalf("responses: %d %s %s", code, status, body)
	}
	code, status, body = postTo(t, g.url, "/v1/messages",
		`{"model":"gpt-4o","system":"Answer in one word.","messages":[{"role":"user","content":"Capital of France?"}],"max_tokens":64}`,
		"anthropic-version", "2023-06-01")
	if code != 200 || status != "HIT" {
		t.Fatalf("messages: %d %s %s", code, status, body)
	}
	var m struct {
		Type       string `json:"type"`
		Role       string `json:"role"`
		StopReason string `json:"stop_reason"`
		Content    []struct{ Type, Text string }
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Type != "message" || m.Role != "assistant" || m.StopReason != "end_turn" ||
		len(m.Content) != 1 || m.Content[0].Text != fakeopenai.EchoAnswer("Capital of France?") {
		t.Errorf("messages answer %s (%v), want an Anthropic message with the stored text", body, err)
	}
	code, status, body = postTo(t, g.url, "/v1/messages",
		`{"model":"gpt-4o","system":"Answer in one word.","messages":[{"role":"user","content":"Capital of France?"}],"max_tokens":64,"stream":true}`)
	if ev := sseEvents(t, body); code != 200 || status != "HIT" || len(ev) < 5 || ev[0] != "message_start" || ev[len(ev)-1] != "message_stop" {
		t.Errorf("messages stream: %d %s events %v, want message_start … message_stop", code, status, ev)
	}
	if g.up.Calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", g.up.Calls())
	}
}

// Messages errors have Anthropic's shape, before and after routing.
func TestMessagesErrorShape(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	for _, body := range []string{`{`, `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`} {
		code, _, b := postTo(t, g.url, "/v1/messages", body)
		var e struct {
			Type  string `json:"type"`
			Error struct{ Type, Message string }
		}
		if code != 400 || json.Unmarshal(b, &e) != nil || e.Type != "error" || e.Error.Type != "invalid_request_error" || e.Error.Message == "" {
			t.Errorf("%s: %d %s, want an Anthropic 400 error", body, code, b)
		}
		if body != `{` && e.Error.Message != "max_tokens: Field required" {
			// Anthropic's errors have no param: the message names the field.
			t.Errorf("%s: message %q, want Anthropic's %q", body, e.Error.Message, "max_tokens: Field required")
		}
	}
}

// Legacy completions key within their own dialect: a raw prompt is not a
// chat, even with the same words.
func TestLegacyCompletions(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	code, status, body := postTo(t, g.url, "/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Say hi","max_tokens":5}`)
	if code != 200 || status != "MISS" {
		t.Fatalf("completion: %d %s %s", code, status, body)
	}
	urls := g.up.URLs()
	if len(urls) != 1 || !strings.HasSuffix(urls[0], "/completions") || strings.HasSuffix(urls[0], "/chat/completions") {
		t.Errorf("upstream URLs %v, want the legacy /v1/completions", urls)
	}
	if code, status, _ = postTo(t, g.url, "/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":["Say hi"],"max_tokens":5}`); status != "HIT" {
		t.Errorf("same prompt as a one-element array: %d %s, want HIT", code, status)
	}
	code, status, body = postTo(t, g.url, "/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Say hi","max_tokens":5,"stream":true}`)
	if code != 200 || status != "HIT" || !strings.Contains(string(body), `"text_completion"`) || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Errorf("stream replay: %d %s %s, want text_completion chunks ending in [DONE]", code, status, body)
	}
	code, status, body = postTo(t, g.url, "/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Stream me","stream":true}`)
	if code != 200 || status != "MISS" || !strings.Contains(string(body), fakeopenai.EchoAnswer("Stream me")) {
		t.Errorf("stream miss: %d %s %s", code, status, body)
	}
	if _, status, _ = postTo(t, g.url, "/v1/chat/completions", `{"model":"gpt-3.5-turbo-instruct","messages":[{"role":"user","content":"Say hi"}],"max_tokens":5}`); status != "MISS" {
		t.Errorf("the chat request with the same words: %s, want MISS", status)
	}
}

// Every dialect's answer names the model that answered, as the provider
// named it (here the dated snapshot gpt-4o-2024-08-06 for a request for
// gpt-4o), as OpenAI's and Anthropic's own APIs do: on a miss and on a
// hit, as JSON and as a stream.
func TestAnswersNameTheModelThatAnswered(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	g.up.SetEcho(true)
	const want = `"model":"gpt-4o-2024-08-06"`
	for _, c := range []struct{ path, body, status string }{
		{"/v1/responses", `{"model":"gpt-4o","input":"Which model?"}`, "MISS"},
		{"/v1/responses", `{"model":"gpt-4o","input":"Which model?","stream":true}`, "HIT"},
		{"/v1/messages", `{"model":"gpt-4o","max_tokens":64,"messages":[{"role":"user","content":"Which model, again?"}]}`, "MISS"},
		{"/v1/messages", `{"model":"gpt-4o","max_tokens":64,"messages":[{"role":"user","content":"Which model, again?"}],"stream":true}`, "HIT"},
		{"/v1/messages", `{"model":"gpt-4o","max_tokens":64,"messages":[{"role":"user","content":"A streamed miss?"}],"stream":true}`, "MISS"},
		{"/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"Which model?"}]}`, "HIT"},
	} {
		code, status, body := postTo(t, g.url, c.path, c.body)
		if code != 200 || status != c.status {
			t.Fatalf("%s %s: %d %s %s, want 200 %s", c.path, c.body, code, status, body, c.status)
		}
		if !strings.Contains(string(body), want) || strings.Contains(string(body), `"model":"gpt-4o"`) {
			t.Errorf("%s %s: answer does not name only the model that answered (%s):\n%s", c.path, c.body, want, body)
		}
	}
}

// A Messages stream answered from the cache reports the prompt's tokens in
// message_start, as Anthropic does (clients such as LangChain read input
// tokens there and output tokens from message_delta).
func TestMessagesStreamHitReportsInputTokensAtTheStart(t *testing.T) {
	g := newTestGateway(t, testOpts{})
	g.up.SetEcho(true)
	body := `{"model":"gpt-4o","max_tokens":64,"messages":[{"role":"user","content":"Count my tokens"}]}`
	if code, status, b := postTo(t, g.url, "/v1/messages", body); code != 200 || status != "MISS" {
		t.Fatalf("miss: %d %s %s", code, status, b)
	}
	code, status, b := postTo(t, g.url, "/v1/messages", strings.Replace(body, `"max_tokens"`, `"stream":true,"max_tokens"`, 1))
	if code != 200 || status != "HIT" {
		t.Fatalf("stream: %d %s %s, want 200 HIT", code, status, b)
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(string(b), "event: message_start\ndata: "), "\n")
	var start struct {
		Message struct {
			Usage struct {
				InputTokens  int `json:"input_tokens"`
				OutputTokens int `json:"output_tokens"`
			} `json:"usage"`
		} `json:"message"`
	}
	if err := json.Unmarshal([]byte(first), &start); err != nil || start.Message.Usage.InputTokens != 10 || start.Message.Usage.OutputTokens != 0 {
		t.Errorf("message_start %s (%v): want input_tokens 10 (the answer's prompt tokens), output_tokens 0", first, err)
	}
}
