package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/activities/temporalops"
	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/contract/reconcile"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/temporalx"
)

// The API writes a scan's row before it starts the scan's workflow. If the
// API process dies in between, the reconciler starts the workflow; if an
// operator terminates a scan's workflow, the reconciler fails the scan. Scans
// younger than the grace period are left to their own start.
func TestReconcilerSettlesStrandedScans(t *testing.T) {
	p := start(t)
	ctx := context.Background()

	// An import registers the image target and gives the report to reuse.
	report := fixture(t, "trivy/scheme_2_many_vulns.json")
	code, body := p.upload(t, map[string]string{"scanner": "trivy", "target": "image:registry.acme.test/shop:1.0"}, report)
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	first := p.waitScan(t, body["id"].(string))
	if first["status"] != "completed" {
		t.Fatalf("first import %v", first)
	}
	targetID, target := uuid.MustParse(first["target_id"].(string)), first["target"].(string)

	// Imports whose API "died" after writing the row: ten minutes ago, just
	// now, and more than a day ago (too old to run as if new).
	stranded := func(age time.Duration) uuid.UUID {
		id := uuid.New()
		p.seed(t, p.tenant, func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, target_id, source, complete, created_at)
				VALUES ($1, $2, $3, '{trivy}', $4, $5, 'import', false, now() - $6::interval)`,
				id, p.tenant, target, scan.WorkflowID(id), targetID, fmt.Sprintf("%d seconds", int(age.Seconds()))); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO scan_reports (tenant_id, scan_id, scanner, content) VALUES ($1, $2, 'trivy', $3)", p.tenant, id, report)
			return err
		})
		return id
	}
	old, recent, ancient := stranded(10*time.Minute), stranded(0), stranded(25*time.Hour)
	// A scheduled run's row: its schedule's workflow starts it as a child, so
	// the reconciler must not start it first.
	scheduled := stranded(10 * time.Minute)
	p.seed(t, p.tenant, func(ctx context.Context, tx pgx.Tx) error {
		var sid uuid.UUID
		if err := tx.QueryRow(ctx, `INSERT INTO scan_schedules (tenant_id, target_id, scanners, interval_seconds)
			VALUES ($1, $2, '{trivy}', 86400) RETURNING id`, p.tenant, targetID).Scan(&sid); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE scans SET schedule_id = $1 WHERE id = $2", sid, scheduled)
		return err
	})

	// A scan whose workflow an operator terminated.
	port := slowServer(t, 2*time.Second)
	code, body = p.do(t, "POST", "/api/v1/scans", "application/json", fmt.Sprintf(`{"target":"127.0.0.1:%d","scanners":["secureops"]}`, port))
	if code != http.StatusAccepted {
		t.Fatalf("create scan: %d %v", code, body)
	}
	killed := body["id"].(string)
	if err := p.temporal.TerminateWorkflow(ctx, "scan/"+killed, "", "operator test"); err != nil {
		t.Fatal(err)
	}
	p.seed(t, p.tenant, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE scans SET created_at = now() - interval '10 minutes' WHERE id = $1", killed)
		return err
	})

	pass := func(name string) reconcile.Result {
		t.Helper()
		run, err := p.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: name, TaskQueue: temporalx.QueueScans}, reconcile.WorkflowName)
		if err != nil {
			t.Fatal(err)
		}
		var sum reconcile.Summary
		if err := run.Get(ctx, &sum); err != nil {
			t.Fatal(err)
		}
		return sum.Scans
	}
	if res := pass("reconcile-test-1"); res.Started != 1 || res.Failed != 2 {
		t.Fatalf("first pass %+v, want 1 started and 2 failed", res)
	}
	sc := p.waitScan(t, old.String())
	if sc["status"] != "completed" || sc["findings_total"] != first["findings_total"] {
		t.Errorf("stranded import after the reconciler: %v, want completed with %v findings", sc, first["findings_total"])
	}
	_, sc = p.do(t, "GET", "/api/v1/scans/"+killed, "", "")
	if msg, _ := sc["error"].(string); sc["status"] != "failed" || !strings.Contains(msg, "terminated") || !strings.Contains(msg, "scan/"+killed) {
		t.Errorf("terminated scan after the reconciler: %v, want failed naming the termination and workflow", sc)
	}
	_, sc = p.do(t, "GET", "/api/v1/scans/"+ancient.String(), "", "")
	if msg, _ := sc["error"].(string); sc["status"] != "failed" || !strings.Contains(msg, "never started") {
		t.Errorf("day-old scan without a workflow: %v, want failed as never started", sc)
	}
	if _, err := p.temporal.DescribeWorkflowExecution(ctx, scan.WorkflowID(ancient), ""); err == nil {
		t.Error("the reconciler started a day-old scan")
	}
	if _, err := p.temporal.DescribeWorkflowExecution(ctx, scan.WorkflowID(scheduled), ""); err == nil {
		t.Error("the reconciler started a scheduled run's scan, which its schedule's workflow starts")
	}
	_, sc = p.do(t, "GET", "/api/v1/scans/"+recent.String(), "", "")
	if sc["status"] != "queued" {
		t.Errorf("scan inside the grace period: %v, want left queued", sc["status"])
	}
	if _, err := p.temporal.DescribeWorkflowExecution(ctx, scan.WorkflowID(recent), ""); err == nil {
		t.Error("the reconciler started a scan inside the grace period")
	}

	// A second pass finds nothing more to do.
	if res := pass("reconcile-test-2"); res.Started != 0 || res.Failed != 0 {
		t.Errorf("second pass %+v, want nothing started or failed", res)
	}

	// The workers keep the schedule that runs the passes, and a worker of a
	// later build brings a drifted one back in line.
	h := p.temporal.ScheduleClient().GetHandle(ctx, reconcile.ScheduleID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := h.Describe(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reconciler schedule: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		sch := in.Description.Schedule
		sch.Spec = &client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}}
		return &client.ScheduleUpdate{Schedule: &sch}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := temporalx.EnsureSchedule(ctx, p.temporal, reconcile.Schedule); err != nil {
		t.Fatal(err)
	}
	d, err := h.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if iv := d.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != reconcile.Interval {
		t.Errorf("reconciler schedule intervals %+v, want every %v", iv, reconcile.Interval)
	}
}

// A sign-up whose API process died before starting its onboarding is
// withdrawn, so its company name and address are free again; one whose
// workflow exists, or that is younger than the grace period, stays.
func TestReconcilerWithdrawsSignupsThatNeverStarted(t *testing.T) {
	p := startWith(t, options{noWorkers: true})
	ctx := context.Background()
	reserve := func(slug string) []byte {
		t.Helper()
		hash := auth.HashSecret(slug + "-token")
		err := p.db.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
			taken, err := db.Q.SignupReserve(ctx, tx, dbq.SignupReserveParams{
				TokenHash: hash, TenantID: uuid.New(), Slug: slug, Email: slug + "@example.test", WorkflowID: onboarding.WorkflowID(slug),
			})
			if err == nil && taken != "" {
				err = fmt.Errorf("%s taken", taken)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return hash
	}
	lookup := func(hash []byte) bool {
		t.Helper()
		found := false
		err := p.db.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
			_, err := db.Q.SignupLookup(ctx, tx, hash)
			if err == nil {
				found = true
			} else if errors.Is(err, pgx.ErrNoRows) {
				err = nil
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	lost, running := reserve("lost-co"), reserve("running-co")
	// running-co's onboarding began (nothing polls its queue here; it only
	// has to exist).
	if _, err := p.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: onboarding.WorkflowID("running-co"), TaskQueue: "nobody-polls"},
		onboarding.WorkflowName, onboarding.Input{Slug: "running-co"}); err != nil {
		t.Fatal(err)
	}

	if n, err := (&temporalops.Activities{DB: p.db, Client: p.temporal}).Signups(ctx); err != nil || n != 0 {
		t.Fatalf("inside the grace period: withdrew %d (%v), want 0", n, err)
	}
	a := &temporalops.Activities{DB: p.db, Client: p.temporal, Grace: time.Millisecond}
	time.Sleep(5 * time.Millisecond)
	if n, err := a.Signups(ctx); err != nil || n != 1 {
		t.Fatalf("withdrew %d (%v), want 1", n, err)
	}
	if lookup(lost) || !lookup(running) {
		t.Errorf("after the pass: lost-co present %v (want false), running-co present %v (want true)", lookup(lost), lookup(running))
	}
	// The name and address are free again.
	reserve("lost-co")
}
