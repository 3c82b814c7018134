package scan

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	adojo "github.com/secureops/secureops/activities/defectdojo"
	agate "github.com/secureops/secureops/activities/gate"
	"github.com/secureops/secureops/activities/scanner"
	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/workflows/gate"
	"github.com/secureops/secureops/workflows/notify"
)

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(ScanWorkflow, RegisterOptions())
	// Real signatures registered under the production names; OnActivity replaces the bodies.
	st := &store.Activities{}
	sc := &scanner.Activities{}
	env.RegisterActivityWithOptions(st.ScanMarkRunning, activity.RegisterOptions{Name: store.ScanMarkRunningName})
	env.RegisterActivityWithOptions(st.IngestReport, activity.RegisterOptions{Name: store.IngestReportName})
	env.RegisterActivityWithOptions(st.ScanFinish, activity.RegisterOptions{Name: store.ScanFinishName})
	env.RegisterActivityWithOptions(st.ScanAuthorize, activity.RegisterOptions{Name: store.ScanAuthorizeName})
	env.RegisterActivityWithOptions(sc.Run, activity.RegisterOptions{Name: scanner.RunName})
	ga := &agate.Activities{}
	env.RegisterActivityWithOptions(st.RecordUsage, activity.RegisterOptions{Name: store.RecordUsageName})
	da := &adojo.Activities{}
	env.RegisterActivityWithOptions(da.Reimport, activity.RegisterOptions{Name: adojo.ReimportName})
	env.RegisterWorkflowWithOptions(notify.NotifyWorkflow, notify.RegisterOptions())
	env.RegisterActivityWithOptions(st.ScanClaim, activity.RegisterOptions{Name: store.ScanClaimName})
	env.RegisterActivityWithOptions(ga.Acquire, activity.RegisterOptions{Name: agate.AcquireName})
	// Ownership is tested against Postgres in activities/store; here it
	// passes, and the tenant's gate grants a slot at once.
	env.OnActivity(store.ScanAuthorizeName, mock.Anything, mock.Anything).Return(store.AuthorizeResult{Tier: "basic", Limit: 2}, nil).Maybe()
	env.OnActivity(store.ScanClaimName, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(agate.AcquireName, mock.Anything, mock.Anything).Return(func(ctx context.Context, in agate.AcquireInput) error {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(gate.SignalGranted, nil) }, time.Millisecond)
		return nil
	}).Maybe()
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", gate.SignalRelease, mock.Anything).Return(nil).Maybe()
	env.OnActivity(adojo.ReimportName, mock.Anything, mock.Anything).Return(adojo.ReimportResult{Skipped: "not configured"}, nil).Maybe()
	env.OnActivity(store.RecordUsageName, mock.Anything, mock.Anything).Return(store.UsageEvent{}, nil).Maybe()
	env.OnWorkflow(notify.WorkflowName, mock.Anything, mock.Anything).Return(nil).Maybe()
	return env
}

func input() Input {
	return Input{TenantID: uuid.New(), ScanID: uuid.New(), Target: "127.0.0.1:8000", Scanners: []string{"nmap"}}
}

func TestScanHappyPath(t *testing.T) {
	env := newEnv(t)
	in := input()
	report := uuid.New()
	env.OnActivity(store.ScanMarkRunningName, mock.Anything, store.ScanRef{TenantID: in.TenantID, ScanID: in.ScanID}).Return(nil).Once()
	env.OnActivity(scanner.RunName, mock.Anything, scanner.RunInput{TenantID: in.TenantID, ScanID: in.ScanID, Scanner: "nmap", Target: in.Target}).
		Return(scanner.RunResult{ReportID: report, Scanner: "nmap"}, nil).Once()
	env.OnActivity(store.IngestReportName, mock.Anything, store.IngestInput{TenantID: in.TenantID, ScanID: in.ScanID, ReportID: report, Scanner: "nmap"}).
		Return(db.IngestResult{Staged: 2, Upserted: 2, Linked: 2}, nil).Once()
	env.OnActivity(store.ScanFinishName, mock.Anything, store.FinishInput{TenantID: in.TenantID, ScanID: in.ScanID, Status: "completed"}).
		Return(store.Counts{Info: 2}, nil).Once()

	env.ExecuteWorkflow(ScanWorkflow, in)
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var res Result
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != "completed" || res.Findings != 2 || res.Counts["info"] != 2 {
		t.Fatalf("result %+v", res)
	}
	v, err := env.QueryWorkflow(QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	if p.Status != "completed" || p.Percent != 100 || p.Scanners[0].State != "done" || p.Scanners[0].Findings != 2 {
		t.Fatalf("progress %+v", p)
	}
	env.AssertExpectations(t)
}

func TestScanRefusedTargetFailsWithoutRetry(t *testing.T) {
	env := newEnv(t)
	in := input()
	calls := 0
	env.OnActivity(store.ScanMarkRunningName, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(scanner.RunName, mock.Anything, mock.Anything).Return(func(context.Context, scanner.RunInput) (scanner.RunResult, error) {
		calls++
		return scanner.RunResult{}, temporal.NewNonRetryableApplicationError("target not allowed: 10.0.0.1 is a private address", scanner.ErrTargetNotAllowed, nil)
	})
	var finished store.FinishInput
	env.OnActivity(store.ScanFinishName, mock.Anything, mock.Anything).Return(func(_ context.Context, f store.FinishInput) (store.Counts, error) {
		finished = f
		return store.Counts{}, nil
	})
	env.ExecuteWorkflow(ScanWorkflow, in)
	err := env.GetWorkflowError()
	if err == nil {
		t.Fatal("workflow succeeded for a refused target")
	}
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != scanner.ErrTargetNotAllowed {
		t.Fatalf("error %v, want %s", err, scanner.ErrTargetNotAllowed)
	}
	if calls != 1 {
		t.Fatalf("scanner ran %d times, want 1 (non-retryable)", calls)
	}
	if finished.Status != "failed" || !strings.Contains(finished.Error, "private address") {
		t.Fatalf("finish %+v, want failed with the reason", finished)
	}
}

func TestScanTransientScannerErrorIsRetried(t *testing.T) {
	env := newEnv(t)
	in := input()
	calls := 0
	env.OnActivity(store.ScanMarkRunningName, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(scanner.RunName, mock.Anything, mock.Anything).Return(func(context.Context, scanner.RunInput) (scanner.RunResult, error) {
		calls++
		if calls == 1 {
			return scanner.RunResult{}, errors.New("nmap crashed")
		}
		return scanner.RunResult{ReportID: uuid.New(), Scanner: "nmap"}, nil
	})
	env.OnActivity(store.IngestReportName, mock.Anything, mock.Anything).Return(db.IngestResult{}, nil)
	env.OnActivity(store.ScanFinishName, mock.Anything, mock.Anything).Return(store.Counts{}, nil)
	env.ExecuteWorkflow(ScanWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("scanner ran %d times, want 2", calls)
	}
}

func TestScanCancelRecordsCancelled(t *testing.T) {
	env := newEnv(t)
	in := input()
	env.OnActivity(store.ScanMarkRunningName, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(scanner.RunName, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ scanner.RunInput) (scanner.RunResult, error) {
		// A long scan that only ends when cancelled.
		for {
			select {
			case <-ctx.Done():
				return scanner.RunResult{}, ctx.Err()
			case <-time.After(10 * time.Millisecond):
				activity.RecordHeartbeat(ctx, 10)
			}
		}
	})
	var finished store.FinishInput
	env.OnActivity(store.ScanFinishName, mock.Anything, mock.Anything).Return(func(_ context.Context, f store.FinishInput) (store.Counts, error) {
		finished = f
		return store.Counts{}, nil
	})
	// While an activity runs the test clock moves in real time, so keep this short.
	env.RegisterDelayedCallback(env.CancelWorkflow, 500*time.Millisecond)
	env.ExecuteWorkflow(ScanWorkflow, in)
	if err := env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("error %v, want cancelled", err)
	}
	if finished.Status != "cancelled" {
		t.Fatalf("finish %+v, want cancelled", finished)
	}
}
