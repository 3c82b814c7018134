package reportflow_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/secureops/secureops/activities/email"
	"github.com/secureops/secureops/activities/reports"
	"github.com/secureops/secureops/internal/contract/report"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/testutil/pgtest"
	"github.com/secureops/secureops/workflows/reportflow"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	super  *pgx.Conn
	db     *db.DB
	tenant uuid.UUID
	user   uuid.UUID
	scan   uuid.UUID
}

// seed makes a tenant with an owner, a finished scan and its findings:
// critical ×2 (one in KEV, one fixed), high ×1, low ×3.
func seed(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(ctx) })
	e := &env{super: super, db: d.OpenApp(t), tenant: uuid.New(), user: uuid.New(), scan: uuid.New()}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := super.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("INSERT INTO tenants (id, slug, name, status) VALUES ($1, 'acme', 'Acme', 'active')", e.tenant)
	exec("INSERT INTO users (id, email, name) VALUES ($1, 'owner@acme.example', 'Owner')", e.user)
	exec("INSERT INTO users (id, email, name) VALUES ($1, 'admin@acme.example', 'Admin')", uuid.New())
	exec("INSERT INTO memberships (user_id, tenant_id, role) VALUES ($1, $2, 'client_owner')", e.user, e.tenant)
	exec("INSERT INTO memberships (user_id, tenant_id, role) SELECT id, $1, 'client_admin' FROM users WHERE email = 'admin@acme.example'", e.tenant)
	exec(`INSERT INTO scans (id, tenant_id, target, scanners, status, workflow_id, created_at, finished_at)
	      VALUES ($1, $2, 'example.com', '{nmap}', 'completed', 'scan/x', now() - interval '1 hour', now() - interval '50 minutes')`, e.scan, e.tenant)
	for i, f := range []struct {
		sev, status string
		kev         bool
		prio        int
	}{{"critical", "new", true, 99}, {"critical", "fixed", false, 80}, {"high", "open", false, 70}, {"low", "new", false, 10}, {"low", "new", false, 11}, {"low", "open", false, 12}} {
		exec(`WITH f AS (INSERT INTO findings (tenant_id, fingerprint, title, severity, status, scanner, target, kev, priority, epss, sla_due_at, first_seen_at)
		      VALUES ($1, $2, $3, $4, $5, 'nmap', 'example.com', $6, $7, 0.5, now() - interval '1 day', now() - interval '55 minutes') RETURNING id)
		      INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity) SELECT $8, id, $1, $4 FROM f`,
			e.tenant, fmt.Sprint("fp", i), fmt.Sprintf("Finding %d <b>", i), f.sev, f.status, f.kev, f.prio, e.scan)
	}
	return e
}

func (e *env) newReport(t *testing.T, kind string, requester bool) uuid.UUID {
	t.Helper()
	id := uuid.New()
	err := e.db.InTx(context.Background(), db.TenantScope(e.tenant), func(ctx context.Context, tx pgx.Tx) error {
		p := dbq.ReportCreateParams{ID: id, TenantID: e.tenant, Kind: kind, ScanID: uuid.NullUUID{UUID: e.scan, Valid: true}, WorkflowID: report.WorkflowID(id)}
		if requester {
			p.RequestedBy = uuid.NullUUID{UUID: e.user, Valid: true}
		}
		_, err := db.Q.ReportCreate(ctx, tx, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type writerFunc func(ctx context.Context, kind string, f report.Facts) (string, error)

func (w writerFunc) Prose(ctx context.Context, kind string, f report.Facts) (string, error) {
	return w(ctx, kind, f)
}
func (writerFunc) Name() string { return "fake" }

// run runs the workflow once with the real activities; emailFailures makes
// the email activity fail that many times after it sent (a lost answer).
func (e *env) run(t *testing.T, id uuid.UUID, writer reports.Activities, emailFailures int) report.Result {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	wenv := s.NewTestWorkflowEnvironment()
	wenv.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: report.WorkflowID(id)})
	reportflow.Register(wenv)
	acts := writer
	acts.DB = e.db
	reports.Register(wenv, &acts)
	mail := &email.Activities{DB: e.db, PublicURL: "https://app.example"}
	report.Email.Register(wenv, func(ctx context.Context, in report.Input) (report.EmailResult, error) {
		r, err := mail.ReportReady(ctx, in)
		if err == nil && emailFailures > 0 {
			emailFailures--
			return r, errors.New("the answer was lost")
		}
		return r, err
	})
	wenv.ExecuteWorkflow(report.WorkflowName, report.Input{TenantID: e.tenant, ReportID: id})
	if !wenv.IsWorkflowCompleted() {
		t.Fatal("report workflow did not complete")
	}
	if err := wenv.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res report.Result
	if err := wenv.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func (e *env) stored(t *testing.T, id uuid.UUID) (dbq.Report, dbq.ReportContent, []string) {
	t.Helper()
	ctx := context.Background()
	var r dbq.Report
	var c dbq.ReportContent
	err := e.db.InTx(ctx, db.TenantScope(e.tenant), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if r, err = db.Q.ReportGet(ctx, tx, id); err != nil {
			return err
		}
		c, err = db.Q.ReportContentGet(ctx, tx, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := e.super.Query(ctx, "SELECT to_address FROM email_outbox WHERE idempotency_key LIKE $1 ORDER BY to_address", "email/report/"+id.String()+"/%")
	if err != nil {
		t.Fatal(err)
	}
	to, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return r, c, to
}

// A scan report: the numbers by SQL, rules prose without a model, the three
// renderings stored, one email to the requester. A rerun of the same report
// (a reset) and a lost email answer (a retry) store and send nothing again.
func TestReportOnceUnderRetryAndReset(t *testing.T) {
	e := seed(t)
	id := e.newReport(t, report.KindTechnical, true)
	res := e.run(t, id, reports.Activities{}, 1)
	if res.Status != "ready" || res.ProseSource != "rules" || res.Emails != 1 || res.PDFBytes == 0 {
		t.Fatalf("result %+v", res)
	}
	r, c, to := e.stored(t, id)
	if r.Status != "ready" || r.ReadyAt == nil || r.EmailedAt == nil || r.ProseSource != "rules" {
		t.Fatalf("report row %+v", r)
	}
	if len(to) != 1 || to[0] != "owner@acme.example" {
		t.Fatalf("emails to %v, want the requester once", to)
	}
	if !bytes.HasPrefix(c.Pdf, []byte("%PDF-")) || !strings.Contains(c.Markdown, "| Critical | 2 | 1 |") ||
		!strings.Contains(c.Markdown, "| Low | 3 | 3 |") || !strings.Contains(c.Markdown, "| **Total** | **6** | **5** |") ||
		!strings.Contains(c.Markdown, "Open findings in CISA KEV: 1") || !strings.Contains(c.Markdown, "Open findings past their SLA deadline: 5") ||
		!strings.Contains(c.Markdown, "| 1 | 99 | Critical | Finding 0 &lt;b&gt; |") || !strings.Contains(c.Markdown, "Scans run: 1 (0 failed)") {
		t.Fatalf("markdown:\n%s", c.Markdown)
	}
	if strings.Contains(c.Html, "<b>") || !strings.Contains(c.Html, "<td>Critical</td>") {
		t.Fatalf("html:\n%s", c.Html)
	}

	// Reset: the whole workflow again, with another writer.
	again := e.run(t, id, reports.Activities{Writer: writerFunc(func(context.Context, string, report.Facts) (string, error) {
		return "Different prose.", nil
	})}, 0)
	if again.Status != "ready" {
		t.Fatalf("rerun %+v", again)
	}
	r2, c2, to2 := e.stored(t, id)
	if len(to2) != 1 || !bytes.Equal(c2.Pdf, c.Pdf) || c2.Markdown != c.Markdown || r2.ProseSource != "rules" {
		t.Fatalf("the rerun changed the report or emailed again: emails %v, source %s", to2, r2.ProseSource)
	}
}

// A model's prose is used and recorded; its markup never reaches the HTML.
// A report an API key asked for goes to the owners and admins.
func TestModelProseSanitisedAndKeyReportsEmailAdmins(t *testing.T) {
	e := seed(t)
	id := e.newReport(t, report.KindExecutive, false)
	var seen report.Facts
	res := e.run(t, id, reports.Activities{Writer: writerFunc(func(_ context.Context, kind string, f report.Facts) (string, error) {
		seen = f
		return "Model says **patch now**.<script>alert(1)</script>", nil
	})}, 0)
	if res.ProseSource != "model:fake" || res.Emails != 2 {
		t.Fatalf("result %+v", res)
	}
	if seen.Total != 6 || seen.BySeverity["critical"] != 2 || seen.Kind != report.KindExecutive {
		t.Fatalf("the writer saw %+v", seen)
	}
	r, c, to := e.stored(t, id)
	if r.ProseSource != "model:fake" || strings.Contains(c.Html, "<script") || !strings.Contains(c.Html, "<strong>patch now</strong>") {
		t.Fatalf("html:\n%s", c.Html)
	}
	if strings.Join(to, ",") != "admin@acme.example,owner@acme.example" {
		t.Fatalf("emails to %v", to)
	}
}

// A failing model leaves the rules' prose; the report does not fail.
func TestFailingModelFallsBackToRules(t *testing.T) {
	e := seed(t)
	id := e.newReport(t, report.KindExecutive, true)
	res := e.run(t, id, reports.Activities{Writer: writerFunc(func(context.Context, string, report.Facts) (string, error) {
		return "", errors.New("model unavailable")
	})}, 0)
	if res.Status != "ready" || res.ProseSource != "rules" {
		t.Fatalf("result %+v", res)
	}
	_, c, _ := e.stored(t, id)
	if !strings.Contains(c.Markdown, "This scan of example.com covers 6 findings, 5 of them open") {
		t.Fatalf("markdown:\n%s", c.Markdown)
	}
}

// A report whose row, or whose scan, is gone fails at once (not retried)
// and says so on its row.
func TestGoneReportFails(t *testing.T) {
	e := seed(t)
	scanGone := e.newReport(t, report.KindExecutive, true)
	if _, err := e.super.Exec(context.Background(), "DELETE FROM scans WHERE id = $1", e.scan); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uuid.UUID{uuid.New(), scanGone} {
		var s testsuite.WorkflowTestSuite
		wenv := s.NewTestWorkflowEnvironment()
		reportflow.Register(wenv)
		gathers := 0
		acts := &reports.Activities{DB: e.db}
		reports.Register(wenv, acts)
		report.Gather.Register(wenv, func(ctx context.Context, in report.Input) (report.Facts, error) {
			gathers++
			return acts.Gather(ctx, in)
		})
		wenv.ExecuteWorkflow(report.WorkflowName, report.Input{TenantID: e.tenant, ReportID: id})
		err := wenv.GetWorkflowError()
		var app *temporal.ApplicationError
		if err == nil || !errors.As(err, &app) || app.Type() != reports.ErrGone || !app.NonRetryable() || gathers != 1 {
			t.Fatalf("err = %v after %d attempts, want the non-retryable %s at once", err, gathers, reports.ErrGone)
		}
	}
	var status, msg string
	if err := e.super.QueryRow(context.Background(), "SELECT status, error FROM reports WHERE id = $1", scanGone).Scan(&status, &msg); err != nil || status != "failed" || msg == "" {
		t.Errorf("report row: %s %q %v", status, msg, err)
	}
}
