package gateway

import (
	"net/http"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/labstack/echo/v4"
)

// listModels serves GET /v1/models in OpenAI's list shape (go-openai's wire
// types).
func (s *Server) listModels(c echo.Context) error {
	list := goopenai.ModelsList{Models: []goopenai.Model{}}
	for _, m := range s.router.models() {
		list.Models = append(list.Models, goopenai.Model{ID: m.ID, Object: "model", OwnedBy: m.OwnedBy})
	}
	return c.JSON(http.StatusOK, struct {
		Object string `json:"object"`
		goopenai.ModelsList
	}{"list", list})
}
