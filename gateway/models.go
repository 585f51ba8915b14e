package gateway

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
	goopenai "github.com/sashabaranov/go-openai"
)

// listModels serves GET /v1/models in OpenAI's list shape (go-openai's wire
// types).
func (s *Server) listModels(c echo.Context) error {
	list := goopenai.ModelsList{Models: []goopenai.Model{}}
	for _, m := range s.router.Models() {
		list.Models = append(list.Models, s.modelObject(m.ID, m.OwnedBy))
	}
	return c.JSON(http.StatusOK, struct {
		Object string `json:"object"`
		goopenai.ModelsList
	}{"list", list})
}

// getModel serves GET /v1/models/{model}: any routable name, including
// "provider/model" and wildcard matches, not only the listed ones.
func (s *Server) getModel(c echo.Context) error {
	id, err := url.PathUnescape(c.Param("*"))
	if err != nil || id == "" {
		return apiError(http.StatusNotFound, "invalid_request_error", "model_not_found", "model", "The model does not exist.")
	}
	route, err := s.router.Resolve(id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.modelObject(id, route.Provider))
}

func (s *Server) modelObject(id, owner string) goopenai.Model {
	return goopenai.Model{ID: id, Object: "model", OwnedBy: owner, CreatedAt: s.started.Unix()}
}
