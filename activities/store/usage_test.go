package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
)

func (e *env) usageRows(scanID uuid.UUID) int {
	e.t.Helper()
	var n int
	if err := e.super.QueryRow(context.Background(), "SELECT count(*) FROM usage_events WHERE scan_id = $1", scanID).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func appErrType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

// A finished scan is recorded once, with its duration and findings; a retry
// and a reset that ran the scan again get the first record back unchanged.
func TestRecordUsageIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.scan("127.0.0.1", true, "completed", 22, 80, 443)
	var scanID uuid.UUID
	if err := e.super.QueryRow(ctx, "SELECT id FROM scans WHERE target = '127.0.0.1'").Scan(&scanID); err != nil {
		t.Fatal(err)
	}
	finished := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	if _, err := e.super.Exec(ctx, "UPDATE scans SET started_at = $2, finished_at = $3 WHERE id = $1",
		scanID, finished.Add(-90500*time.Millisecond), finished); err != nil {
		t.Fatal(err)
	}
	ref := scan.Ref{TenantID: e.tenant, ScanID: scanID}
	first, err := e.acts.RecordUsage(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if first.DurationMS != 90500 || first.Findings != 3 || first.Status != "completed" || first.Source != "scan" ||
		first.Target != "127.0.0.1" || strings.Join(first.Scanners, ",") != "nmap" || first.TenantID != e.tenant ||
		!first.FinishedAt.Equal(finished) {
		t.Errorf("usage event %+v", first)
	}

	again, err := e.acts.RecordUsage(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	// A reset re-ran the scan: it finished later, with another result.
	if _, err := e.super.Exec(ctx, "UPDATE scans SET finished_at = finished_at + interval '1 hour', status = 'failed' WHERE id = $1", scanID); err != nil {
		t.Fatal(err)
	}
	reset, err := e.acts.RecordUsage(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []scan.UsageEvent{again, reset} {
		if ev.ID != first.ID || ev.DurationMS != first.DurationMS || ev.Status != first.Status || !ev.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("recorded again: %+v, first %+v", ev, first)
		}
	}
	if n := e.usageRows(scanID); n != 1 {
		t.Errorf("%d usage events for one scan, want 1", n)
	}

	// A billing record is not rewritten by the application.
	for _, stmt := range []string{"UPDATE usage_events SET duration_ms = 0", "DELETE FROM usage_events"} {
		err := e.app.InTx(ctx, db.TenantScope(e.tenant), func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, stmt)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s as the application: %v, want permission denied", stmt, err)
		}
	}
	// Another tenant sees nothing of it.
	var other uuid.UUID
	if err := e.super.QueryRow(ctx, "INSERT INTO tenants (slug, name, status) VALUES ('other', 'Other', 'active') RETURNING id").Scan(&other); err != nil {
		t.Fatal(err)
	}
	err = e.app.InTx(ctx, db.TenantScope(other), func(ctx context.Context, tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM usage_events").Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("another tenant sees %d usage events", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A scan cancelled before it started used no scanner time; a scan still
// running or missing is not recorded, and retrying would not change that.
func TestRecordUsageUnstartedUnfinishedMissing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cancelled, running := uuid.New(), uuid.New()
	for id, status := range map[uuid.UUID]string{cancelled: "cancelled", running: "running"} {
		if _, err := e.super.Exec(ctx, `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, status, source, finished_at)
			VALUES ($1, $2, 'registry.example/app:1', '{trivy}', $3, $4, 'import', CASE WHEN $4 = 'cancelled' THEN now() END)`,
			id, e.tenant, "scan/"+id.String(), status); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := e.acts.RecordUsage(ctx, scan.Ref{TenantID: e.tenant, ScanID: cancelled})
	if err != nil {
		t.Fatal(err)
	}
	if ev.DurationMS != 0 || ev.StartedAt != nil || ev.Status != "cancelled" || ev.Source != "import" || ev.Findings != 0 {
		t.Errorf("cancelled before start: %+v", ev)
	}

	_, err = e.acts.RecordUsage(ctx, scan.Ref{TenantID: e.tenant, ScanID: running})
	if appErrType(err) != scan.ErrScanNotFinished {
		t.Errorf("running scan: %v, want %s", err, scan.ErrScanNotFinished)
	}
	if n := e.usageRows(running); n != 0 {
		t.Errorf("running scan recorded %d times", n)
	}
	_, err = e.acts.RecordUsage(ctx, scan.Ref{TenantID: e.tenant, ScanID: uuid.New()})
	if appErrType(err) != scan.ErrScanGone {
		t.Errorf("missing scan: %v, want %s", err, scan.ErrScanGone)
	}
}
