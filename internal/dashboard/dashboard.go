// Package dashboard holds Ditto's built-in dashboard: a single page of
// plain HTML, CSS and JavaScript, embedded in the binary, that charts
// GET /v1/cache/stats. It loads nothing from other origins, so it works
// offline.
package dashboard

import (
	"embed"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// contentTypes of the embedded files.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Handler serves the page at /dashboard and its assets under
// /dashboard/. The page refers to its assets and to the stats API by
// relative URLs, so it also works behind a reverse proxy that adds a path
// prefix. Responses forbid framing and loading anything from elsewhere.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/dashboard")
		switch name {
		case "", "/", "/index.html":
			if name != "" {
				// Relative, so it survives a proxy's path prefix.
				w.Header().Set("Location", "../dashboard")
				w.WriteHeader(http.StatusMovedPermanently)
				return
			}
			name = "index.html"
		default:
			name = strings.TrimPrefix(name, "/")
		}
		b, err := assets.ReadFile("assets/" + name)
		if err != nil || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		ext := name[strings.LastIndexByte(name, '.'):]
		h.Set("Content-Type", contentTypes[ext])
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	})
}
