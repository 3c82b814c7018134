package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/secureops/secureops/internal/contract/maintenance"
	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// SLA timers end to end: an import starts the tenant's SLA workflow
// (sla/<tenant-id>); shortening the SLA days through the API moves the open
// findings' deadlines at once and wakes it, and it notices each finding once
// per stage: the critical (seen ten days ago) overdue, escalated as one
// finding.sla_breached delivery, the high and the KEV medium (which gets the
// critical deadline) due within three days, all in one email to the owner;
// a second patch that changes nothing due notices
// nothing again.
func TestSLATimersEndToEnd(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr})
	ctx := context.Background()
	super, err := pgx.Connect(ctx, p.superDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := super.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := super.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	ident, err := kr.EnsureIdentity(ctx, "owner@acme.test", "Owner", "correct-horse-owner", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.seed(t, p.tenant, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: "owner@acme.test", Name: "Owner"}); err != nil {
			return err
		}
		_, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: p.tenant, Role: "client_owner"})
		return err
	})
	owner := login(t, kr, "owner@acme.test", "correct-horse-owner")
	exec("INSERT INTO webhooks (tenant_id, url, secret, events) VALUES ($1, 'https://hooks.acme.test/sla', repeat('s', 32), '{finding.sla_breached}')", p.tenant)

	code, body := p.upload(t, map[string]string{"scanner": "trivy", "target": "image:registry.acme.test/app:1"}, fixture(t, "trivy/scheme_2_many_vulns.json"))
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	if sc := p.waitScan(t, body["id"].(string)); sc["status"] != "completed" {
		t.Fatalf("import: %v", sc)
	}
	// The import's end signals-with-start the tenant's SLA workflow; the
	// housekeeping's first pass (run when its schedule is created) starts
	// one for every active tenant too.
	wid := sla.WorkflowID(p.tenant)
	waitFor(t, "the SLA workflow to run", func() bool {
		d, err := p.temporal.DescribeWorkflowExecution(ctx, wid, "")
		return err == nil && d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
	waitFor(t, "a housekeeping pass that ensured the SLA timers", func() bool {
		resp, err := p.temporal.ListWorkflow(ctx, listReq("WorkflowType = '"+maintenance.WorkflowName+"' AND ExecutionStatus = 'Completed'"))
		if err != nil || len(resp.Executions) == 0 {
			return false
		}
		e := resp.Executions[0].Execution
		var sum maintenance.Summary
		return p.temporal.GetWorkflow(ctx, e.GetWorkflowId(), e.GetRunId()).Get(ctx, &sum) == nil && sum.SLATimers >= 1
	})
	if n := count("SELECT count(*) FROM sla_notices"); n != 0 {
		t.Fatalf("%d notices for fresh findings", n)
	}

	// The critical was first seen ten days ago; the tenant shortens its
	// deadlines: critical 1 day (overdue now), high 2 days (due soon).
	exec("UPDATE findings SET first_seen_at = now() - interval '10 days' WHERE tenant_id = $1 AND severity = 'critical'", p.tenant)
	if code := p.sessionDo(t, owner, "PATCH", "/api/v1/dashboard/sla", `{"critical": 1, "high": 2}`, nil); code != http.StatusOK {
		t.Fatalf("PATCH sla: %d", code)
	}
	if overdue, _ := p.findings(t, "sla=overdue"); len(overdue) != 1 || overdue[0].Severity != "critical" {
		t.Fatalf("sla=overdue right after the patch: %+v", overdue)
	}
	waitFor(t, "the owner's SLA email", func() bool {
		return count("SELECT count(*) FROM email_outbox WHERE tenant_id = $1 AND idempotency_key LIKE 'email/sla/%'", p.tenant) == 1
	})
	type row struct{ severity, stage string }
	rows, err := super.Query(ctx, "SELECT f.severity, n.stage FROM sla_notices n JOIN findings f ON f.id = n.finding_id ORDER BY 1, 2")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.severity, &x.stage)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []row{{"critical", "overdue"}, {"high", "due_soon"}, {"medium", "due_soon"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("notices %+v; want %+v", got, want)
	}
	var subject string
	if err := super.QueryRow(ctx, "SELECT subject FROM email_outbox WHERE idempotency_key LIKE 'email/sla/%'").Scan(&subject); err != nil ||
		subject != "[SecureOps] SLA: 1 finding(s) overdue, 2 due within 3 days" {
		t.Errorf("subject %q %v", subject, err)
	}
	if n := count("SELECT count(*) FROM webhook_deliveries WHERE tenant_id = $1 AND event_type = 'finding.sla_breached'", p.tenant); n != 1 {
		t.Errorf("%d finding.sla_breached deliveries, want 1", n)
	}

	// Patching again wakes it; nothing new is due, so nothing is sent twice.
	if code := p.sessionDo(t, owner, "PATCH", "/api/v1/dashboard/sla", `{"medium": 80}`, nil); code != http.StatusOK {
		t.Fatalf("second PATCH: %d", code)
	}
	time.Sleep(2 * time.Second)
	if n := count("SELECT count(*) FROM sla_notices"); n != 3 {
		t.Errorf("%d notices after the second patch, want 3", n)
	}
	if n := count("SELECT count(*) FROM email_outbox WHERE idempotency_key LIKE 'email/sla/%'"); n != 1 {
		t.Errorf("%d SLA emails after the second patch, want 1", n)
	}
	recordHistory(t, p.temporal, wid, "../../workflows/slaflow/testdata/sla_notices.json")
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
