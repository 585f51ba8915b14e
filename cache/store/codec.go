package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Value encoding used by Redis (all integers big-endian):
//
//	offset  size  field
//	0       3     magic "DTO"
//	3       1     format version (formatVersion)
//	4       32    digest
//	36      8     created, Unix nanoseconds (0 = zero time)
//	44      8     fresh lifetime, nanoseconds
//	52      8     body length
//	60      8     xxhash64 of meta and body (a flipped byte reads as ErrCorrupt)
//	68      8     meta length m
//	76      m     meta
//	76+m    n     body
//
// A sealed value (SealEntry, RedisOptions.EntryKey) has the version byte
// sealedVersion and an HMAC-SHA256 of everything before it appended:
//
//	76+m+n  32    HMAC-SHA256(key, bytes 0 … 76+m+n)
//
// Bump formatVersion whenever the layout changes; values written by another
// version decode as ErrCorrupt and are overwritten on the next fill.
const (
	magic         = "DTO"
	formatVersion = 4
	sealedVersion = formatVersion | 0x80
	headerLen     = len(magic) + 1 + 32 + 8 + 8 + 8 + 8 + 8
	sealLen       = sha256.Size
)

// MarshalEntry encodes e in Ditto's versioned binary value format. The result
// is a new slice that does not alias e.Body. It is safe for concurrent use.
func MarshalEntry(e Entry) []byte { return marshal(e, formatVersion, 0) }

// SealEntry is MarshalEntry with an HMAC-SHA256 under key appended, so
// that only writers holding key can produce a value OpenEntry accepts.
func SealEntry(e Entry, key []byte) []byte {
	b := marshal(e, sealedVersion, sealLen)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return m.Sum(b) // appends into the spare capacity
}

// OpenEntry decodes a value produced by SealEntry with the same key. A
// value without a seal, or with a seal made under another key, returns an
// error wrapping ErrCorrupt (so it is served as a miss and overwritten).
func OpenEntry(b, key []byte) (Entry, error) {
	if len(b) < headerLen+sealLen {
		return Entry{}, fmt.Errorf("%w: %d bytes, want at least %d for a sealed value", ErrCorrupt, len(b), headerLen+sealLen)
	}
	n := len(b) - sealLen
	m := hmac.New(sha256.New, key)
	m.Write(b[:n])
	if !hmac.Equal(m.Sum(nil), b[n:]) {
		return Entry{}, fmt.Errorf("%w: entry seal mismatch (written without cache.redis.entry_key_env's key)", ErrCorrupt)
	}
	return unmarshal(b[:n:n], sealedVersion)
}

// marshal encodes e with version byte v and extra spare bytes at the end.
func marshal(e Entry, v byte, extra int) []byte {
	b := make([]byte, headerLen+len(e.Meta)+len(e.Body), headerLen+len(e.Meta)+len(e.Body)+extra)
	copy(b, magic)
	b[3] = v
	copy(b[4:36], e.Digest[:])
	binary.BigEndian.PutUint64(b[36:44], uint64(unixNano(e.Created)))
	binary.BigEndian.PutUint64(b[44:52], uint64(max(e.Fresh, 0)))
	binary.BigEndian.PutUint64(b[52:60], uint64(len(e.Body)))
	binary.BigEndian.PutUint64(b[68:76], uint64(len(e.Meta)))
	copy(b[headerLen:], e.Meta)
	copy(b[headerLen+len(e.Meta):], e.Body)
	binary.BigEndian.PutUint64(b[60:68], xxhash.Sum64(b[headerLen:]))
	return b
}

// UnmarshalEntry decodes a value produced by MarshalEntry. Any other input
// (garbage, truncation, trailing bytes, another format version) returns an
// error wrapping ErrCorrupt. The returned Body aliases b, with its capacity
// clipped to its length. It is safe for concurrent use.
func UnmarshalEntry(b []byte) (Entry, error) { return unmarshal(b, formatVersion) }

func unmarshal(b []byte, version byte) (Entry, error) {
	if len(b) < headerLen {
		return Entry{}, fmt.Errorf("%w: %d bytes, want at least %d", ErrCorrupt, len(b), headerLen)
	}
	if string(b[:3]) != magic {
		return Entry{}, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if v := b[3]; v != version {
		return Entry{}, fmt.Errorf("%w: format version %d, want %d", ErrCorrupt, v, version)
	}
	fresh := int64(binary.BigEndian.Uint64(b[44:52]))
	if fresh < 0 {
		return Entry{}, fmt.Errorf("%w: negative fresh lifetime", ErrCorrupt)
	}
	n := binary.BigEndian.Uint64(b[52:60])
	m := binary.BigEndian.Uint64(b[68:76])
	rest := uint64(len(b) - headerLen)
	if m > rest || n != rest-m {
		return Entry{}, fmt.Errorf("%w: meta %d + body %d bytes, have %d", ErrCorrupt, m, n, rest)
	}
	if binary.BigEndian.Uint64(b[60:68]) != xxhash.Sum64(b[headerLen:]) {
		return Entry{}, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	var e Entry
	copy(e.Digest[:], b[4:36])
	e.Created = fromUnixNano(int64(binary.BigEndian.Uint64(b[36:44])))
	e.Fresh = time.Duration(fresh)
	split := headerLen + int(m)
	e.Meta = b[headerLen:split:split]
	e.Body = b[split:len(b):len(b)]
	return e, nil
}
