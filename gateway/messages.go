package gateway

import (
	"context"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/normalize"
	"github.com/dittocache/ditto/normalize/completions"
	"github.com/dittocache/ditto/normalize/messages"
)

// messagesAPI is Anthropic's Messages API (POST /v1/messages), inbound:
// translated to the canonical form chat completions share, so one cache
// serves both, routed to any provider, answered with Anthropic's message
// objects, event stream and error shape.
type messagesAPI struct{}

func (messagesAPI) name() string      { return "messages" }
func (messagesAPI) operation() string { return "chat" }

func (messagesAPI) decode(_ *Server, _ echo.Context, body []byte) (*normalize.Request, any, error) {
	req, err := messages.Decode(body)
	return req, nil, err
}

func (messagesAPI) render(_ context.Context, dst []byte, a *cache.Answer, x *exchange) ([]byte, error) {
	resp, err := a.Response()
	if err != nil {
		return nil, err
	}
	return messages.AppendResponse(dst, resp, x.req.Model), nil
}

func (messagesAPI) stream(x *exchange) streamRenderer {
	return messagesStream{messages.NewStream(x.req.Model)}
}

func (messagesAPI) answered(context.Context, *exchange, *normalize.Response) {}

func (messagesAPI) errorBody(e *APIError) []byte {
	msg := e.Message
	if e.Param != "" && !strings.HasPrefix(msg, e.Param) {
		// Anthropic's errors have no param member; they name the field
		// in the message ("max_tokens: Field required").
		msg = e.Param + ": " + msg
	}
	return messages.AppendError(nil, e.Status, e.Type, msg)
}

func (messagesAPI) portable(req *normalize.Request) (*normalize.Request, error) { return req, nil }

func (s *Server) messagesHandler(c echo.Context) error { return s.handle(c, messagesAPI{}) }

type messagesStream struct{ s *messages.Stream }

func (m messagesStream) Chunk(dst []byte, c *normalize.Chunk) []byte { return m.s.Chunk(dst, c) }
func (m messagesStream) End(dst []byte, resp *normalize.Response) []byte {
	return m.s.End(dst, resp)
}
func (m messagesStream) Fail(dst []byte, e *APIError) []byte {
	return m.s.Fail(dst, e.Status, e.Type, e.Message)
}

// completionsAPI is OpenAI's legacy text completions (POST
// /v1/completions): a raw prompt keys within its own dialect, never with
// chat; OpenAI-compatible servers get it as is, other providers a single
// user message where that says the same.
type completionsAPI struct{}

func (completionsAPI) name() string      { return completions.Dialect }
func (completionsAPI) operation() string { return "text_completion" }

func (completionsAPI) decode(_ *Server, _ echo.Context, body []byte) (*normalize.Request, any, error) {
	req, err := completions.Decode(body)
	return req, nil, err
}

func (completionsAPI) render(_ context.Context, dst []byte, a *cache.Answer, x *exchange) ([]byte, error) {
	resp, err := a.Response()
	if err != nil {
		return nil, err
	}
	return completions.AppendResponse(dst, resp, x.req.Model), nil
}

func (completionsAPI) stream(x *exchange) streamRenderer {
	return completionsStream{completions.NewStream(x.req.Model, x.req.IncludeUsage)}
}

func (completionsAPI) answered(context.Context, *exchange, *normalize.Response) {}

func (completionsAPI) errorBody(e *APIError) []byte { return errorBody(e) }

func (completionsAPI) portable(req *normalize.Request) (*normalize.Request, error) {
	return completions.Portable(req)
}

func (s *Server) completionsHandler(c echo.Context) error { return s.handle(c, completionsAPI{}) }

type completionsStream struct{ s *completions.Stream }

func (m completionsStream) Chunk(dst []byte, c *normalize.Chunk) []byte { return m.s.Chunk(dst, c) }
func (m completionsStream) End(dst []byte, resp *normalize.Response) []byte {
	return m.s.End(dst, resp)
}
func (m completionsStream) Fail(dst []byte, e *APIError) []byte {
	return m.s.Fail(dst, e.Status, e.Type, e.Message)
}
