// Package threatintel is the platform's threat intelligence: the CISA Known
// Exploited Vulnerabilities catalogue (a copy is embedded, so dev, tests and
// a fresh deployment have it offline) and FIRST's EPSS scores. It parses
// both formats, downloads them with ETag validation, loads them into
// Postgres (EPSS streamed through COPY into a stage and swapped in within
// one transaction), refuses a file whose row count collapses or whose date
// goes backwards, and re-prioritises open findings, recording the alert of
// each finding whose CVE newly entered KEV once.
package threatintel

import (
	"bufio"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

//go:embed data/known_exploited_vulnerabilities.json
var embeddedKEV []byte

// EmbeddedKEV is the catalogue shipped with the binary (see data/README.md).
func EmbeddedKEV() []byte { return embeddedKEV }

var cveRE = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// KEVCatalog is the catalogue's JSON. Unknown fields (newer schemas add
// some) are ignored.
type KEVCatalog struct {
	Title           string     `json:"title"`
	CatalogVersion  string     `json:"catalogVersion"`
	DateReleased    time.Time  `json:"dateReleased"`
	Count           int        `json:"count"`
	Vulnerabilities []KEVEntry `json:"vulnerabilities"`
}

// KEVEntry is one known exploited vulnerability.
type KEVEntry struct {
	CVEID                      string   `json:"cveID"`
	VendorProject              string   `json:"vendorProject"`
	Product                    string   `json:"product"`
	VulnerabilityName          string   `json:"vulnerabilityName"`
	DateAdded                  string   `json:"dateAdded"`
	ShortDescription           string   `json:"shortDescription"`
	RequiredAction             string   `json:"requiredAction"`
	DueDate                    string   `json:"dueDate"`
	KnownRansomwareCampaignUse string   `json:"knownRansomwareCampaignUse"`
	Notes                      string   `json:"notes"`
	CWEs                       []string `json:"cwes"`
}

// ParseKEV reads a catalogue and checks what loading relies on: a version,
// and every entry with a well-formed CVE id and date added.
func ParseKEV(r io.Reader) (KEVCatalog, error) {
	var c KEVCatalog
	if err := json.NewDecoder(r).Decode(&c); err != nil {
		return c, fmt.Errorf("KEV catalogue: %w", err)
	}
	if c.CatalogVersion == "" {
		return c, errors.New("KEV catalogue: no catalogVersion")
	}
	for i, v := range c.Vulnerabilities {
		if !cveRE.MatchString(v.CVEID) {
			return c, fmt.Errorf("KEV catalogue: entry %d: cveID %q is not a CVE id", i, v.CVEID)
		}
		if _, err := time.Parse(time.DateOnly, v.DateAdded); err != nil {
			return c, fmt.Errorf("KEV catalogue: %s: dateAdded %q: want YYYY-MM-DD", v.CVEID, v.DateAdded)
		}
	}
	return c, nil
}

// EPSSHeader is the comment line that starts an EPSS file:
// #model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z
type EPSSHeader struct {
	ModelVersion string
	ScoreDate    time.Time
}

// EPSSReader streams an EPSS CSV (gzip or plain): the comment line, the
// header cve,epss,percentile, then one row per CVE; scores may be written in
// scientific notation (5e-05).
type EPSSReader struct {
	Header EPSSHeader
	sc     *bufio.Scanner
	line   int
	closer io.Closer
}

// NewEPSSReader reads the file's first two lines; a gzip stream is detected
// by its magic bytes.
func NewEPSSReader(r io.Reader) (*EPSSReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	er := &EPSSReader{}
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("EPSS file: %w", err)
		}
		er.closer = gz
		er.sc = bufio.NewScanner(gz)
	} else {
		er.sc = bufio.NewScanner(br)
	}
	er.sc.Buffer(make([]byte, 64<<10), 1<<20)
	first, ok := er.next()
	if !ok {
		return nil, fmt.Errorf("EPSS file: empty%s", er.errSuffix())
	}
	h, err := parseEPSSHeader(first)
	if err != nil {
		return nil, err
	}
	er.Header = h
	cols, ok := er.next()
	if !ok || strings.ReplaceAll(strings.ToLower(strings.TrimSpace(cols)), " ", "") != "cve,epss,percentile" {
		return nil, fmt.Errorf("EPSS file: line 2 is %q, want the header cve,epss,percentile", cols)
	}
	return er, nil
}

func (er *EPSSReader) next() (string, bool) {
	if !er.sc.Scan() {
		return "", false
	}
	er.line++
	return strings.TrimSuffix(er.sc.Text(), "\r"), true
}

func (er *EPSSReader) errSuffix() string {
	if err := er.sc.Err(); err != nil {
		return ": " + err.Error()
	}
	return ""
}

func parseEPSSHeader(line string) (EPSSHeader, error) {
	var h EPSSHeader
	if !strings.HasPrefix(line, "#") {
		return h, fmt.Errorf("EPSS file: line 1 is %q, want #model_version:…,score_date:…", truncate(line, 80))
	}
	for _, part := range strings.Split(strings.TrimPrefix(line, "#"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
		switch k {
		case "model_version":
			h.ModelVersion = v
		case "score_date":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				t, err = time.Parse(time.DateOnly, v)
			}
			if err != nil {
				return h, fmt.Errorf("EPSS file: score_date %q: want an RFC 3339 time", v)
			}
			h.ScoreDate = t.UTC()
		}
	}
	if h.ScoreDate.IsZero() {
		return h, errors.New("EPSS file: the first line names no score_date")
	}
	return h, nil
}

// EPSSRow is one CVE's score.
type EPSSRow struct {
	CVE        string
	EPSS       float32
	Percentile float32
}

// Next returns the next row; io.EOF at the end. A malformed row is an
// error naming its line: a file is loaded whole or not at all.
func (er *EPSSReader) Next() (EPSSRow, error) {
	for {
		line, ok := er.next()
		if !ok {
			if err := er.sc.Err(); err != nil {
				return EPSSRow{}, fmt.Errorf("EPSS file: line %d: %w", er.line+1, err)
			}
			return EPSSRow{}, io.EOF
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		cve, rest, ok1 := strings.Cut(line, ",")
		e, p, ok2 := strings.Cut(rest, ",")
		if !ok1 || !ok2 {
			return EPSSRow{}, fmt.Errorf("EPSS file: line %d: %q is not cve,epss,percentile", er.line, truncate(line, 80))
		}
		cve = strings.ToUpper(strings.TrimSpace(cve))
		if !cveRE.MatchString(cve) {
			return EPSSRow{}, fmt.Errorf("EPSS file: line %d: %q is not a CVE id", er.line, truncate(cve, 40))
		}
		ev, err1 := score(e)
		pv, err2 := score(p)
		if err1 != nil || err2 != nil {
			return EPSSRow{}, fmt.Errorf("EPSS file: line %d: scores %q, %q: want numbers from 0 to 1", er.line, truncate(e, 20), truncate(p, 20))
		}
		return EPSSRow{CVE: cve, EPSS: ev, Percentile: pv}, nil
	}
}

// score parses a probability, scientific notation included (5e-05).
func score(s string) (float32, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
	if err != nil || v < 0 || v > 1 || v != v {
		return 0, fmt.Errorf("bad score %q", s)
	}
	return float32(v), nil
}

// Close releases the gzip reader.
func (er *EPSSReader) Close() error {
	if er.closer != nil {
		return er.closer.Close()
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
