package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// The contract is written by hand in openapi.yaml and embedded; the JSON the
// API serves is derived from it once, keeping the author's key order (tags,
// paths and properties appear in the docs in the order they are written).
//
//go:embed openapi.yaml
var specYAML []byte

// docsAssets holds the API reference renderer, vendored from npm (see
// docs/README.md for its origin and how to refresh it) so /docs works offline
// and loads nothing from a CDN.
//
//go:embed docs/redoc.standalone.js docs/redoc.standalone.js.LICENSE.txt
var docsAssets embed.FS

const (
	// OpenAPIPath is where the API serves its OpenAPI document.
	OpenAPIPath = "/api/v1/openapi.json"
	// DocsPath is the rendered reference; its assets live under DocsPath + "/".
	DocsPath = "/docs"

	redocAsset   = "redoc.standalone.js"
	redocLicense = "redoc.standalone.js.LICENSE.txt"
)

var specJSON = sync.OnceValues(func() ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(specYAML, &root); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	var buf bytes.Buffer
	if err := yamlNodeJSON(&buf, &root); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return buf.Bytes(), nil
})

// OpenAPISpecJSON returns the embedded OpenAPI document as JSON. It is
// converted from YAML on the first call and cached; callers must not modify
// the returned slice.
func OpenAPISpecJSON() ([]byte, error) { return specJSON() }

var specOps = sync.OnceValues(func() (map[string]bool, error) {
	b, err := OpenAPISpecJSON()
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("openapi paths: %w", err)
	}
	ops := map[string]bool{}
	for path, item := range doc.Paths {
		for key := range item {
			switch key {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				ops[strings.ToUpper(key)+" "+path] = true
			}
		}
	}
	return ops, nil
})

// SpecOperations lists every operation the document declares, keyed
// "METHOD /path/{param}" (for example "POST /api/v1/scans"), so a test can
// compare the contract with the router's route table. The map is shared:
// callers must not modify it.
func SpecOperations() (map[string]bool, error) { return specOps() }

// yamlNodeJSON writes a YAML node as JSON, keeping mapping order. Only what
// JSON can express is accepted: string keys, no merge keys.
func yamlNodeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: want exactly one document", n.Line)
		}
		return yamlNodeJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return yamlNodeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return fmt.Errorf("line %d: only scalar keys are supported", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			key, _ := json.Marshal(k.Value)
			buf.Write(key)
			buf.WriteByte(':')
			if err := yamlNodeJSON(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := yamlNodeJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		var v any
		switch n.Tag {
		case "!!str", "!!timestamp", "!!binary":
			v = n.Value
		case "!!null":
			v = nil
		default: // !!bool, !!int, !!float
			if err := n.Decode(&v); err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(b)
		return nil
	}
	return fmt.Errorf("line %d: unsupported YAML node kind %d", n.Line, n.Kind)
}

// etagOf is a strong validator for a fixed body.
func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// notModified answers 304 when the client already holds this version.
func notModified(w http.ResponseWriter, r *http.Request, etag string) bool {
	for _, t := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if t = strings.TrimSpace(t); t == etag || t == "W/"+etag || t == "*" {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

// plainProblem keeps these handlers independent of the rest of the package:
// they are mounted outside the API middleware and must never fail to build.
func plainProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status,
		"detail": detail, "instance": r.URL.Path,
	})
}

// ServeOpenAPI serves the OpenAPI document as JSON. The document is public
// (it is the contract, not data), so any origin may read it.
func ServeOpenAPI(w http.ResponseWriter, r *http.Request) {
	b, err := OpenAPISpecJSON()
	if err != nil {
		slog.ErrorContext(r.Context(), "openapi document", "error", err)
		plainProblem(w, r, http.StatusInternalServerError, "the API description is unavailable")
		return
	}
	h := w.Header()
	etag := etagOf(b)
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("X-Content-Type-Options", "nosniff")
	if notModified(w, r, etag) {
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// docsAsset is one embedded file with its precomputed validators.
type docsAsset struct {
	body, gz    []byte
	etag        string
	contentType string
}

var docsFiles = sync.OnceValue(func() map[string]*docsAsset {
	files := map[string]string{
		redocAsset:   "text/javascript; charset=utf-8",
		redocLicense: "text/plain; charset=utf-8",
	}
	out := make(map[string]*docsAsset, len(files))
	for name, ct := range files {
		b, err := docsAssets.ReadFile("docs/" + name)
		if err != nil {
			panic("api: embedded docs asset missing: " + err.Error()) // caught by the tests
		}
		a := &docsAsset{body: b, etag: etagOf(b), contentType: ct}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		a.gz = gz.Bytes()
		out[name] = a
	}
	return out
})

// docsPageTmpl is the HTML shell: Redoc's standalone bundle finds the <redoc>
// element and renders the document from spec-url. There is no inline script.
var docsPageTmpl = template.Must(template.New("docs").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SecureOps API reference</title>
<style>body{margin:0;padding:0}</style>
</head>
<body>
<redoc spec-url="{{.SpecURL}}" required-props-first="true" path-in-middle-panel="true" expand-responses="200,202" hide-hostname="true"></redoc>
<noscript><p>This page needs JavaScript. The API description itself is at <a href="{{.SpecURL}}">{{.SpecURL}}</a>.</p></noscript>
<script src="{{.ScriptURL}}"></script>
</body>
</html>
`))

// docsCSP allows exactly what the renderer needs: its own script, the
// document fetched from this origin, the search-index worker it starts from a
// blob: URL, and inline styles. The styles cannot use a nonce: Redoc's
// styled-components reads it from an element attribute, which browsers hide
// once a CSP header is present (measured with Chromium: the page then fails
// to render). Scripts stay strict, which is what matters against injection.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsPage is rendered once: it depends only on the embedded asset.
var docsPage = sync.OnceValues(func() ([]byte, error) {
	script := docsFiles()[redocAsset]
	var buf bytes.Buffer
	err := docsPageTmpl.Execute(&buf, map[string]string{
		"SpecURL":   OpenAPIPath,
		"ScriptURL": DocsPath + "/" + redocAsset + "?v=" + strings.Trim(script.etag, `"`),
	})
	return buf.Bytes(), err
})

// ServeDocs serves the API reference page at /docs (and /docs/) and its
// embedded assets at /docs/<file>. Mount it for both "/docs" and "/docs/*".
func ServeDocs(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, DocsPath), "/")
	if name == "" || name == "index.html" {
		serveDocsPage(w, r)
		return
	}
	a, ok := docsFiles()[name]
	if !ok {
		plainProblem(w, r, http.StatusNotFound, "no such documentation asset")
		return
	}
	h := w.Header()
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept-Encoding")
	// The page links the asset with its hash in the query: that URL never
	// changes meaning, so browsers may keep it for a year.
	if r.URL.Query().Get("v") == strings.Trim(a.etag, `"`) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=3600")
	}
	if notModified(w, r, a.etag) {
		return
	}
	body := a.body
	if acceptsGzip(r) {
		body = a.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func serveDocsPage(w http.ResponseWriter, r *http.Request) {
	page, err := docsPage()
	if err != nil {
		slog.ErrorContext(r.Context(), "docs page", "error", err)
		plainProblem(w, r, http.StatusInternalServerError, "the documentation page is unavailable")
		return
	}
	h := w.Header()
	etag := etagOf(page)
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-cache") // revalidate: a deploy may change the asset it links
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if notModified(w, r, etag) {
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(page)
	}
}

// acceptsGzip reports whether the client accepts gzip with a non-zero q.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}
