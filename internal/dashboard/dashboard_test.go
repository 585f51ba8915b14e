package dashboard

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestHandlerServesThePageAndAssets(t *testing.T) {
	tests := []struct {
		give, wantType string
		wantStatus     int
	}{
		{"/dashboard", "text/html; charset=utf-8", 200},
		{"/dashboard/app.js", "text/javascript; charset=utf-8", 200},
		{"/dashboard/style.css", "text/css; charset=utf-8", 200},
		{"/dashboard/missing.js", "", 404},
		{"/dashboard/", "", 301},
	}
	for _, tt := range tests {
		resp := get(t, http.MethodGet, tt.give)
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("GET %s = %d, want %d", tt.give, resp.StatusCode, tt.wantStatus)
			continue
		}
		if tt.wantStatus != 200 {
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tt.wantType {
			t.Errorf("GET %s Content-Type = %q, want %q", tt.give, got, tt.wantType)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s CSP = %q", tt.give, csp)
		}
	}
	if resp := get(t, http.MethodPost, "/dashboard"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /dashboard = %d, want 405", resp.StatusCode)
	}
	if loc := get(t, http.MethodGet, "/dashboard/").Header.Get("Location"); loc != "../dashboard" {
		t.Errorf("redirect to %q", loc)
	}
}

// The page must work offline: no CDN, no external fonts, nothing fetched
// from another origin.
func TestAssetsLoadNothingFromElsewhere(t *testing.T) {
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, _ := assets.Open(path)
		b, _ := io.ReadAll(f)
		f.Close()
		for _, m := range url.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" { // the SVG namespace, not a fetch
				t.Errorf("%s refers to %s", path, m)
			}
		}
		if strings.Contains(string(b), "@import") || strings.Contains(string(b), "@font-face") {
			t.Errorf("%s imports CSS or fonts", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
