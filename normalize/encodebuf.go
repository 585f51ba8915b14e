package normalize

import "sync"

// encodeBufs recycles encoding buffers: OpenAIRequestJSON and
// OpenAIResponseJSON encode into one, then copy the result into a slice of
// exactly its size. One right-sized allocation per body instead of a
// guessed one that grows (and is copied) on the way.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// maxScratch bounds the buffers kept for reuse.
const maxScratch = 256 << 10

func encodeExact(encode func([]byte) []byte) []byte {
	bp := encodeBufs.Get().(*[]byte)
	b := encode((*bp)[:0])
	out := make([]byte, len(b))
	copy(out, b)
	if cap(b) <= maxScratch {
		*bp = b[:0]
		encodeBufs.Put(bp)
	}
	return out
}

// OpenAIRequestJSON is AppendOpenAIRequest into a new slice of exactly the
// body's size.
func OpenAIRequestJSON(r *Request, model string, stream bool) []byte {
	return encodeExact(func(b []byte) []byte { return AppendOpenAIRequest(b, r, model, stream) })
}

// OpenAIResponseJSON is AppendOpenAIResponse into a new slice of exactly the
// body's size.
func OpenAIResponseJSON(r *Response) []byte {
	return encodeExact(func(b []byte) []byte { return AppendOpenAIResponse(b, r) })
}
