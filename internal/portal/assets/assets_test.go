package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// readmeSums parses the "Vendored files" table of README.md into
// file ("vendor/x.js") -> sha256 hex.
func readmeSums(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(vendor/[^`]+)` \\|")
	hexSum := regexp.MustCompile("`([0-9a-f]{64})`")
	sums := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		h := hexSum.FindAllStringSubmatch(line, -1)
		if len(h) != 1 {
			t.Fatalf("README row for %s: want exactly one sha256, found %d: %s", m[1], len(h), line)
		}
		sums[m[1]] = h[0][1]
	}
	return sums
}

func TestVendoredFilesMatchREADME(t *testing.T) {
	sums := readmeSums(t)
	if len(sums) == 0 {
		t.Fatal("README.md lists no vendored files")
	}
	vendored, err := fs.Glob(files, "vendor/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range vendored {
		want, ok := sums[name]
		if !ok {
			t.Errorf("%s is embedded but not listed in README.md (run scripts/vendor-web-assets.sh)", name)
			continue
		}
		b, _ := files.ReadFile(name)
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: sha256 %s, README.md records %s; vendored files must come from scripts/vendor-web-assets.sh unmodified", name, got, want)
		}
		if _, err := os.Stat(name + ".LICENSE"); err != nil {
			t.Errorf("%s: licence file missing: %v", name, err)
		}
	}
	for name := range sums {
		if _, err := fs.Stat(files, name); err != nil {
			t.Errorf("README.md lists %s, which is not embedded", name)
		}
	}
}

func TestGzippedTotalUnderBudget(t *testing.T) {
	const budget = 150 * 1024
	total, plain := 0, 0
	for name, a := range byName {
		n := len(a.plain)
		if a.gz != nil {
			n = len(a.gz)
		}
		t.Logf("%-28s %7d B plain %7d B gzip", name, len(a.plain), n)
		total += n
		plain += len(a.plain)
	}
	t.Logf("total: %d B (%.1f KiB) gzipped, %d B plain, budget %d B", total, float64(total)/1024, plain, budget)
	if total >= budget {
		t.Errorf("gzipped CSS+JS total %d B, want < %d B", total, budget)
	}
}

func TestHandler(t *testing.T) {
	srv := http.StripPrefix(Prefix, Handler())
	names := []string{"app.css", "app.js", "vendor/htmx.min.js", "vendor/htmx-ext-sse.min.js", "vendor/chart.umd.min.js", "vendor/pico.min.css"}
	if len(names) != len(byName) {
		t.Fatalf("test covers %d files, %d embedded: update the list", len(names), len(byName))
	}
	for _, name := range names {
		want, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		wantCT := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[path.Ext(name)]

		for _, gz := range []bool{false, true} {
			req := httptest.NewRequest(http.MethodGet, Path(name), nil)
			if gz {
				req.Header.Set("Accept-Encoding", "br, gzip, deflate")
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s gzip=%v: status %d", name, gz, res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != wantCT {
				t.Errorf("%s: Content-Type %q, want %q", name, ct, wantCT)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("%s: Cache-Control %q", name, cc)
			}
			if v := res.Header.Get("Vary"); v != "Accept-Encoding" {
				t.Errorf("%s: Vary %q", name, v)
			}
			body := rec.Body.Bytes()
			ce := res.Header.Get("Content-Encoding")
			switch {
			case gz && ce == "gzip":
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			case gz && byName[name].gz != nil:
				t.Errorf("%s: asked for gzip, got Content-Encoding %q", name, ce)
			case !gz && ce != "":
				t.Errorf("%s: gzip not accepted, got Content-Encoding %q", name, ce)
			}
			if !bytes.Equal(body, want) {
				t.Errorf("%s gzip=%v: body differs from the embedded file", name, gz)
			}
		}
	}

	for _, target := range []string{"/assets/nope.js", "/assets/vendor/htmx.min.js.LICENSE", "/assets/README.md", "/assets/", "/assets/vendor/"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, rec.Code)
		}
	}

	// A refused gzip (q=0) gets the plain body; a revalidation gets 304.
	req := httptest.NewRequest(http.MethodGet, "/assets/app.js", nil)
	req.Header.Set("Accept-Encoding", "gzip;q=0, *")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if ce := rec.Header().Get("Content-Encoding"); ce != "" {
		t.Errorf("gzip;q=0: Content-Encoding %q", ce)
	}
	req = httptest.NewRequest(http.MethodGet, "/assets/app.js", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match: status %d, %d body bytes; want 304, empty", rec.Code, rec.Body.Len())
	}
}

func TestPath(t *testing.T) {
	b, _ := files.ReadFile("vendor/htmx.min.js")
	sum := sha256.Sum256(b)
	want := "/assets/vendor/htmx.min.js?v=" + hex.EncodeToString(sum[:])[:10]
	if got := Path("vendor/htmx.min.js"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	if !regexp.MustCompile(`^/assets/app\.css\?v=[0-9a-f]{10}$`).MatchString(Path("app.css")) {
		t.Errorf("Path(app.css) = %q", Path("app.css"))
	}
	for _, name := range []string{"htmx.min.js", "vendor/nope.js", "/assets/app.css", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Path(%q) did not panic", name)
				}
			}()
			Path(name)
		}()
	}
}
