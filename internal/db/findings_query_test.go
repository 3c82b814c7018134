package db_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

// listSeed is one finding of the listing fixture and the report it came in.
type listSeed struct {
	f      findings.Finding
	group  int // index into listGroups
	status string
	first  time.Time
	last   time.Time
}

// listGroups are the (scan target, report format, tool) a finding is reported
// by; the last one is a generic report naming another tool.
var listGroups = []struct{ scanTarget, reportedBy, scanner string }{
	{"example.com", "nmap", "nmap"},
	{"example.com", "nikto", "nikto"},
	{"10.0.0.5", "nmap", "nmap"},
	{"10.0.0.5", "generic", "trivy"},
}

func listSeeds() []listSeed {
	sevs := []findings.Severity{findings.SeverityCritical, findings.SeverityHigh, findings.SeverityMedium, findings.SeverityLow, findings.SeverityInfo}
	// Repeats on purpose (ties), and one value that needs all 17 digits.
	scores := []float64{9.8, 7.5, 5.3, 0, 7.5, 3.1, 10, 6.123456789012345, 0.1, 4.4}
	hosts := []string{"web-1.example.com", "db-1.example.com", "10.0.0.5"}
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var out []listSeed
	for i := 0; i < 50; i++ {
		g := i % len(listGroups)
		f := findings.Finding{
			Title: fmt.Sprintf("Finding %02d", i), Severity: sevs[(i*3)%5], CVSSScore: scores[(i*7)%10],
			Host: hosts[i%3], Port: 1000 + i, Protocol: "tcp", Scanner: listGroups[g].scanner, RuleID: fmt.Sprintf("rule-%02d", i),
		}
		if i%5 == 0 {
			f.CVEs = []string{fmt.Sprintf("cve-2024-%04d", 1000+i)} // lower case: ingest normalises
		}
		switch i {
		case 7:
			f.Title = "Outdated OpenSSL library"
		case 10, 25:
			f.CVEs = append(f.CVEs, "CVE-2023-4863")
		case 11:
			f.Description = "Server leaks the ORACLE banner"
		case 12:
			f.Component = "libxml2"
		case 13:
			f.Title = "Coverage 100% of pages"
		case 14:
			f.Title = "Coverage 1000 of pages" // matches "100%" only if % is a wildcard
		case 15:
			f.Title = "user_id leak"
		case 16:
			f.Title = "userXid leak" // matches "user_id" only if _ is a wildcard
		case 20:
			f.Component = "OpenSSL"
		}
		status := "new"
		switch i % 7 {
		case 0:
			status = "fixed"
		case 3:
			status = "false_positive"
		case 5:
			status = "accepted_risk"
		}
		out = append(out, listSeed{
			f: f, group: g, status: status,
			// Groups of three share last_seen_at; some differ by one microsecond.
			last: base.Add(time.Duration(i/3)*time.Minute + time.Duration((i/3)%2)*time.Microsecond),
			// i and i+34 share first_seen_at.
			first: base.Add(-time.Duration((i*5)%17)*time.Hour - time.Duration(i%2)*time.Microsecond),
		})
	}
	return out
}

// listed is a stored finding as the expected orders and filters see it.
type listed struct {
	id                                                         uuid.UUID
	title, severity, status, host, scanner, reportedBy, target string
	description, component                                     string
	cves                                                       []string
	cvss                                                       float64
	first, last                                                time.Time
	priority                                                   int     // -1: unset
	epss                                                       float32 // -1: unset
	kev                                                        bool
}

type listFixture struct {
	app    *db.DB
	tenant uuid.UUID
	rows   []listed // the tenant's findings
}

func newListFixture(t *testing.T) *listFixture {
	ctx := context.Background()
	d := pgtest.New(t)
	owner := ownerConn(t, d.SuperDSN)
	app := d.OpenApp(t)
	tid, other := seedTenant(t, owner, "lister"), seedTenant(t, owner, "other")
	ingest := func(tenant uuid.UUID, seeds []listSeed) {
		for g, grp := range listGroups {
			var fs []findings.Finding
			for _, s := range seeds {
				if s.group == g {
					fs = append(fs, s.f)
				}
			}
			scan := seedScan(t, owner, tenant)
			err := app.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
				_, err := db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: tenant, ScanID: scan, Scanner: grp.reportedBy, ScanTarget: grp.scanTarget, Findings: fs})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	seeds := listSeeds()
	ingest(tid, seeds)
	// The other tenant has look-alikes that match every filter and sort in
	// between; they must never be listed.
	ingest(other, listSeeds()[:26])

	var titles, statuses []string
	var firsts, lasts []time.Time
	for _, s := range seeds {
		titles, statuses = append(titles, s.f.Title), append(statuses, s.status)
		firsts, lasts = append(firsts, s.first), append(lasts, s.last)
	}
	tag, err := owner.Exec(ctx, `UPDATE findings f SET first_seen_at = u.first, last_seen_at = u.last, status = u.status
		FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[]) AS u(title, first, last, status)
		WHERE f.tenant_id = $1 AND f.title = u.title`, tid, titles, firsts, lasts, statuses)
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() != int64(len(seeds)) {
		t.Fatalf("timestamps set on %d findings, want %d", tag.RowsAffected(), len(seeds))
	}
	// EPSS scores with ties, some unset.
	if _, err := owner.Exec(ctx, `UPDATE findings SET kev = title LIKE '%5', epss = CASE WHEN title LIKE '%0' THEN NULL
		ELSE ((length(title) + ascii(right(title, 1))) % 4 * 0.25)::real END WHERE tenant_id = $1`, tid); err != nil {
		t.Fatal(err)
	}

	rows, err := owner.Query(ctx, `SELECT id, title, severity, status, host, scanner, reported_by, scan_target,
		description, component, cves, cvss_score, first_seen_at, last_seen_at, COALESCE(priority, -1), COALESCE(epss, -1), kev
		FROM findings WHERE tenant_id = $1`, tid)
	if err != nil {
		t.Fatal(err)
	}
	fx := &listFixture{app: app, tenant: tid}
	for rows.Next() {
		var r listed
		if err := rows.Scan(&r.id, &r.title, &r.severity, &r.status, &r.host, &r.scanner, &r.reportedBy, &r.target,
			&r.description, &r.component, &r.cves, &r.cvss, &r.first, &r.last, &r.priority, &r.epss, &r.kev); err != nil {
			t.Fatal(err)
		}
		fx.rows = append(fx.rows, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(fx.rows) != len(seeds) {
		t.Fatalf("%d findings stored, want %d", len(fx.rows), len(seeds))
	}
	var foreign int
	if err := owner.QueryRow(ctx, "SELECT count(*) FROM findings WHERE tenant_id = $1", other).Scan(&foreign); err != nil || foreign != 26 {
		t.Fatalf("other tenant has %d findings (%v), want 26", foreign, err)
	}
	return fx
}

// listAll follows the cursor to the end and checks the page contract.
func (fx *listFixture) listAll(t *testing.T, f db.FindingFilter) []dbq.Finding {
	t.Helper()
	ctx := context.Background()
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var all []dbq.Finding
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatalf("%+v: cursor does not advance", f)
		}
		var rows []dbq.Finding
		var next string
		err := fx.app.InTx(ctx, db.TenantScope(fx.tenant), func(ctx context.Context, tx pgx.Tx) error {
			// A zone far from UTC: cursors must not depend on the session.
			if _, err := tx.Exec(ctx, "SET LOCAL TimeZone = 'Asia/Kolkata'"); err != nil {
				return err
			}
			var err error
			rows, next, err = db.ListFindings(ctx, tx, f)
			return err
		})
		if err != nil {
			t.Fatalf("%+v page %d: %v", f, page, err)
		}
		switch {
		case len(rows) > limit:
			t.Fatalf("page %d has %d rows, limit %d", page, len(rows), limit)
		case next != "" && len(rows) != limit:
			t.Fatalf("page %d has %d rows and a next cursor, want a full page of %d", page, len(rows), limit)
		case next == "" && len(rows) == 0 && page > 0:
			t.Fatalf("page %d is empty: the previous page should have had no cursor", page)
		}
		for _, r := range rows {
			if r.TenantID != fx.tenant {
				t.Fatalf("listed %q of tenant %s", r.Title, r.TenantID)
			}
		}
		all = append(all, rows...)
		if next == "" {
			return all
		}
		f.Cursor = next
	}
}

// cmpSort is the order ListFindings promises: the sort key, then id (as
// PostgreSQL compares uuids, bytewise), both ascending.
func cmpSort(t *testing.T, key string, a, b listed) int {
	var c int
	switch key {
	case "last_seen_at":
		c = a.last.Compare(b.last)
	case "first_seen_at":
		c = a.first.Compare(b.first)
	case "severity":
		c = cmp.Compare(findings.Severity(a.severity).Rank(), findings.Severity(b.severity).Rank())
	case "cvss_score":
		c = cmp.Compare(a.cvss, b.cvss)
	case "priority":
		c = cmp.Compare(a.priority, b.priority)
	case "epss":
		c = cmp.Compare(a.epss, b.epss)
	default:
		t.Fatalf("sort %q has no expected order here: add it to this test", key)
	}
	if c == 0 {
		c = bytes.Compare(a.id[:], b.id[:])
	}
	return c
}

func (fx *listFixture) expect(t *testing.T, sortParam string, keep func(listed) bool) []listed {
	if sortParam == "" {
		sortParam = "-last_seen_at"
	}
	key, desc := strings.TrimPrefix(sortParam, "-"), strings.HasPrefix(sortParam, "-")
	var out []listed
	for _, r := range fx.rows {
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		c := cmpSort(t, key, out[i], out[j])
		if desc {
			return c > 0
		}
		return c < 0
	})
	return out
}

func assertOrder(t *testing.T, got []dbq.Finding, want []listed) {
	t.Helper()
	seen := map[uuid.UUID]bool{}
	for _, g := range got {
		if seen[g.ID] {
			t.Errorf("%q listed twice", g.Title)
		}
		seen[g.ID] = true
	}
	if len(got) != len(want) {
		t.Errorf("listed %d findings, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i].ID != want[i].id {
			t.Fatalf("position %d: %q, want %q\n got %v\nwant %v", i, got[i].Title, want[i].title, gotTitles(got), wantTitles(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("\n got %v\nwant %v", gotTitles(got), wantTitles(want))
	}
}

func gotTitles(fs []dbq.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Title
	}
	return out
}

func wantTitles(fs []listed) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.title
	}
	return out
}

// Every sort, both directions, paged through small pages, is the full order
// with ties broken by id: nothing missing, nothing twice.
func TestListFindingsKeysetPagination(t *testing.T) {
	fx := newListFixture(t)
	var sorts []string
	for key := range db.FindingSorts {
		sorts = append(sorts, key, "-"+key)
		// Ties make the id tie-break and the cursor's second column matter.
		ties := 0
		for i := range fx.rows {
			for j := i + 1; j < len(fx.rows); j++ {
				if sameKey(key, fx.rows[i], fx.rows[j]) {
					ties++
				}
			}
		}
		if ties == 0 {
			t.Fatalf("fixture has no ties on %s", key)
		}
	}
	slices.Sort(sorts)
	sorts = append([]string{""}, sorts...) // the default
	for _, s := range sorts {
		for _, limit := range []int{4, 5, 49, 50} {
			t.Run(fmt.Sprintf("sort=%q/limit=%d", s, limit), func(t *testing.T) {
				assertOrder(t, fx.listAll(t, db.FindingFilter{Sort: s, Limit: limit}), fx.expect(t, s, nil))
			})
		}
	}
	// No limit: the default page (100) holds all 50, without a cursor.
	if got := fx.listAll(t, db.FindingFilter{}); len(got) != len(fx.rows) {
		t.Errorf("default limit listed %d, want %d", len(got), len(fx.rows))
	}
}

func sameKey(key string, a, b listed) bool {
	switch key {
	case "last_seen_at":
		return a.last.Equal(b.last)
	case "first_seen_at":
		return a.first.Equal(b.first)
	case "severity":
		return a.severity == b.severity
	case "cvss_score":
		return a.cvss == b.cvss
	case "priority":
		return a.priority == b.priority
	case "epss":
		return a.epss == b.epss
	}
	return false
}

func TestListFindingsFilters(t *testing.T) {
	fx := newListFixture(t)
	textHas := func(q string) func(listed) bool {
		q = strings.ToLower(q)
		return func(r listed) bool {
			return strings.Contains(strings.ToLower(r.title), q) || strings.Contains(strings.ToLower(r.description), q) ||
				strings.Contains(strings.ToLower(r.component), q)
		}
	}
	cases := []struct {
		name   string
		filter db.FindingFilter
		keep   func(listed) bool
		want   []string // titles, when the case is about specific findings
		empty  bool
	}{
		{name: "epss at least", filter: db.FindingFilter{EPSSMin: ptr(0.5)},
			keep: func(r listed) bool { return r.epss >= 0.5 }},
		{name: "not in KEV", filter: db.FindingFilter{KEV: ptr(false)}, keep: func(r listed) bool { return !r.kev }},
		{name: "in KEV", filter: db.FindingFilter{KEV: ptr(true), Sort: "-priority"}, keep: func(r listed) bool { return r.kev }},
		{name: "one severity", filter: db.FindingFilter{Severities: []string{"critical"}},
			keep: func(r listed) bool { return r.severity == "critical" }},
		{name: "two severities", filter: db.FindingFilter{Severities: []string{"high", "low"}},
			keep: func(r listed) bool { return r.severity == "high" || r.severity == "low" }},
		{name: "one status", filter: db.FindingFilter{Statuses: []string{"fixed"}},
			keep: func(r listed) bool { return r.status == "fixed" }},
		{name: "two statuses", filter: db.FindingFilter{Statuses: []string{"false_positive", "accepted_risk"}},
			keep: func(r listed) bool { return r.status == "false_positive" || r.status == "accepted_risk" }},
		{name: "scan target", filter: db.FindingFilter{ScanTarget: "10.0.0.5"},
			keep: func(r listed) bool { return r.target == "10.0.0.5" }},
		{name: "unknown scan target", filter: db.FindingFilter{ScanTarget: "nothing.example"}, empty: true},
		{name: "host, any case", filter: db.FindingFilter{Host: "WEB-1.Example.COM"},
			keep: func(r listed) bool { return r.host == "web-1.example.com" }},
		{name: "scanner is the tool", filter: db.FindingFilter{Scanner: "trivy"},
			keep: func(r listed) bool { return r.scanner == "trivy" }},
		{name: "scanner is the report format", filter: db.FindingFilter{Scanner: "generic"},
			keep: func(r listed) bool { return r.reportedBy == "generic" }},
		{name: "scanner nikto", filter: db.FindingFilter{Scanner: "nikto"},
			keep: func(r listed) bool { return r.scanner == "nikto" || r.reportedBy == "nikto" }},
		{name: "cve, any case", filter: db.FindingFilter{CVE: "cve-2023-4863"},
			keep: func(r listed) bool { return slices.Contains(r.cves, "CVE-2023-4863") }, want: []string{"Finding 10", "Finding 25"}},
		{name: "cve of one finding", filter: db.FindingFilter{CVE: "CVE-2024-1005"}, want: []string{"Finding 05"},
			keep: func(r listed) bool { return slices.Contains(r.cves, "CVE-2024-1005") }},
		{name: "cve prefix is no match", filter: db.FindingFilter{CVE: "CVE-2024-100"}, empty: true},
		{name: "text in title and component", filter: db.FindingFilter{Text: "openssl"}, keep: textHas("openssl"),
			want: []string{"Outdated OpenSSL library", "Finding 20"}},
		{name: "text in description", filter: db.FindingFilter{Text: "oracle BANNER"}, keep: textHas("oracle banner"),
			want: []string{"Finding 11"}},
		{name: "text in component", filter: db.FindingFilter{Text: "LIBXML"}, keep: textHas("libxml"), want: []string{"Finding 12"}},
		{name: "text percent is literal", filter: db.FindingFilter{Text: "100%"}, keep: textHas("100%"),
			want: []string{"Coverage 100% of pages"}},
		{name: "text underscore is literal", filter: db.FindingFilter{Text: "user_id"}, keep: textHas("user_id"),
			want: []string{"user_id leak"}},
		{name: "text without match", filter: db.FindingFilter{Text: "no such finding anywhere"}, empty: true},
		{name: "filters combine with AND",
			filter: db.FindingFilter{Severities: []string{"info", "low"}, Host: "10.0.0.5", Statuses: []string{"new"}, Sort: "-cvss_score"},
			keep: func(r listed) bool {
				return (r.severity == "info" || r.severity == "low") && r.host == "10.0.0.5" && r.status == "new"
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.filter
			f.Limit = 3
			got := fx.listAll(t, f)
			if c.empty {
				if len(got) != 0 {
					t.Fatalf("listed %v, want nothing", gotTitles(got))
				}
				return
			}
			want := fx.expect(t, f.Sort, c.keep)
			if len(want) == 0 || len(want) == len(fx.rows) {
				t.Fatalf("fixture: %d of %d findings match, the case tests nothing", len(want), len(fx.rows))
			}
			if c.want != nil {
				w := slices.Sorted(slices.Values(c.want))
				if g := slices.Sorted(slices.Values(wantTitles(want))); !slices.Equal(g, w) {
					t.Fatalf("fixture: expected %v, the case says %v", g, w)
				}
			}
			assertOrder(t, got, want)
		})
	}
}

func TestListFindingsRejectsBadSortAndCursor(t *testing.T) {
	ctx := context.Background()
	fx := newListFixture(t)
	list := func(f db.FindingFilter) (string, error) {
		var next string
		err := fx.app.InTx(ctx, db.TenantScope(fx.tenant), func(ctx context.Context, tx pgx.Tx) error {
			var err error
			_, next, err = db.ListFindings(ctx, tx, f)
			return err
		})
		return next, err
	}
	for _, s := range []string{"title", "-title", "--severity", "id"} {
		_, err := list(db.FindingFilter{Sort: s})
		if err == nil || errors.Is(err, db.ErrBadCursor) || !strings.Contains(err.Error(), "unknown sort") {
			t.Errorf("sort %q: %v, want an unknown sort error", s, err)
		}
	}
	sevCursor, err := list(db.FindingFilter{Sort: "severity", Limit: 2})
	if err != nil || sevCursor == "" {
		t.Fatalf("first page: cursor %q, %v", sevCursor, err)
	}
	forge := func(v map[string]any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	id := uuid.New().String()
	cases := []struct {
		name, sort, cursor string
	}{
		{"not base64", "", "%%%"},
		{"not json", "", base64.RawURLEncoding.EncodeToString([]byte("not json"))},
		{"other direction", "-severity", sevCursor},
		{"other sort", "cvss_score", sevCursor},
		{"cursor of an unknown sort", "cvss_score", forge(map[string]any{"s": "title", "v": "1", "i": id})},
		{"number that is not one", "cvss_score", forge(map[string]any{"s": "cvss_score", "v": "abc", "i": id})},
		{"time that is not one", "-last_seen_at", forge(map[string]any{"s": "-last_seen_at", "v": "yesterday", "i": id})},
		{"time not RFC 3339", "-last_seen_at", forge(map[string]any{"s": "-last_seen_at", "v": "2025-03-01 12:00:00", "i": id})},
		{"empty value", "severity", forge(map[string]any{"s": "severity", "v": "", "i": id})},
	}
	for _, c := range cases {
		if _, err := list(db.FindingFilter{Sort: c.sort, Cursor: c.cursor}); !errors.Is(err, db.ErrBadCursor) {
			t.Errorf("%s: %v, want ErrBadCursor", c.name, err)
		}
	}
	// The cursor still works for the sort that issued it.
	if _, err := list(db.FindingFilter{Sort: "severity", Limit: 2, Cursor: sevCursor}); err != nil {
		t.Errorf("own cursor: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
