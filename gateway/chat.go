package gateway

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/normalize"
)

// chat is OpenAI's chat completions: the canonical form's own wire format,
// so a stored answer is served to a JSON client byte for byte.
type chat struct{}

func (chat) name() string      { return "" }
func (chat) operation() string { return "chat" }

func (chat) decode(_ *Server, _ echo.Context, body []byte) (*normalize.Request, any, error) {
	req, err := normalize.DecodeOpenAI(body)
	return req, nil, err
}

func (chat) render(_ context.Context, dst []byte, a *cache.Answer, _ *exchange) ([]byte, error) {
	if dst == nil {
		return a.Entry.Body, nil // as stored: never modified, so shared
	}
	return append(dst, a.Entry.Body...), nil
}

func (chat) stream(x *exchange) streamRenderer {
	return chatStream{includeUsage: x.req.IncludeUsage}
}

func (chat) answered(context.Context, *exchange, *normalize.Response) {}

func (chat) errorBody(e *APIError) []byte { return errorBody(e) }

func (chat) portable(req *normalize.Request) (*normalize.Request, error) { return req, nil }

func (s *Server) chatCompletions(c echo.Context) error { return s.handle(c, chat{}) }

// chatStream writes chat.completion.chunk events. Usage is only sent to
// clients that asked for it with stream_options.include_usage; the gateway
// always asks upstream.
type chatStream struct{ includeUsage bool }

func (cs chatStream) Chunk(dst []byte, c *normalize.Chunk) []byte {
	if !cs.includeUsage && c.Usage != nil {
		if len(c.Choices) == 0 {
			return dst // usage-only chunk
		}
		cc := *c
		cc.Usage = nil
		c = &cc
	}
	dst = append(dst, "data: "...)
	dst = normalize.AppendOpenAIChunk(dst, c)
	return append(dst, '\n', '\n')
}

func (chatStream) End(dst []byte, _ *normalize.Response) []byte {
	return append(dst, "data: [DONE]\n\n"...)
}

// Fail ends a stream that failed after it started with an OpenAI-shaped
// error event the SDKs raise, rather than a silent EOF.
func (chatStream) Fail(dst []byte, e *APIError) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, errorBody(e)...)
	return append(dst, '\n', '\n')
}
