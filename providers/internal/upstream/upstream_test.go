package upstream

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPoster(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Key") != "k" {
			t.Errorf("request %s %v", r.Method, r.Header)
		}
		if r.URL.Path == "/fail" {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
		w.Write([]byte("body of " + r.URL.Path))
	}))
	defer srv.Close()
	errFail := errors.New("fail")
	p := NewPoster("test", nil, http.Header{"x-key": {"k"}}, func(status int, h http.Header, body []byte) error {
		if status != http.StatusTooManyRequests || h.Get("Retry-After") != "1" || string(body) != "body of /fail" {
			t.Errorf("Error(%d, %v, %q)", status, h, body)
		}
		return errFail
	})
	if b, err := p.Fetch(t.Context(), srv.URL+"/ok", []byte(`{}`)); err != nil || string(b) != "body of /ok" {
		t.Errorf("Fetch = %q, %v", b, err)
	}
	if _, err := p.Post(t.Context(), srv.URL+"/fail", []byte(`{}`)); err != errFail {
		t.Errorf("Post = %v, want the Error func's error", err)
	}
	if _, err := p.Post(t.Context(), "http://%zz", nil); err == nil || !strings.HasPrefix(err.Error(), "test: ") {
		t.Errorf("Post to a bad URL = %v, want an error prefixed with the name", err)
	}
}

func TestErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		msg, body string
		want      string
	}{
		{"bad key sk-1", "ignored", "bad key [REDACTED]"},
		{"", "  plain sk-1 text ", "plain [REDACTED] text"},
		{"", "", "Bad Gateway"},
	} {
		if got := ErrorMessage(tt.msg, []byte(tt.body), http.StatusBadGateway, "sk-1"); got != tt.want {
			t.Errorf("ErrorMessage(%q, %q) = %q, want %q", tt.msg, tt.body, got, tt.want)
		}
	}
}

func TestReadBody(t *testing.T) {
	resp := func(body string, n int64) *http.Response {
		return &http.Response{Body: io.NopCloser(strings.NewReader(body)), ContentLength: n}
	}
	for _, tc := range []struct {
		name    string
		resp    *http.Response
		want    string
		wantErr bool
	}{
		{"declared length", resp(`{"a":1}`, 7), `{"a":1}`, false},
		{"unknown length", resp(`{"a":1}`, -1), `{"a":1}`, false},
		{"declared over the limit", resp(`{"a":1}`, 100), "", true},
		{"unknown length over the limit", resp(strings.Repeat("x", 20), -1), "", true},
		{"shorter than declared", resp(`{"a"`, 7), "", true},
	} {
		got, err := ReadBody(tc.resp, 16)
		if (err != nil) != tc.wantErr || string(got) != tc.want {
			t.Errorf("%s: %q, %v", tc.name, got, err)
		}
	}
}
