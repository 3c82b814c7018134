package triaging_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/activities/triaging"
	"github.com/secureops/secureops/internal/contract/triage"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/testutil/pgtest"
	"github.com/secureops/secureops/internal/triagerules"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fakeModel answers from a table by CVE; err fails the whole batch.
type fakeModel struct {
	byCVE map[string]triagerules.Decision
	err   error
	calls int
	seen  []triagerules.Example // the examples of the last call
}

func (m *fakeModel) Decide(_ context.Context, _ uuid.UUID, items []triagerules.Item, examples []triagerules.Example) ([]triagerules.Answer, error) {
	m.calls++
	m.seen = examples
	if m.err != nil {
		return nil, m.err
	}
	out := []triagerules.Answer{{FindingID: uuid.New(), Decision: triagerules.FalsePositive}} // not asked: ignored
	for _, it := range items {
		if d, ok := m.byCVE[it.CVEs[0]]; ok {
			out = append(out, triagerules.Answer{FindingID: it.FindingID, Decision: d, Confidence: 0.8,
				Reasoning: "model says " + string(d), Model: "fake-1", PromptVersion: "v1"})
		}
	}
	return out, nil
}

type env struct {
	t      *testing.T
	super  *pgx.Conn
	app    *db.DB
	tenant uuid.UUID
	scan   uuid.UUID
	ids    map[string]uuid.UUID // by CVE
}

func newEnv(t *testing.T) *env {
	ctx := context.Background()
	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(ctx) })
	e := &env{t: t, super: super, app: d.OpenApp(t), scan: uuid.New(), ids: map[string]uuid.UUID{}}
	if err := super.QueryRow(ctx, "INSERT INTO tenants (slug, name, status) VALUES ('acme', 'Acme', 'active') RETURNING id").Scan(&e.tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := super.Exec(ctx, `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, complete)
		VALUES ($1, $2, 'image:app:1', '{trivy}', $3, true)`, e.scan, e.tenant, "scan/"+e.scan.String()); err != nil {
		t.Fatal(err)
	}
	var fs []findings.Finding
	for _, cve := range []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"} {
		fs = append(fs, findings.Finding{Title: cve + " in libx", Severity: findings.SeverityMedium, CVEs: []string{cve},
			Component: "libx", ComponentVersion: "1.0", Target: "app:1", Scanner: "trivy", RuleID: cve})
	}
	err = e.app.InTx(ctx, db.TenantScope(e.tenant), func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: e.tenant, ScanID: e.scan, Scanner: "trivy", ScanTarget: "image:app:1", Findings: fs})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := super.Query(ctx, "SELECT cves[1], id FROM findings")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		var id uuid.UUID
		if err := rows.Scan(&c, &id); err != nil {
			t.Fatal(err)
		}
		e.ids[c] = id
	}
	// The second is in KEV: a model may not call it a false positive.
	if _, err := super.Exec(ctx, "UPDATE findings SET kev = true WHERE $1 = ANY (cves)", "CVE-2024-0002"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.super.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestEvaluateWithModelIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	model := &fakeModel{byCVE: map[string]triagerules.Decision{
		"CVE-2024-0001": triagerules.FalsePositive, "CVE-2024-0002": triagerules.FalsePositive,
	}}
	a := &triaging.Activities{DB: e.app, Decider: model}
	in := triage.Input{TenantID: e.tenant, ScanID: e.scan}
	for run := 0; run < 2; run++ {
		ev, err := a.Evaluate(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Findings != 3 || len(ev.Pending) != 1 || ev.Pending[0] != e.ids["CVE-2024-0001"] {
			t.Fatalf("run %d: %+v", run, ev)
		}
	}
	if n := e.count("SELECT count(*) FROM finding_triage"); n != 5 { // 3 rules + 2 model, once each
		t.Fatalf("%d rows", n)
	}
	var dec, status, model2 string
	if err := e.super.QueryRow(ctx, "SELECT decision, status, model FROM finding_triage WHERE finding_id = $1 AND source = 'llm'",
		e.ids["CVE-2024-0002"]).Scan(&dec, &status, &model2); err != nil || dec != "needs_review" || status != "approved" || model2 != "fake-1" {
		t.Fatalf("the KEV finding's model row: %s %s %s %v", dec, status, model2, err)
	}

	// A failing model: the rules' decisions stand, nothing fails.
	e2 := newEnv(t)
	failing := &triaging.Activities{DB: e2.app, Decider: &fakeModel{err: errors.New("model down")}}
	ev, err := failing.Evaluate(ctx, triage.Input{TenantID: e2.tenant, ScanID: e2.scan})
	if err != nil || ev.Findings != 3 || len(ev.Pending) != 0 || ev.Model != 0 {
		t.Fatalf("failing model: %+v %v", ev, err)
	}
}

func TestResolveIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := &triaging.Activities{DB: e.app, Decider: &fakeModel{byCVE: map[string]triagerules.Decision{"CVE-2024-0001": triagerules.FalsePositive}}}
	if _, err := a.Evaluate(ctx, triage.Input{TenantID: e.tenant, ScanID: e.scan}); err != nil {
		t.Fatal(err)
	}
	fp := e.ids["CVE-2024-0001"]
	in := triage.ResolveInput{TenantID: e.tenant, ScanID: e.scan, Approve: true,
		Verdict: triage.Verdict{FindingID: fp, Actor: "user:" + uuid.NewString(), Role: "client_analyst"}}
	for run := 0; run < 2; run++ {
		r, err := a.Resolve(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != "approved" || r.Finding != "false_positive" || r.Decision != "false_positive" {
			t.Fatalf("run %d: %+v", run, r)
		}
	}
	if n := e.count("SELECT count(*) FROM finding_triage WHERE source = 'analyst'"); n != 1 {
		t.Fatalf("%d analyst rows", n)
	}
	if n := e.count("SELECT count(*) FROM finding_events WHERE finding_id = $1 AND to_status = 'false_positive'", fp); n != 1 {
		t.Fatalf("%d status events", n)
	}
	// A decision that never waited is refused, not retried.
	_, err := a.Resolve(ctx, triage.ResolveInput{TenantID: e.tenant, ScanID: e.scan, Approve: true,
		Verdict: triage.Verdict{FindingID: e.ids["CVE-2024-0003"], Actor: "user:x", Role: "client_analyst"}})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != triage.ErrNotPending || !app.NonRetryable() {
		t.Fatalf("resolve a valid finding: %v", err)
	}
}

// The model is given the tenant's latest analyst verdicts on findings of the
// same scanner rule, newest first; a rejection shows as valid.
func TestEvaluatePassesAnalystExamples(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := uuid.New() // an earlier scan whose verdicts are precedents
	if _, err := e.super.Exec(ctx, `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, complete)
		VALUES ($1, $2, 'image:app:0', '{trivy}', $3, true)`, other, e.tenant, "scan/"+other.String()); err != nil {
		t.Fatal(err)
	}
	for _, v := range [][3]string{
		{"CVE-2024-0001", "false_positive|approved", "backported"},
		{"CVE-2024-0003", "suppress|rejected", "not on our path"},
	} {
		dec, status, _ := strings.Cut(v[1], "|")
		if _, err := e.super.Exec(ctx, `INSERT INTO finding_triage (tenant_id, finding_id, scan_id, source, decision, reasoning, status)
			VALUES ($1, $2, $3, 'analyst', $4, $5, $6)`, e.tenant, e.ids[v[0]], other, dec, v[2], status); err != nil {
			t.Fatal(err)
		}
	}
	model := &fakeModel{}
	a := &triaging.Activities{DB: e.app, Decider: model}
	if _, err := a.Evaluate(ctx, triage.Input{TenantID: e.tenant, ScanID: e.scan}); err != nil {
		t.Fatal(err)
	}
	want := []triagerules.Example{
		{RuleID: "CVE-2024-0003", CWEs: []int32{}, Title: "CVE-2024-0003 in libx", Decision: triagerules.Valid,
			Reason: "an analyst rejected suppress: not on our path"},
		{RuleID: "CVE-2024-0001", CWEs: []int32{}, Title: "CVE-2024-0001 in libx", Decision: triagerules.FalsePositive, Reason: "backported"},
	}
	if fmt.Sprintf("%+v", model.seen) != fmt.Sprintf("%+v", want) {
		t.Fatalf("examples\n got %+v\nwant %+v", model.seen, want)
	}
}
