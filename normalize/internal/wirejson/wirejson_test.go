package wirejson

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fastjson"
)

func TestAppendString(t *testing.T) {
	tests := []struct{ give, want string }{
		{"plain", `"plain"`},
		{"a\"b\\c", `"a\"b\\c"`},
		{"\n\r\t\x00\x1f\x7f", `"\n\r\t\u0000\u001f` + "\x7f" + `"`},
		{"café \u2028\u2029 😀", `"café \u2028\u2029 😀"`},
		{"bad \xff utf8", "\"bad \ufffd utf8\""},
	}
	for _, tt := range tests {
		got := AppendString(nil, tt.give)
		if string(got) != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.give, got, tt.want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("AppendString(%q) = %s is not JSON: %v", tt.give, got, err)
		}
	}
}

func TestValidNumber(t *testing.T) {
	for give, want := range map[string]bool{
		"0": true, "-0": true, "12": true, "1.5": true, "1e5": true, "1E+5": true, "-2.5e-3": true,
		"01": false, ".5": false, "1.": false, "+1": false, "NaN": false, "inf": false, "1e": false, "-": false, "": false, "0x1": false,
	} {
		if got := ValidNumber([]byte(give)); got != want {
			t.Errorf("ValidNumber(%q) = %v, want %v", give, got, want)
		}
	}
}

func TestCheckEscapes(t *testing.T) {
	for give, want := range map[string]bool{
		`"a\"\\\/\b\f\n\r\t"`: true, `"\u00e9"`: true, `"\ud83d\ude00"`: true, `no escapes`: true,
		`"\x"`: false, `"\u12"`: false, `"\ud800"`: false, `"\ude00"`: false, `"\ud83d\u0041"`: false, `"\`: false,
	} {
		if _, ok := CheckEscapes([]byte(give)); ok != want {
			t.Errorf("CheckEscapes(%s) = %v, want %v", give, ok, want)
		}
	}
}

func TestAppendValue(t *testing.T) {
	tests := []struct {
		give, want, path string // path of the error, "-" for none
	}{
		{`{ "b" : [1, 2.50, true, null], "a":"x\n" }`, `{"b":[1,2.50,true,null],"a":"x\n"}`, "-"},
		{`{"a":{"b":[0,{"c":1,"c":2}]}}`, "", ".a.b.1"},
		{`{"a":[1,01]}`, "", ".a.1"},
		{`[{"x":NaN}]`, "", ".0.x"},
	}
	var p fastjson.Parser
	for _, tt := range tests {
		v, err := p.Parse(tt.give)
		if err != nil {
			t.Fatalf("Parse(%s) = %v", tt.give, err)
		}
		got, err := AppendValue(nil, v)
		switch e, _ := err.(*Error); {
		case tt.path == "-" && (err != nil || string(got) != tt.want):
			t.Errorf("AppendValue(%s) = %s, %v; want %s", tt.give, got, err, tt.want)
		case tt.path != "-" && (e == nil || e.Path != tt.path):
			t.Errorf("AppendValue(%s) error = %v, want one at %s", tt.give, err, tt.path)
		}
	}
}

func TestInt(t *testing.T) {
	var p fastjson.Parser
	for give, want := range map[string]int{"7": 7, "2.0": 2, "3e2": 300, "-4": -4, "1.5": -1, "01": -1, `"7"`: -1, "99999999999": -1} {
		v, err := p.Parse(give)
		if err != nil {
			t.Fatal(err)
		}
		n, ok, _ := Int(nil, v)
		if (want == -1) == ok || (ok && n != want) {
			t.Errorf("Int(%s) = %d, %v; want %d", give, n, ok, want)
		}
	}
}
