package threatintel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/activities/email"
	"github.com/secureops/secureops/internal/contract/intel"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/threatintel"
	"github.com/secureops/secureops/internal/webhookwire"
)

func (e *env) tenant(t testing.TB, slug string, settings string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := e.super.QueryRow(context.Background(),
		"INSERT INTO tenants (slug, name, status, settings) VALUES ($1, $1, 'active', $2::jsonb) RETURNING id", slug, settings).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) ingest(t testing.TB, tenant uuid.UUID, fs []findings.Finding) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	scan := uuid.New()
	if _, err := e.super.Exec(ctx, "INSERT INTO scans (id, tenant_id, target, scanners, workflow_id) VALUES ($1, $2, 'example.com', '{trivy}', $3)",
		scan, tenant, "scan/"+scan.String()); err != nil {
		t.Fatal(err)
	}
	err := e.app.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: tenant, ScanID: scan, Scanner: "trivy", ScanTarget: "example.com", Findings: fs})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return scan
}

type stored struct {
	kev       bool
	kevDate   *time.Time
	epss, pct *float32
	priority  *int
	due       *time.Time
	first     time.Time
}

func (e *env) finding(t testing.TB, tenant uuid.UUID, title string) stored {
	t.Helper()
	var s stored
	if err := e.super.QueryRow(context.Background(), `SELECT kev, kev_date_added, epss, epss_percentile, priority, sla_due_at, first_seen_at
		FROM findings WHERE tenant_id = $1 AND title = $2`, tenant, title).Scan(&s.kev, &s.kevDate, &s.epss, &s.pct, &s.priority, &s.due, &s.first); err != nil {
		t.Fatalf("%s: %v", title, err)
	}
	return s
}

// A new scan's findings carry KEV, EPSS, priority and deadline at once: the
// KEV finding outranks the non-KEV one of the same severity and gets the
// tenant's critical deadline.
func TestIngestEnrichesFindings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.loader.RefreshKEV(ctx, ""); err != nil {
		t.Fatal(err)
	}
	epss := "#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\nCVE-2025-48384,0.0123,0.81\nCVE-2024-99999,9.7e-01,0.999\n"
	if _, err := e.loader.LoadEPSS(ctx, strings.NewReader(epss), "test", ""); err != nil {
		t.Fatal(err)
	}
	tenant := e.tenant(t, "acme", `{"sla_days": {"critical": 5, "high": 20}}`)
	e.ingest(t, tenant, []findings.Finding{
		{Title: "git in KEV", Severity: findings.SeverityHigh, CVEs: []string{"CVE-2025-48384"}, Component: "git", ComponentVersion: "2.40", Scanner: "trivy"},
		{Title: "likely exploited, not KEV", Severity: findings.SeverityHigh, CVSSScore: 9.8, CVEs: []string{"CVE-2024-99999"}, Host: "example.com", Port: 443, Scanner: "trivy"},
		{Title: "no intel", Severity: findings.SeverityInfo, Scanner: "trivy", RuleID: "banner"},
	})
	k, n, i := e.finding(t, tenant, "git in KEV"), e.finding(t, tenant, "likely exploited, not KEV"), e.finding(t, tenant, "no intel")
	if !k.kev || k.kevDate == nil || k.kevDate.Format(time.DateOnly) != "2025-08-25" || k.epss == nil || *k.epss != float32(0.0123) || *k.pct != float32(0.81) {
		t.Fatalf("KEV finding %+v", k)
	}
	if n.kev || n.epss == nil || *n.epss != float32(0.97) {
		t.Fatalf("non-KEV finding %+v", n)
	}
	if k.priority == nil || n.priority == nil || *k.priority <= *n.priority {
		t.Fatalf("KEV priority %v does not outrank non-KEV %v of the same severity", k.priority, n.priority)
	}
	if want := k.first.AddDate(0, 0, 5); k.due == nil || !k.due.Equal(want) {
		t.Errorf("KEV deadline %v, want first seen + the tenant's 5 critical days (%v)", k.due, want)
	}
	if want := n.first.AddDate(0, 0, 20); n.due == nil || !n.due.Equal(want) {
		t.Errorf("high deadline %v, want first seen + 20 days (%v)", n.due, want)
	}
	if i.due != nil || i.priority == nil || i.kev || i.epss != nil {
		t.Errorf("info finding %+v: want a priority and no deadline", i)
	}
}

func kevCatalog(version string, released time.Time, entries map[string]string) []byte {
	type entry struct {
		CVEID     string `json:"cveID"`
		DateAdded string `json:"dateAdded"`
		Ransom    string `json:"knownRansomwareCampaignUse"`
	}
	c := struct {
		Version  string    `json:"catalogVersion"`
		Released time.Time `json:"dateReleased"`
		Vulns    []entry   `json:"vulnerabilities"`
	}{Version: version, Released: released}
	for cve, added := range entries {
		c.Vulns = append(c.Vulns, entry{CVEID: cve, DateAdded: added, Ransom: "Known"})
	}
	b, _ := json.Marshal(c)
	return b
}

// A finding whose CVE enters KEV after it was first seen alerts its tenant
// once: the alert row, one finding.kev delivery and one email per recipient,
// whatever retries and repeated refreshes do.
func TestReprioritizeAlertsOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now().UTC()
	tenant := e.tenant(t, "acme", `{}`)
	other := e.tenant(t, "globex", `{}`)
	var user uuid.UUID
	if err := e.super.QueryRow(ctx, "INSERT INTO users (id, email) VALUES (gen_random_uuid(), 'owner@acme.example') RETURNING id").Scan(&user); err != nil {
		t.Fatal(err)
	}
	if _, err := e.super.Exec(ctx, "INSERT INTO memberships (user_id, tenant_id, role) VALUES ($1, $2, 'client_owner')", user, tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := e.super.Exec(ctx, "INSERT INTO webhooks (tenant_id, url, secret, events) VALUES ($1, 'https://hooks.example/kev', repeat('s', 32), '{finding.kev}')", tenant); err != nil {
		t.Fatal(err)
	}
	e.ingest(t, tenant, []findings.Finding{
		{Title: "newly exploited", Severity: findings.SeverityMedium, CVEs: []string{"CVE-2026-11111"}, Component: "libfoo", Scanner: "trivy"},
		{Title: "old KEV entry", Severity: findings.SeverityMedium, CVEs: []string{"CVE-2020-22222"}, Component: "libbar", Scanner: "trivy"},
		{Title: "not exploited", Severity: findings.SeverityHigh, CVEs: []string{"CVE-2026-33333"}, Component: "libbaz", Scanner: "trivy"},
	})
	e.ingest(t, other, []findings.Finding{{Title: "fixed one", Severity: findings.SeverityMedium, CVEs: []string{"CVE-2026-11111"}, Component: "libfoo", Scanner: "trivy"}})
	if _, err := e.super.Exec(ctx, "UPDATE findings SET status = 'fixed' WHERE tenant_id = $1", other); err != nil {
		t.Fatal(err)
	}
	// Seen a week ago; CVE-2026-11111 enters KEV today, CVE-2020-22222 has
	// been there for years.
	if _, err := e.super.Exec(ctx, "UPDATE findings SET first_seen_at = now() - interval '7 days'"); err != nil {
		t.Fatal(err)
	}
	before := e.finding(t, tenant, "newly exploited")
	cat := kevCatalog("2026.12.03", now, map[string]string{"CVE-2026-11111": now.Format(time.DateOnly), "CVE-2020-22222": "2021-01-10"})
	if _, err := e.loader.LoadKEV(ctx, bytes.NewReader(cat), "test", ""); err != nil {
		t.Fatal(err)
	}
	r := &threatintel.Reprioritizer{DB: e.app, PublicURL: "https://app.example"}
	for attempt := 0; attempt < 3; attempt++ { // a retried page, then the next day's refresh
		key := "intel/refresh-1"
		if attempt == 2 {
			key = "intel/refresh-2"
		}
		p, err := r.Page(ctx, uuid.Nil, 2, key) // pages of two: the alert may sit on any page
		if err != nil {
			t.Fatal(err)
		}
		for !p.Done {
			if p, err = r.Page(ctx, p.Last, 2, key); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := e.finding(t, tenant, "newly exploited")
	if !after.kev || *after.priority <= *before.priority || !after.due.Equal(after.first.AddDate(0, 0, 7)) {
		t.Fatalf("after the refresh %+v (before %+v): want KEV, a higher priority and the critical deadline", after, before)
	}
	if old := e.finding(t, tenant, "old KEV entry"); !old.kev {
		t.Fatal("old KEV entry not marked")
	}
	var alerts, deliveries int
	_ = e.super.QueryRow(ctx, "SELECT count(*) FROM finding_alerts").Scan(&alerts)
	_ = e.super.QueryRow(ctx, "SELECT count(*) FROM webhook_deliveries WHERE event_type = 'finding.kev'").Scan(&deliveries)
	if alerts != 1 || deliveries != 1 {
		t.Fatalf("%d alerts and %d deliveries, want one each (only the newly exploited open finding)", alerts, deliveries)
	}
	var payload []byte
	_ = e.super.QueryRow(ctx, "SELECT payload FROM webhook_deliveries WHERE event_type = 'finding.kev'").Scan(&payload)
	var ev webhookwire.Event
	var data webhookwire.FindingKEV
	if err := json.Unmarshal(payload, &ev); err != nil || json.Unmarshal(ev.Data, &data) != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	if ev.TenantID != tenant || data.Total != 1 || data.Findings[0].Title != "newly exploited" || !data.Findings[0].KnownRansomware ||
		!strings.HasPrefix(ev.ID, "finding.kev/") || !strings.HasPrefix(data.Findings[0].Link, "https://app.example/app/findings/") {
		t.Fatalf("event %+v data %+v", ev, data)
	}

	pending, err := threatintel.Pending(ctx, e.app)
	if err != nil || len(pending) != 1 || pending[0].TenantID != tenant || !pending[0].Email || len(pending[0].DeliveryIDs) != 1 {
		t.Fatalf("pending %+v %v", pending, err)
	}
	mail := &email.Activities{DB: e.app, PublicURL: "https://app.example"}
	for i := 0; i < 2; i++ {
		res, err := mail.KEVAlerts(ctx, intel.KEVEmailsInput{TenantID: tenant})
		if err != nil {
			t.Fatal(err)
		}
		if want := 1 - i; res.Emails != want {
			t.Fatalf("run %d sent %d emails, want %d", i, res.Emails, want)
		}
	}
	var subject, body string
	if err := e.super.QueryRow(ctx, "SELECT subject, body_text FROM email_outbox WHERE idempotency_key LIKE 'email/kev/%'").Scan(&subject, &body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(subject, "1 finding(s) now known exploited") || !strings.Contains(body, "CVE-2026-11111") {
		t.Errorf("email %q\n%s", subject, body)
	}
	if pending, _ := threatintel.Pending(ctx, e.app); len(pending) != 1 || pending[0].Email {
		t.Errorf("after the email, pending %+v: want only the delivery", pending)
	}
}

// BenchmarkReprioritize100k: enrichment and priority of 100k open findings
// (a third in KEV, two thirds with EPSS) in pages, as the refresh runs them.
// all-changed: every finding gets every field (the first refresh after the
// migration; ingest sets them for new findings); daily: a new EPSS file moved
// every score a little (every row rewritten, few priorities change). Target
// < 3 s.
func BenchmarkReprioritize100k(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	const n = 100_000
	var kev bytes.Buffer
	kev.WriteString(`{"catalogVersion":"2026.12.03","dateReleased":"2026-12-03T00:00:00Z","vulnerabilities":[`)
	for i := 0; i < n; i += 3 {
		if i > 0 {
			kev.WriteString(",")
		}
		fmt.Fprintf(&kev, `{"cveID":"CVE-2024-%06d","dateAdded":"2025-01-01","knownRansomwareCampaignUse":"Unknown"}`, i)
	}
	kev.WriteString("]}")
	if _, err := e.loader.LoadKEV(ctx, &kev, "bench", ""); err != nil {
		b.Fatal(err)
	}
	day := 0
	loadEPSS := func() {
		day++
		var epss bytes.Buffer
		fmt.Fprintf(&epss, "#model_version:v1,score_date:%s\ncve,epss,percentile\n", time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC).Format(time.RFC3339))
		for i := 0; i < n; i++ {
			if i%3 != 2 {
				fmt.Fprintf(&epss, "CVE-2024-%06d,%g,%g\n", i, float64(i%1000)/1000+float64(day)*1e-5, min(float64(i)/n+float64(day)*1e-5, 1))
			}
		}
		if _, err := e.loader.LoadEPSS(ctx, &epss, "bench", ""); err != nil {
			b.Fatal(err)
		}
	}
	loadEPSS()
	tenant := e.tenant(b, "bench", `{}`)
	fs := make([]findings.Finding, n)
	for i := range fs {
		fs[i] = findings.Finding{Title: fmt.Sprintf("CVE-2024-%06d in libfoo", i), Severity: findings.Severities[i%5],
			CVEs: []string{fmt.Sprintf("CVE-2024-%06d", i)}, Component: "libfoo", ComponentVersion: "1.0", Scanner: "trivy"}
	}
	e.ingest(b, tenant, fs)
	r := &threatintel.Reprioritizer{DB: e.app}
	pass := func(b *testing.B) {
		after, seen, updated := uuid.Nil, 0, int64(0)
		for {
			p, err := r.Page(ctx, after, threatintel.PageSize, "bench")
			if err != nil {
				b.Fatal(err)
			}
			seen, updated = seen+p.Seen, updated+p.Updated
			if p.Done {
				break
			}
			after = p.Last
		}
		if seen != n || updated < n*2/3 {
			b.Fatalf("seen %d, updated %d, want %d and at least %d", seen, updated, n, n*2/3)
		}
	}
	b.Run("all-changed", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if _, err := e.super.Exec(ctx, "UPDATE findings SET kev = false, kev_date_added = NULL, epss = NULL, epss_percentile = NULL, priority = NULL, sla_due_at = NULL"); err != nil {
				b.Fatal(err)
			}
			if _, err := e.super.Exec(ctx, "VACUUM ANALYZE findings"); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			pass(b)
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/100k")
	})
	// floor: the same 100k rows rewritten with the same six columns by one
	// COPY into a stage and one UPDATE, no rule, no reading of intel — what
	// Postgres alone needs to write them (heap and the indexes on findings).
	b.Run("floor", func(b *testing.B) {
		rows := make([][]any, 0, n)
		ids, err := e.super.Query(ctx, "SELECT id FROM findings")
		if err != nil {
			b.Fatal(err)
		}
		for ids.Next() {
			var id uuid.UUID
			if err := ids.Scan(&id); err != nil {
				b.Fatal(err)
			}
			due := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			rows = append(rows, []any{id, true, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), float32(0.5), float32(0.5), int16(len(rows) % 100), due})
		}
		ids.Close()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if _, err := e.super.Exec(ctx, "UPDATE findings SET kev = false, kev_date_added = NULL, epss = NULL, epss_percentile = NULL, priority = NULL, sla_due_at = NULL"); err != nil {
				b.Fatal(err)
			}
			if _, err := e.super.Exec(ctx, "VACUUM ANALYZE findings"); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			tx, err := e.super.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "CREATE TEMP TABLE floor_stage (LIKE public.finding_enrich_stage) ON COMMIT DROP"); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"floor_stage"},
				[]string{"id", "kev", "kev_date_added", "epss", "epss_percentile", "priority", "sla_due_at"}, pgx.CopyFromRows(rows)); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `UPDATE findings f SET kev = s.kev, kev_date_added = s.kev_date_added, epss = s.epss,
				epss_percentile = s.epss_percentile, priority = s.priority, sla_due_at = s.sla_due_at FROM floor_stage s WHERE f.id = s.id`); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/100k")
	})
	b.Run("daily", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if _, err := e.super.Exec(ctx, "VACUUM ANALYZE findings"); err != nil {
				b.Fatal(err)
			}
			loadEPSS()
			b.StartTimer()
			pass(b)
		}

		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/100k")
	})
}

// BenchmarkEPSSLoad300k: a 300k-row gzip EPSS file streamed through COPY and
// swapped in over 300k existing rows. Target < 5 s.
func BenchmarkEPSSLoad300k(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	const n = 300_000
	files := make([][]byte, b.N+1)
	for i := range files {
		files[i] = epssFile(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(time.DateOnly), n, true)
	}
	if _, err := e.loader.LoadEPSS(ctx, bytes.NewReader(files[0]), "bench", ""); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := e.loader.LoadEPSS(ctx, bytes.NewReader(files[i+1]), "bench", "")
		if err != nil || res.Rows != n {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/300k")
}
