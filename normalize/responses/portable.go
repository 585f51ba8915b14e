package responses

import (
	"slices"
	"strings"

	"github.com/dittocache/ditto/normalize"
)

// Portable tells whether req, as Decode returned it, can be served through
// a chat-completions provider. If so it returns the portable copy: Dialect
// and DialectFields removed, everything else identical (shared, not
// copied: req is not modified and must stay unmodified). Otherwise the error
// is a *normalize.Error whose Param names the first member, in DialectFields
// order, that a chat provider cannot honour.
//
// Honoured without the Responses API: previous_response_id (its history is
// already expanded into the messages), include (a chat-served answer has
// none of the items its values concern, and no encrypted reasoning to add)
// max_tool_calls (it limits built-in tools, which a portable request has
// none of) and top_logprobs without include's logprobs (no logprobs are
// returned then). A request in another dialect, or none, is returned as is.
func Portable(req *normalize.Request) (*normalize.Request, error) {
	if req.Dialect != Dialect {
		return req, nil
	}
	for _, f := range req.DialectFields {
		if !honoured(f.Name) {
			return nil, &normalize.Error{Param: f.Name, Message: unsupported(f.Name)}
		}
	}
	c := *req
	c.Dialect, c.DialectFields = "", nil
	return &c, nil
}

func honoured(name string) bool {
	return slices.Contains([]string{"previous_response_id", "include", "max_tool_calls", "top_logprobs"}, name)
}

func unsupported(name string) string {
	what := "'" + name + "'"
	switch {
	case strings.HasPrefix(name, "input["):
		what = "This input item"
		if strings.Contains(name, ".") {
			what = "This content part"
		}
	case strings.HasPrefix(name, "tools["):
		what = "This tool"
	}
	return what + " is not supported when Ditto serves /v1/responses through a chat-completions provider."
}
