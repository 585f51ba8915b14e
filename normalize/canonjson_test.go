package normalize

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

func canonNumber(t *testing.T, lit string) (string, bool) {
	t.Helper()
	v, err := fastjson.Parse(lit)
	if err != nil {
		return "", false
	}
	b, err := appendNumber(nil, v)
	if err != nil {
		return "", false
	}
	return string(b), true
}

func TestCanonicalNumbers(t *testing.T) {
	tests := []struct{ give, want string }{
		{"0", "0"}, {"-0", "0"}, {"0.0", "0"}, {"0e7", "0"}, {"-0.000e-3", "0"},
		{"1", "1"}, {"1.0", "1"}, {"1e0", "1"}, {"1E+0", "1"}, {"10e-1", "1"}, {"0.1e1", "1"},
		{"-12.50", "-12.5"}, {"1.5e3", "1500"}, {"100", "100"}, {"1e2", "100"},
		{"0.5", "0.5"}, {"5e-1", "0.5"}, {"0.000001", "0.000001"}, {"1e-7", "1e-7"}, {"12e-8", "1.2e-7"},
		{"123456789012345678901", "123456789012345678901"}, {"1e21", "1e+21"}, {"1234567890123456789012", "1.234567890123456789012e+21"},
		{"9007199254740993", "9007199254740993"}, {"9007199254740993.0", "9007199254740993"},
		{"0.1", "0.1"}, {"0.10000000000000001", "0.10000000000000001"},
		{"1e400", "1e+400"}, {"-2.5E-400", "-2.5e-400"},
	}
	for _, tt := range tests {
		if got, ok := canonNumber(t, tt.give); !ok || got != tt.want {
			t.Errorf("canonical(%s) = %q, %v; want %q", tt.give, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"01", "-01", "1.", ".5", "+1", "1e", "1e+", "-", "NaN", "nan", "inf", "1e1073741824", "0x10", "1.e5"} {
		if got, ok := canonNumber(t, bad); ok {
			t.Errorf("canonical(%s) = %q, want an error", bad, got)
		}
	}
}

func TestDecimalInteger(t *testing.T) {
	tests := []struct {
		give string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"42", 42, true}, {"4.2e1", 42, true}, {"420e-1", 42, true}, {"-5.0", -5, true},
		{"9223372036854775807", math.MaxInt64, true}, {"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false}, {"1.5", 0, false}, {"1e19", 0, false}, {"1e-1", 0, false},
	}
	for _, tt := range tests {
		var buf [32]byte
		d, ok := parseDecimal([]byte(tt.give), buf[:0])
		if !ok {
			t.Fatalf("parseDecimal(%s) failed", tt.give)
		}
		got, ok := d.integer()
		if got != tt.want || ok != tt.ok {
			t.Errorf("integer(%s) = %d, %v; want %d, %v", tt.give, got, ok, tt.want, tt.ok)
		}
	}
}

// appendFloat must spell a float64 as appendNumber spells its shortest
// decimal, and parse back to the same value.
func TestAppendFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		var f float64
		switch i % 3 {
		case 0:
			f = math.Float64frombits(rng.Uint64())
		case 1:
			f = float64(rng.IntN(2001)-1000) / 100
		default:
			f = rng.NormFloat64() * math.Pow10(rng.IntN(40)-20)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		s := string(appendFloat(nil, f))
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != f {
			t.Fatalf("appendFloat(%v) = %s, parses to %v (%v)", f, s, back, err)
		}
		shortest := strconv.FormatFloat(f, 'g', -1, 64)
		if want, ok := canonNumber(t, shortest); !ok || want != s {
			t.Fatalf("appendFloat(%v) = %s, canonical number %s = %s", f, s, shortest, want)
		}
	}
}

func TestAppendString(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune{'a', 'Z', ' ', '"', '\\', '/', '\n', '\r', '\t', 0, 0x1f, 0x7f, 'é', '€', 0x2028, 0x2029, 0x1F600, 0xFFFD}
	for range 20000 {
		var rs []rune
		for range rng.IntN(40) {
			rs = append(rs, alphabet[rng.IntN(len(alphabet))])
		}
		s := string(rs)
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Fatalf("appendString(%q) = %s, decodes to %q (%v)", s, got, back, err)
		}
		if want := referenceString(s); string(got) != want {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
		if b := appendStringBytes(nil, []byte(s)); string(b) != string(got) {
			t.Fatalf("appendStringBytes(%q) = %s, want %s", s, b, got)
		}
	}
	// Invalid UTF-8 becomes U+FFFD.
	if got := string(appendString(nil, "a\xffb\xc3")); got != "\"a\ufffdb\ufffd\"" {
		t.Errorf("appendString(invalid) = %q", got)
	}
}

// referenceString is appendString written the obvious way.
func referenceString(s string) string {
	b := []byte{'"'}
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&0xf])
		case r == 0x2028 || r == 0x2029:
			b = append(b, `\u202`...)
			b = append(b, "0123456789abcdef"[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return string(append(b, '"'))
}

// TestAppendStringWindows puts every byte value at every position of a
// 16-byte string, to exercise the 8-byte fast path's edges.
func TestAppendStringWindows(t *testing.T) {
	for c := range 256 {
		for pos := range 16 {
			b := []byte("abcdefghijklmnop")
			b[pos] = byte(c)
			if got, want := string(appendString(nil, string(b))), referenceString(string(b)); got != want {
				t.Fatalf("appendString(%q) = %s, want %s", b, got, want)
			}
		}
	}
}

func TestCheckEscapes(t *testing.T) {
	for _, ok := range []string{`"a"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\uD83D\uDE00"`, `"\\ud800"`, `"\\\\"`} {
		if err := checkEscapes([]byte(ok)); err != nil {
			t.Errorf("checkEscapes(%s) = %v", ok, err)
		}
	}
	for _, bad := range []string{`"\x"`, `"\u12"`, `"\u12g4"`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00"`, `"\ud800\ud800"`, `"\`} {
		if err := checkEscapes([]byte(bad)); err == nil {
			t.Errorf("checkEscapes(%s) = nil, want an error", bad)
		}
	}
}
