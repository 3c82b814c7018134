package threatintel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// Source names (intel_sources.name).
const (
	SourceKEV  = "kev"
	SourceEPSS = "epss"
)

// EmbeddedURL is the url recorded for the embedded catalogue.
const EmbeddedURL = "embedded:known_exploited_vulnerabilities.json"

// Statuses of a refresh.
const (
	StatusLoaded      = "loaded"       // the file's rows replaced the old ones
	StatusUnchanged   = "unchanged"    // same version as loaded: nothing replaced
	StatusNotModified = "not_modified" // the server answered 304 to If-None-Match
	StatusSkipped     = "skipped"      // no URL configured
)

// Result is what one load or refresh of a source did.
type Result struct {
	Source       string `json:"source"`
	Status       string `json:"status"`
	Version      string `json:"version,omitempty"`
	ModelVersion string `json:"model_version,omitempty"`
	Rows         int    `json:"rows"`
	// Previous is the row count before a load.
	Previous int `json:"previous,omitempty"`
}

// ErrRefused is a file that was downloaded and parsed but not loaded: it is
// malformed, its row count collapsed or its date went backwards. The old
// data stays; retrying the same file changes nothing.
var ErrRefused = errors.New("intel file refused")

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// MinKeptRows: a file is refused when it holds less than half the rows of
// the current data, once the current data holds more than this.
const MinKeptRows = 1000

// Loader loads the intel tables (platform scope) and downloads their files.
type Loader struct {
	DB *db.DB
	// HTTP downloads the files; nil means a client with a 5-minute timeout.
	HTTP *http.Client
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

var platform = db.Scope{PlatformAdmin: true}

func (l *Loader) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Loader) client() *http.Client {
	if l.HTTP != nil {
		return l.HTTP
	}
	return &http.Client{Timeout: 5 * time.Minute}
}

// Source reads a source's row; ok false when it was never loaded.
func (l *Loader) Source(ctx context.Context, name string) (src dbq.IntelSource, ok bool, err error) {
	err = l.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		src, err = db.Q.IntelSourceGet(ctx, tx, name)
		return err
	})
	if db.IsNotFound(err) {
		return src, false, nil
	}
	return src, err == nil, err
}

// checkDate refuses a file older than the loaded one; one of the same date
// is unchanged (true): nothing to load.
func checkDate(name string, cur dbq.IntelSource, curRows int, date time.Time) (bool, error) {
	if cur.PublishedAt == nil || date.IsZero() {
		return false, nil
	}
	if date.Before(*cur.PublishedAt) {
		return false, refused("%s file dated %s is older than the loaded one (%s)", name,
			date.UTC().Format(time.RFC3339), cur.PublishedAt.UTC().Format(time.RFC3339))
	}
	return date.Equal(*cur.PublishedAt) && curRows > 0, nil
}

// checkRows refuses an empty file, and one holding less than half the
// current rows once those are more than MinKeptRows.
func checkRows(name string, curRows, newRows int) error {
	if newRows == 0 {
		return refused("%s file holds no rows", name)
	}
	if curRows > MinKeptRows && newRows*2 < curRows {
		return refused("%s file holds %d rows, less than half of the %d loaded", name, newRows, curRows)
	}
	return nil
}

// LoadKEV replaces the KEV catalogue with the one in r, unless it is older
// than (or the same version as) the loaded one, or collapsed.
func (l *Loader) LoadKEV(ctx context.Context, r io.Reader, url, etag string) (Result, error) {
	res := Result{Source: SourceKEV}
	c, err := ParseKEV(r)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	res.Version = c.CatalogVersion
	date := c.DateReleased
	if date.IsZero() {
		date, _ = time.Parse("2006.01.02", c.CatalogVersion)
	}
	rows := make([]dbq.IntelKEVStageCopyParams, 0, len(c.Vulnerabilities))
	for _, v := range c.Vulnerabilities {
		added, _ := time.Parse(time.DateOnly, v.DateAdded)
		due := pgtype.Date{}
		if t, err := time.Parse(time.DateOnly, v.DueDate); err == nil {
			due = pgtype.Date{Time: t, Valid: true}
		}
		cwes := v.CWEs
		if cwes == nil {
			cwes = []string{}
		}
		rows = append(rows, dbq.IntelKEVStageCopyParams{
			CveID: v.CVEID, Vendor: clean(v.VendorProject), Product: clean(v.Product), Name: clean(v.VulnerabilityName),
			Description: clean(v.ShortDescription), RequiredAction: clean(v.RequiredAction),
			DateAdded: pgtype.Date{Time: added, Valid: true}, DueDate: due,
			KnownRansomware: strings.EqualFold(v.KnownRansomwareCampaignUse, "Known"), Notes: clean(v.Notes), Cwes: cwes,
		})
	}
	err = l.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		cur, err := db.Q.IntelSourceGet(ctx, tx, SourceKEV)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		n, err := db.Q.IntelKEVCount(ctx, tx)
		if err != nil {
			return err
		}
		res.Previous = int(n)
		same, err := checkDate("KEV", cur, int(n), date)
		if err != nil {
			return err
		}
		if !same {
			err = checkRows("KEV", int(n), len(rows))
		}
		if err != nil {
			return err
		}
		if same {
			res.Status, res.Rows = StatusUnchanged, int(n)
			return db.Q.IntelSourceChecked(ctx, tx, dbq.IntelSourceCheckedParams{Name: SourceKEV, Url: url, Etag: etag})
		}
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE intel_kev_stage (LIKE public.intel_kev_stage) ON COMMIT DROP"); err != nil {
			return fmt.Errorf("create KEV stage: %w", err)
		}
		if _, err := db.Q.IntelKEVStageCopy(ctx, tx, rows); err != nil {
			return fmt.Errorf("copy KEV: %w", err)
		}
		if _, err := db.Q.IntelKEVDeleteAll(ctx, tx); err != nil {
			return err
		}
		loaded, err := db.Q.IntelKEVInsertFromStage(ctx, tx)
		if err != nil {
			return fmt.Errorf("swap KEV: %w", err)
		}
		res.Status, res.Rows = StatusLoaded, int(loaded)
		return db.Q.IntelSourcePut(ctx, tx, dbq.IntelSourcePutParams{
			Name: SourceKEV, Url: url, Etag: etag, Version: c.CatalogVersion, PublishedAt: timePtr(date), Rows: int32(loaded),
		})
	})
	return res, err
}

// epssSource feeds COPY from the file as it is read.
type epssSource struct {
	r   *EPSSReader
	row EPSSRow
	n   int
	err error
}

func (s *epssSource) Next() bool {
	row, err := s.r.Next()
	if err != nil {
		if err != io.EOF {
			s.err = err
		}
		return false
	}
	s.row = row
	s.n++
	return true
}

func (s *epssSource) Values() ([]any, error) {
	return []any{s.row.CVE, s.row.EPSS, s.row.Percentile}, nil
}

func (s *epssSource) Err() error { return s.err }

// LoadEPSS streams an EPSS file (gzip or plain) through COPY into a stage and
// swaps it in within one transaction, unless it is older than (or as old as)
// the loaded scores, malformed, or collapsed.
func (l *Loader) LoadEPSS(ctx context.Context, r io.Reader, url, etag string) (Result, error) {
	res := Result{Source: SourceEPSS}
	er, err := NewEPSSReader(r)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	defer er.Close()
	res.Version = er.Header.ScoreDate.Format(time.RFC3339)
	res.ModelVersion = er.Header.ModelVersion
	err = l.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		cur, err := db.Q.IntelSourceGet(ctx, tx, SourceEPSS)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		n, err := db.Q.IntelEPSSCount(ctx, tx)
		if err != nil {
			return err
		}
		res.Previous = int(n)
		// The date is known before a row is read: an old file is refused
		// without being copied.
		same, err := checkDate("EPSS", cur, int(n), er.Header.ScoreDate)
		if err != nil {
			return err
		}
		if same {
			res.Status, res.Rows = StatusUnchanged, int(n)
			return db.Q.IntelSourceChecked(ctx, tx, dbq.IntelSourceCheckedParams{Name: SourceEPSS, Url: url, Etag: etag})
		}
		if _, err := tx.Exec(ctx, "SET LOCAL work_mem = '64MB'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE intel_epss_stage (LIKE public.intel_epss_stage) ON COMMIT DROP"); err != nil {
			return fmt.Errorf("create EPSS stage: %w", err)
		}
		src := &epssSource{r: er}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", "intel_epss_stage"}, []string{"cve", "epss", "percentile"}, src); err != nil {
			if src.err != nil {
				return fmt.Errorf("%w: %v", ErrRefused, src.err)
			}
			return fmt.Errorf("copy EPSS: %w", err)
		}
		if err := checkRows("EPSS", int(n), src.n); err != nil {
			return err
		}
		if _, err := db.Q.IntelEPSSDeleteAll(ctx, tx); err != nil {
			return err
		}
		loaded, err := db.Q.IntelEPSSInsertFromStage(ctx, tx)
		if err != nil {
			return fmt.Errorf("swap EPSS: %w", err)
		}
		res.Status, res.Rows = StatusLoaded, int(loaded)
		return db.Q.IntelSourcePut(ctx, tx, dbq.IntelSourcePutParams{
			Name: SourceEPSS, Url: url, Etag: etag, Version: res.Version, ModelVersion: er.Header.ModelVersion,
			PublishedAt: timePtr(er.Header.ScoreDate), Rows: int32(loaded),
		})
	})
	return res, err
}

// RefreshKEV brings the catalogue up to date. Without a URL (dev, test) it
// loads the embedded copy, which is a no-op once loaded; with one, a
// deployment whose catalogue was never loaded loads the embedded copy first
// (findings get KEV data even when the download fails), then downloads the
// URL with If-None-Match.
func (l *Loader) RefreshKEV(ctx context.Context, url string) (Result, error) {
	cur, loaded, err := l.Source(ctx, SourceKEV)
	if err != nil {
		return Result{Source: SourceKEV}, err
	}
	if url == "" || !loaded {
		res, err := l.LoadKEV(ctx, bytes.NewReader(embeddedKEV), EmbeddedURL, "")
		if url == "" || err != nil {
			return res, err
		}
		cur, _, err = l.Source(ctx, SourceKEV)
		if err != nil {
			return res, err
		}
	}
	etag := cur.Etag
	if cur.Url != url {
		etag = "" // a validator of another URL means nothing here
	}
	body, newTag, notModified, err := l.fetch(ctx, url, etag)
	if err != nil {
		return Result{Source: SourceKEV}, err
	}
	if notModified {
		return l.notModified(ctx, SourceKEV, url, cur)
	}
	defer body.Close()
	return l.LoadKEV(ctx, body, url, newTag)
}

// RefreshEPSS downloads the EPSS file with If-None-Match and loads it; no
// URL (dev, test) skips it.
func (l *Loader) RefreshEPSS(ctx context.Context, url string) (Result, error) {
	if url == "" {
		return Result{Source: SourceEPSS, Status: StatusSkipped}, nil
	}
	cur, _, err := l.Source(ctx, SourceEPSS)
	if err != nil {
		return Result{Source: SourceEPSS}, err
	}
	etag := cur.Etag
	if cur.Url != url {
		etag = ""
	}
	body, newTag, notModified, err := l.fetch(ctx, url, etag)
	if err != nil {
		return Result{Source: SourceEPSS}, err
	}
	if notModified {
		return l.notModified(ctx, SourceEPSS, url, cur)
	}
	defer body.Close()
	return l.LoadEPSS(ctx, body, url, newTag)
}

func (l *Loader) notModified(ctx context.Context, name, url string, cur dbq.IntelSource) (Result, error) {
	err := l.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.IntelSourceChecked(ctx, tx, dbq.IntelSourceCheckedParams{Name: name, Url: url, Etag: cur.Etag})
	})
	return Result{Source: name, Status: StatusNotModified, Version: cur.Version, ModelVersion: cur.ModelVersion, Rows: int(cur.Rows)}, err
}

// MaxDownload bounds a downloaded file (the EPSS gzip is ≈ 2 MB, KEV ≈ 1.3 MB).
const MaxDownload = 256 << 20

// ErrDownload is a download that failed (network, 5xx, 4xx); Temporal retries it.
var ErrDownload = errors.New("intel download failed")

// fetch GETs url with If-None-Match: etag. notModified on 304.
func (l *Loader) fetch(ctx context.Context, url, etag string) (body io.ReadCloser, newTag string, notModified bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", false, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	req.Header.Set("User-Agent", "SecureOps-Intel/1")
	resp, err := l.client().Do(req)
	if err != nil {
		return nil, "", false, fmt.Errorf("%w: GET %s: %v", ErrDownload, url, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		resp.Body.Close()
		return nil, "", true, nil
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, "", false, fmt.Errorf("%w: GET %s: %s", ErrDownload, url, resp.Status)
	}
	return readCloser{io.LimitReader(resp.Body, MaxDownload), resp.Body}, resp.Header.Get("ETag"), false, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	return &t
}

// clean makes catalogue text storable (no NUL, valid UTF-8).
func clean(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
