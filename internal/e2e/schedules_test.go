package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/temporalx"
)

func (p *platform) scheduleState(t *testing.T, id string) map[string]any {
	t.Helper()
	code, v := p.do(t, "GET", "/api/v1/schedules/"+id, "", "")
	if code != http.StatusOK {
		t.Fatalf("get schedule: %d %v", code, v)
	}
	st, _ := v["state"].(map[string]any)
	if st == nil {
		t.Fatalf("schedule without Temporal state: %v", v)
	}
	return st
}

func TestSchedules(t *testing.T) {
	p := start(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer web.Close()
	port := web.Listener.Addr().(*net.TCPAddr).Port
	code, tg := p.do(t, "POST", "/api/v1/targets", "application/json", fmt.Sprintf(`{"value":"127.0.0.1:%d"}`, port))
	if code != http.StatusCreated {
		t.Fatalf("target: %d %v", code, tg)
	}
	targetID := tg["id"].(string)
	body := fmt.Sprintf(`{"target_id":%q,"scanners":["secureops"],"interval":"24h","description":"nightly"}`, targetID)

	code, sch := p.do(t, "POST", "/api/v1/schedules", "application/json", body)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, sch)
	}
	id := sch["id"].(string)
	st := sch["state"].(map[string]any)
	if next := st["next_runs"].([]any); len(next) == 0 || st["paused"] != false {
		t.Fatalf("state %v", st)
	}
	if sch["temporal_schedule_id"] != "scan-schedule/"+id {
		t.Errorf("schedule id %v", sch["temporal_schedule_id"])
	}
	// Creating it again is the same schedule.
	if code, again := p.do(t, "POST", "/api/v1/schedules", "application/json", body); code != http.StatusOK || again["id"] != id {
		t.Fatalf("create again: %d %v", code, again)
	}
	if code, page := p.do(t, "GET", "/api/v1/schedules?target_id="+targetID, "", ""); code != http.StatusOK || len(page["items"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, page)
	}

	// Bad specs are refused and save nothing.
	for _, bad := range []string{
		fmt.Sprintf(`{"target_id":%q,"cron":"every tuesday-ish"}`, targetID),
		fmt.Sprintf(`{"target_id":%q,"interval":"10s"}`, targetID),
		fmt.Sprintf(`{"target_id":%q,"interval":"1h","cron":"0 * * * *"}`, targetID),
		fmt.Sprintf(`{"target_id":%q,"interval":"1h","timezone":"Mars/Olympus"}`, targetID),
		fmt.Sprintf(`{"target_id":%q,"interval":"1h","scanners":["trivy"]}`, targetID),
		// Only five-field specs: no seconds, no years, no @every.
		fmt.Sprintf(`{"target_id":%q,"cron":"@every 1s"}`, targetID),
		fmt.Sprintf(`{"target_id":%q,"cron":"* * * * * * *"}`, targetID),
		fmt.Sprintf(`{"target_id":%q,"cron":"*/10 * * * * *"}`, targetID),
	} {
		if code, v := p.do(t, "POST", "/api/v1/schedules", "application/json", bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d %v, want 400", bad, code, v)
		}
	}
	// More often than the tier allows (pro: every 15 minutes at most).
	var tier string
	if err := p.db.InTx(context.Background(), db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT tier FROM tenants WHERE id = $1", p.tenant).Scan(&tier)
	}); err != nil {
		t.Fatal(err)
	}
	floor := map[string]string{"basic": "1h", "pro": "15m", "enterprise": "15m"}[tier]
	for _, tooOften := range []string{
		fmt.Sprintf(`{"target_id":%q,"cron":"* * * * *"}`, targetID),
		fmt.Sprintf(`{"target_id":%q,"cron":"0,5 * * * *"}`, targetID),
		fmt.Sprintf(`{"target_id":%q,"interval":"14m"}`, targetID),
	} {
		code, v := p.do(t, "POST", "/api/v1/schedules", "application/json", tooOften)
		if detail, _ := v["detail"].(string); code != http.StatusUnprocessableEntity || !strings.Contains(detail, "at most one run every") {
			t.Errorf("%s (tier %s, floor %s): %d %v, want 422", tooOften, tier, floor, code, v)
		}
	}
	if _, page := p.do(t, "GET", "/api/v1/schedules", "", ""); len(page["items"].([]any)) != 1 {
		t.Errorf("refused specs were saved: %v", page["items"])
	}

	// Trigger: a run starts a real scan of the target, which completes.
	if code, v := p.do(t, "POST", "/api/v1/schedules/"+id+"/trigger", "", ""); code != http.StatusAccepted {
		t.Fatalf("trigger: %d %v", code, v)
	}
	deadline := time.Now().Add(2 * time.Minute)
	var scanID string
	for scanID == "" {
		_, page := p.do(t, "GET", "/api/v1/scans?target_id="+targetID, "", "")
		for _, it := range page["items"].([]any) {
			if sc := it.(map[string]any); sc["status"] == "completed" {
				scanID = sc["id"].(string)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the triggered run's scan did not complete: %v", page)
		}
		time.Sleep(300 * time.Millisecond)
	}
	recent := p.scheduleState(t, id)["recent_runs"].([]any)
	if len(recent) != 1 || !strings.HasPrefix(recent[0].(map[string]any)["workflow_id"].(string), "scheduled-scan/"+id) {
		t.Errorf("recent runs %v", recent)
	}

	// Pause and resume reach the Temporal Schedule.
	if code, v := p.do(t, "POST", "/api/v1/schedules/"+id+"/pause", "", ""); code != http.StatusOK || v["paused"] != true {
		t.Fatalf("pause: %d %v", code, v)
	}
	if st := p.scheduleState(t, id); st["paused"] != true {
		t.Errorf("Temporal schedule not paused: %v", st)
	}
	if code, _ := p.do(t, "POST", "/api/v1/schedules/"+id+"/resume", "", ""); code != http.StatusOK {
		t.Fatalf("resume: %d", code)
	}
	if st := p.scheduleState(t, id); st["paused"] != false {
		t.Errorf("Temporal schedule still paused: %v", st)
	}

	// A cron in a time zone: the next runs are Mondays 03:00 in Berlin.
	code, sch = p.do(t, "PATCH", "/api/v1/schedules/"+id, "application/json", `{"cron":"0 3 * * 1","timezone":"Europe/Berlin"}`)
	if code != http.StatusOK {
		t.Fatalf("patch: %d %v", code, sch)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, n := range sch["state"].(map[string]any)["next_runs"].([]any) {
		ts, _ := time.Parse(time.RFC3339Nano, n.(string))
		if l := ts.In(berlin); l.Weekday() != time.Monday || l.Hour() != 3 || l.Minute() != 0 {
			t.Errorf("next run %v is not Monday 03:00 in Berlin", l)
		}
	}

	// A suspended tenant's schedules pause; resuming the tenant resumes them.
	setStatus := func(status string) {
		err := p.db.InTx(context.Background(), db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "UPDATE tenants SET status = $2 WHERE id = $1", p.tenant, status)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		run, err := p.temporal.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
			ID: schedule.SyncWorkflowID(p.tenant), TaskQueue: temporalx.QueueScans,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
		}, schedule.SyncWorkflowName, p.tenant)
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Get(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	setStatus("suspended")
	d, err := p.temporal.ScheduleClient().GetHandle(context.Background(), "scan-schedule/"+id).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Schedule.State.Paused || !strings.Contains(d.Schedule.State.Note, "suspended") {
		t.Errorf("suspended tenant's schedule: paused=%v note=%q", d.Schedule.State.Paused, d.Schedule.State.Note)
	}
	setStatus("active")
	if st := p.scheduleState(t, id); st["paused"] != false {
		t.Errorf("schedule still paused after the tenant resumed: %v", st)
	}

	// Deleting the schedule deletes the Temporal Schedule.
	if code, _ := p.do(t, "DELETE", "/api/v1/schedules/"+id, "", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if _, err := p.temporal.ScheduleClient().GetHandle(context.Background(), "scan-schedule/"+id).Describe(context.Background()); err == nil {
		t.Error("Temporal schedule survived its deletion")
	}
}
