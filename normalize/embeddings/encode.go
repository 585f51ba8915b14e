package embeddings

import (
	"strconv"

	"github.com/dittocache/ditto/normalize"
)

// AppendRequest appends r as an OpenAI embeddings request body for the
// upstream model, asking for vectors in format (normalize.EncodingFloat or
// normalize.EncodingBase64; anything else is sent as "float"). input is
// always an array, of strings or of token arrays, in r's order, so the
// answer's data lines up with r.Inputs even for one item; dimensions,
// user and the Extra members are sent as decoded. r.EncodingFormat (what
// the client wants back) is not sent: Ditto converts.
//
// Extra must not name a member this function writes (model, input,
// dimensions, encoding_format, user); Decode never puts one there.
func AppendRequest(dst []byte, r *normalize.EmbeddingRequest, model, format string) []byte {
	dst = append(dst, `{"model":`...)
	dst = normalize.AppendJSONString(dst, model)
	dst = append(dst, `,"input":[`...)
	for i := range r.Inputs {
		if i > 0 {
			dst = append(dst, ',')
		}
		in := &r.Inputs[i]
		if !in.IsTokens() {
			dst = normalize.AppendJSONString(dst, in.Text)
			continue
		}
		dst = append(dst, '[')
		for j, t := range in.Tokens {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, int64(t), 10)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, ']')
	if format != normalize.EncodingBase64 {
		format = normalize.EncodingFloat
	}
	dst = append(dst, `,"encoding_format":"`...)
	dst = append(dst, format...)
	dst = append(dst, '"')
	if r.Dimensions != nil {
		dst = append(dst, `,"dimensions":`...)
		dst = strconv.AppendInt(dst, int64(*r.Dimensions), 10)
	}
	dst = normalize.AppendMembers(dst, r.Extra)
	if r.User != "" {
		dst = append(dst, `,"user":`...)
		dst = normalize.AppendJSONString(dst, r.User)
	}
	return append(dst, '}')
}
