package threatintel_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/testutil/pgtest"
	"github.com/secureops/secureops/internal/threatintel"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	app    *db.DB
	super  *pgx.Conn
	loader *threatintel.Loader
}

func newEnv(t testing.TB) *env {
	t.Helper()
	d := pgtest.New(t)
	super, err := pgx.Connect(context.Background(), d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(context.Background()) })
	app := d.OpenApp(t)
	return &env{app: app, super: super, loader: &threatintel.Loader{DB: app}}
}

func (e *env) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	if err := e.super.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// epssFile builds an EPSS file in the real format: rows CVE-2020-00000… with
// scores written the way FIRST writes them (scientific notation included).
func epssFile(date string, rows int, gz bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#model_version:v2025.03.14,score_date:%sT12:55:00Z\ncve,epss,percentile\n", date)
	for i := 0; i < rows; i++ {
		e := float64(i%1000) / 1000
		s := fmt.Sprintf("%.5f", e)
		if i%7 == 0 {
			s = fmt.Sprintf("%ge-05", float64(i%9+1))
		}
		fmt.Fprintf(&b, "CVE-2020-%05d,%s,%.5f\n", i, s, float64(i)/float64(rows))
	}
	if !gz {
		return b.Bytes()
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	_, _ = w.Write(b.Bytes())
	_ = w.Close()
	return z.Bytes()
}

func TestParseEPSSScientificNotation(t *testing.T) {
	in := "#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\r\ncve,epss,percentile\r\nCVE-2024-0001,5e-05,0.00123\r\ncve-2024-0002,0.97,1.0\r\n"
	r, err := threatintel.NewEPSSReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.ModelVersion != "v2025.03.14" || !r.Header.ScoreDate.Equal(time.Date(2025, 8, 25, 12, 55, 0, 0, time.UTC)) {
		t.Fatalf("header %+v", r.Header)
	}
	a, err := r.Next()
	if err != nil || a.CVE != "CVE-2024-0001" || a.EPSS != float32(5e-05) || a.Percentile != float32(0.00123) {
		t.Fatalf("row 1: %+v %v", a, err)
	}
	b, err := r.Next()
	if err != nil || b.CVE != "CVE-2024-0002" || b.EPSS != float32(0.97) || b.Percentile != 1 {
		t.Fatalf("row 2: %+v %v", b, err)
	}
	for _, bad := range []string{
		"cve,epss,percentile\nCVE-2024-0001,0.1,0.1\n",                           // no comment line
		"#model_version:v1\ncve,epss,percentile\n",                               // no score_date
		"#score_date:2025-08-25T12:55:00Z\ncve,score\n",                          // wrong header
		"#score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\nCVE-1,0.1,0.2\n", // bad CVE
		"#score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\nCVE-2024-0001,1.5,0.2\n",
	} {
		r, err := threatintel.NewEPSSReader(strings.NewReader(bad))
		if err == nil {
			_, err = r.Next()
		}
		if err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseKEVLenient(t *testing.T) {
	c, err := threatintel.ParseKEV(strings.NewReader(`{"catalogVersion":"2026.01.02","dateReleased":"2026-01-02T10:00:00Z","count":1,"newField":[1],
		"vulnerabilities":[{"cveID":"CVE-2026-0001","dateAdded":"2026-01-02","knownRansomwareCampaignUse":"Known","extra":{"x":1}}]}`))
	if err != nil || len(c.Vulnerabilities) != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := threatintel.ParseKEV(strings.NewReader(`{"catalogVersion":"x","vulnerabilities":[{"cveID":"nope","dateAdded":"2026-01-02"}]}`)); err == nil {
		t.Error("accepted a bad CVE id")
	}
}

// The embedded catalogue loads whole (1,404 entries), and loading it again
// is a no-op.
func TestEmbeddedKEVLoads(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.loader.RefreshKEV(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != threatintel.StatusLoaded || res.Rows != 1404 || res.Version != "2025.08.25" {
		t.Fatalf("result %+v, want 1404 rows of 2025.08.25 loaded", res)
	}
	if n := e.count(t, "intel_kev"); n != 1404 {
		t.Fatalf("%d KEV rows", n)
	}
	var ransomware int
	_ = e.super.QueryRow(ctx, "SELECT count(*) FROM intel_kev WHERE known_ransomware").Scan(&ransomware)
	if ransomware != 293 {
		t.Errorf("%d entries known to ransomware, want 293", ransomware)
	}
	again, err := e.loader.RefreshKEV(ctx, "")
	if err != nil || again.Status != threatintel.StatusUnchanged {
		t.Fatalf("second load: %+v %v", again, err)
	}
	src, ok, err := e.loader.Source(ctx, threatintel.SourceKEV)
	if err != nil || !ok || src.Rows != 1404 || src.Version != "2025.08.25" || src.Url != threatintel.EmbeddedURL {
		t.Fatalf("source %+v %v %v", src, ok, err)
	}
	// The application role reads it in a tenant's scope, and cannot write it there.
	var tenant [16]byte
	tenant[0] = 1
	err = e.app.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM intel_kev").Scan(&n); err != nil || n != 1404 {
			return fmt.Errorf("tenant scope reads %d rows: %v", n, err)
		}
		tag, err := tx.Exec(ctx, "DELETE FROM intel_kev")
		if err != nil || tag.RowsAffected() != 0 {
			return fmt.Errorf("tenant scope deleted %d rows: %v", tag.RowsAffected(), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEPSSLoadSwapAndRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.loader.LoadEPSS(ctx, bytes.NewReader(epssFile("2025-08-25", 3000, true)), "test", "")
	if err != nil || res.Status != threatintel.StatusLoaded || res.Rows != 3000 || res.ModelVersion != "v2025.03.14" {
		t.Fatalf("first load: %+v %v", res, err)
	}
	var epss, pct float32
	if err := e.super.QueryRow(ctx, "SELECT epss, percentile FROM intel_epss WHERE cve = 'CVE-2020-00007'").Scan(&epss, &pct); err != nil || epss != float32(8e-05) {
		t.Fatalf("CVE-2020-00007: epss %v pct %v %v, want 8e-05 from scientific notation", epss, pct, err)
	}
	// A collapsed file (less than half) is refused; the old rows stay.
	_, err = e.loader.LoadEPSS(ctx, bytes.NewReader(epssFile("2025-08-26", 1400, false)), "test", "")
	if !errors.Is(err, threatintel.ErrRefused) || !strings.Contains(err.Error(), "less than half") {
		t.Fatalf("collapsed file: %v", err)
	}
	if n := e.count(t, "intel_epss"); n != 3000 {
		t.Fatalf("%d rows after a refused file, want the old 3000", n)
	}
	// An older file is refused.
	_, err = e.loader.LoadEPSS(ctx, bytes.NewReader(epssFile("2025-08-24", 3000, false)), "test", "")
	if !errors.Is(err, threatintel.ErrRefused) || !strings.Contains(err.Error(), "older") {
		t.Fatalf("older file: %v", err)
	}
	// A malformed row refuses the whole file.
	bad := append(epssFile("2025-08-27", 3000, false), []byte("CVE-2021-0001,oops,0.5\n")...)
	if _, err = e.loader.LoadEPSS(ctx, bytes.NewReader(bad), "test", ""); !errors.Is(err, threatintel.ErrRefused) {
		t.Fatalf("malformed file: %v", err)
	}
	src, _, _ := e.loader.Source(ctx, threatintel.SourceEPSS)
	if n := e.count(t, "intel_epss"); n != 3000 || !src.PublishedAt.Equal(time.Date(2025, 8, 25, 12, 55, 0, 0, time.UTC)) {
		t.Fatalf("%d rows, source %+v after refusals", n, src)
	}
	// The same date again: unchanged. A newer, smaller (but not collapsed)
	// file replaces every row.
	if res, err = e.loader.LoadEPSS(ctx, bytes.NewReader(epssFile("2025-08-25", 3000, false)), "test", ""); err != nil || res.Status != threatintel.StatusUnchanged {
		t.Fatalf("same date: %+v %v", res, err)
	}
	if res, err = e.loader.LoadEPSS(ctx, bytes.NewReader(epssFile("2025-08-26", 1600, false)), "test", ""); err != nil || res.Rows != 1600 {
		t.Fatalf("newer file: %+v %v", res, err)
	}
	if n := e.count(t, "intel_epss"); n != 1600 {
		t.Fatalf("%d rows after the swap, want 1600", n)
	}
}

// Downloads send If-None-Match; a 304 changes nothing; a 5xx is a retryable
// download error.
func TestRefreshEPSSWithETag(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var hits, conditional atomic.Int32
	fail := atomic.Bool{}
	file := epssFile("2025-08-25", 50, true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			conditional.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		_, _ = w.Write(file)
	}))
	defer srv.Close()
	res, err := e.loader.RefreshEPSS(ctx, srv.URL+"/epss.csv.gz")
	if err != nil || res.Status != threatintel.StatusLoaded || res.Rows != 50 {
		t.Fatalf("first refresh: %+v %v", res, err)
	}
	res, err = e.loader.RefreshEPSS(ctx, srv.URL+"/epss.csv.gz")
	if err != nil || res.Status != threatintel.StatusNotModified || conditional.Load() != 1 {
		t.Fatalf("second refresh: %+v %v (conditional %d)", res, err, conditional.Load())
	}
	fail.Store(true)
	if _, err = e.loader.RefreshEPSS(ctx, srv.URL+"/epss.csv.gz"); !errors.Is(err, threatintel.ErrDownload) {
		t.Fatalf("5xx: %v", err)
	}
	if res, _ := e.loader.RefreshEPSS(ctx, ""); res.Status != threatintel.StatusSkipped {
		t.Fatalf("no URL: %+v", res)
	}
}

// With a KEV_URL and nothing loaded yet, the embedded copy goes in first,
// then the download (newer) replaces it.
func TestRefreshKEVFirstStartThenURL(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	body := `{"catalogVersion":"2026.12.01","dateReleased":"2026-12-01T10:00:00Z","count":1500,"vulnerabilities":[`
	var parts []string
	for i := 0; i < 1500; i++ {
		parts = append(parts, fmt.Sprintf(`{"cveID":"CVE-2026-%05d","dateAdded":"2026-11-30","knownRansomwareCampaignUse":"Unknown"}`, i))
	}
	body += strings.Join(parts, ",") + "]}"
	var loadedBefore int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = e.super.QueryRow(context.Background(), "SELECT count(*) FROM intel_kev").Scan(&loadedBefore)
		w.Header().Set("ETag", `"k1"`)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	res, err := e.loader.RefreshKEV(ctx, srv.URL)
	if err != nil || res.Status != threatintel.StatusLoaded || res.Rows != 1500 || res.Previous != 1404 {
		t.Fatalf("refresh: %+v %v", res, err)
	}
	if loadedBefore != 1404 {
		t.Errorf("the embedded catalogue was not loaded before the download (%d rows)", loadedBefore)
	}
	// A collapsed catalogue is refused and the old one kept.
	small := `{"catalogVersion":"2026.12.02","dateReleased":"2026-12-02T10:00:00Z","vulnerabilities":[{"cveID":"CVE-2026-0001","dateAdded":"2026-12-02"}]}`
	if _, err := e.loader.LoadKEV(ctx, strings.NewReader(small), "x", ""); !errors.Is(err, threatintel.ErrRefused) {
		t.Fatalf("collapsed KEV: %v", err)
	}
	// An older catalogue is refused too.
	if _, err := e.loader.LoadKEV(ctx, bytes.NewReader(threatintel.EmbeddedKEV()), threatintel.EmbeddedURL, ""); !errors.Is(err, threatintel.ErrRefused) {
		t.Fatalf("older KEV: %v", err)
	}
	if n := e.count(t, "intel_kev"); n != 1500 {
		t.Fatalf("%d rows, want the 1500 kept", n)
	}
}
