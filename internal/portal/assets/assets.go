// Package assets embeds the web portal's browser files (our app.css and
// app.js, and the vendored htmx, its SSE extension, Chart.js and Pico; see
// README.md and scripts/vendor-web-assets.sh) and serves them with long-lived
// caching and precompressed gzip bodies.
package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Prefix is the URL path under which Handler is mounted; callers strip it:
//
//	mux.Handle(assets.Prefix, http.StripPrefix(assets.Prefix, assets.Handler()))
const Prefix = "/assets/"

//go:embed vendor/*.js vendor/*.css app.css app.js
var files embed.FS

// contentTypes is explicit rather than mime.TypeByExtension, whose answer can
// depend on the host's /etc/mime.types.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

type asset struct {
	plain       []byte
	gz          []byte // nil when gzip would not be smaller
	contentType string
	version     string // first 10 hex digits of sha256(plain)
	etag        string
}

// byName maps names relative to the embed root ("app.css",
// "vendor/htmx.min.js") to the prepared assets. Built once at init and
// read-only afterwards.
var byName = mustLoad()

func mustLoad() map[string]*asset {
	m := map[string]*asset{}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("assets: no content type for %s", name)
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		a := &asset{
			plain:       b,
			contentType: ct,
			version:     hex.EncodeToString(sum[:])[:10],
			etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
		}
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(b); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if buf.Len() < len(b) {
			a.gz = buf.Bytes()
		}
		m[name] = a
		return nil
	})
	if err != nil {
		panic(err)
	}
	return m
}

// Path returns the URL of the named asset ("app.css", "vendor/htmx.min.js")
// with a ?v= content hash for cache-busting. It panics for an unknown name,
// so a typo in a template fails when the templates are first executed rather
// than as a broken page.
func Path(name string) string {
	a, ok := byName[name]
	if !ok {
		panic(fmt.Sprintf("assets.Path: no asset %q", name))
	}
	return Prefix + name + "?v=" + a.version
}

// Handler serves the embedded files. The caller strips Prefix from the URL
// path; the query string (Path's ?v=) is ignored. Responses are cacheable for
// a year as immutable, and gzip-encoded when the client accepts gzip.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, ok := byName[strings.TrimPrefix(r.URL.Path, "/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept-Encoding")
	body := a.plain
	etag := a.etag
	if a.gz != nil && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
		etag = strings.TrimSuffix(etag, `"`) + `-gz"`
	}
	h.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// acceptsGzip reports whether Accept-Encoding accepts gzip: listed (or
// covered by *) with a non-zero q-value; an explicit gzip entry overrides *.
func acceptsGzip(values []string) bool {
	gzip, star := 0, 0 // 0 unmentioned, 1 accepted, -1 refused (q=0)
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			verdict := 1
			if qZero(params) {
				verdict = -1
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzip = verdict
			case "*":
				star = verdict
			}
		}
	}
	if gzip != 0 {
		return gzip > 0
	}
	return star > 0
}

func qZero(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
