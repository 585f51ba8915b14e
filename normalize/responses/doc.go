// Package responses decodes OpenAI Responses API requests (POST
// /v1/responses) into Ditto's canonical request and renders stored answers
// as Responses objects and typed event streams.
//
// A request is decoded by translating it into the chat-completions body that
// means the same and running normalize.DecodeOpenAI on it, so one
// canonicalizer serves every dialect and a Responses request shares its
// cache key with the equivalent chat request. What only the Responses API
// can say (built-in tools, previous_response_id, truncation "auto", ...) is
// kept, keyed, in the request's DialectFields; Portable tells whether a
// chat-completions provider can serve the request.
//
// previous_response_id and item_reference items naming Ditto's own output
// are served from Records, Ditto's own copy of each conversation, which the
// caller stores and looks up (Parsed.Needs); this package does no I/O.
// Everything here is a pure function of its inputs. See
// docs/normalization.md, "The Responses API".
package responses
