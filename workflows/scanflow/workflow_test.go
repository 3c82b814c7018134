package scanflow

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
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/activities/defectdojo"
	"github.com/secureops/secureops/activities/ownership"
	"github.com/secureops/secureops/activities/scanner"
	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/activities/temporalops"
	"github.com/secureops/secureops/internal/contract/gate"
	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/contract/triage"
	"github.com/secureops/secureops/workflows/notifyflow"
	"github.com/secureops/secureops/workflows/triageflow"
)

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment { return newEnvProving(t, true) }

// newEnvProving leaves the ownership proof to the test when proves is false.
func newEnvProving(t *testing.T, proves bool) *testsuite.TestWorkflowEnvironment {
	return newEnvWith(t, proves, scan.Authorization{Tier: "basic", Limit: 2})
}

// newEnvWith authorizes every scan with auth.
func newEnvWith(t *testing.T, proves bool, auth scan.Authorization) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env)
	notifyflow.Register(env)
	triageflow.Register(env)
	// Real signatures registered under the production names; OnActivity replaces the bodies.
	store.Register(env, &store.Activities{})
	scanner.Register(env, &scanner.Activities{})
	temporalops.Register(env, &temporalops.Activities{})
	defectdojo.Register(env, &defectdojo.Activities{})
	ownership.Register(env, &ownership.Activities{})
	// Ownership is tested against Postgres in activities/store; here it
	// passes, and the tenant's gate grants a slot at once.
	env.OnActivity(scan.Authorize.Name, mock.Anything, mock.Anything).Return(auth, nil).Maybe()
	env.OnActivity(scan.Claim.Name, mock.Anything, mock.Anything).Return(nil).Maybe()
	if proves {
		env.OnActivity(scan.ProveOwnership.Name, mock.Anything, mock.Anything).Return(scan.Proof{Address: provenAddress, Method: "http"}, nil).Maybe()
	}
	env.OnActivity(gate.Acquire.Name, mock.Anything, mock.Anything).Return(func(ctx context.Context, in gate.AcquireInput) error {
		gates[env] = append(gates[env], gate.WorkflowID(in.TenantID))
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(gate.SignalGranted, nil) }, time.Millisecond)
		return nil
	}).Maybe()
	counter := new(int)
	releases[env] = counter
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", gate.SignalRelease, mock.Anything).Return(
		func(_, workflowID, _, _ string, _ any) error {
			if strings.HasPrefix(workflowID, "scan-gate/") {
				gates[env] = append(gates[env], workflowID)
				*counter++
			}
			return nil
		}).Maybe()
	env.OnActivity(scan.Reimport.Name, mock.Anything, mock.Anything).Return(scan.ReimportResult{Skipped: "not configured"}, nil).Maybe()
	env.OnActivity(scan.RecordUsage.Name, mock.Anything, mock.Anything).Return(scan.UsageEvent{}, nil).Maybe()
	env.OnWorkflow(notify.WorkflowName, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnWorkflow(triage.WorkflowName, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in triage.Input) (triage.Result, error) {
			triaged[env] = append(triaged[env], in)
			return triage.Result{}, nil
		}).Maybe()
	return env
}

// triaged lists, per test environment, the triage children started.
var triaged = map[*testsuite.TestWorkflowEnvironment][]triage.Input{}

// releases counts, per test environment, the slot releases sent to the
// tenant's gate.
var releases = map[*testsuite.TestWorkflowEnvironment]*int{}

// gates lists, per environment, the gates a scan acquired from and released to.
var gates = map[*testsuite.TestWorkflowEnvironment][]string{}

// released asserts the scan gave its slot back exactly once, while it ran:
// not reclaimed later by the gate's sweep.
func released(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
	t.Helper()
	if n := *releases[env]; n != 1 {
		t.Errorf("the gate heard %d releases, want exactly 1", n)
	}
}

// provenAddress is where the ownership proof held: the scanners go there.
const provenAddress = "127.0.0.1"

func input() scan.Input {
	return scan.Input{TenantID: uuid.New(), ScanID: uuid.New(), Target: "127.0.0.1:8000", Scanners: []string{"nmap"}}
}

func TestScanHappyPath(t *testing.T) {
	env := newEnv(t)
	in := input()
	report := uuid.New()
	env.OnActivity(scan.MarkRunning.Name, mock.Anything, scan.Ref{TenantID: in.TenantID, ScanID: in.ScanID}).Return(nil).Once()
	env.OnActivity(scan.RunScanner.Name, mock.Anything, scan.RunInput{TenantID: in.TenantID, ScanID: in.ScanID, Scanner: "nmap", Target: in.Target, Address: provenAddress}).
		Return(scan.RunResult{ReportID: report, Scanner: "nmap"}, nil).Once()
	env.OnActivity(scan.IngestReport.Name, mock.Anything, scan.IngestInput{TenantID: in.TenantID, ScanID: in.ScanID, ReportID: report, Scanner: "nmap"}).
		Return(scan.IngestResult{Staged: 2, Upserted: 2, Linked: 2}, nil).Once()
	env.OnActivity(scan.Finish.Name, mock.Anything, scan.FinishInput{TenantID: in.TenantID, ScanID: in.ScanID, Status: "completed"}).
		Return(scan.Counts{Info: 2}, nil).Once()

	env.ExecuteWorkflow(ScanWorkflow, in)
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var res scan.Result
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != "completed" || res.Findings != 2 || res.Counts["info"] != 2 {
		t.Fatalf("result %+v", res)
	}
	v, err := env.QueryWorkflow(scan.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p scan.Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	if p.Status != "completed" || p.Percent != 100 || p.Scanners[0].State != "done" || p.Scanners[0].Findings != 2 {
		t.Fatalf("progress %+v", p)
	}
	env.AssertExpectations(t)
	released(t, env)
	// A completed scan is triaged by a child: once, for this scan.
	if got := triaged[env]; len(got) != 1 || got[0] != (triage.Input{TenantID: in.TenantID, ScanID: in.ScanID}) {
		t.Fatalf("triage children %+v", got)
	}
}

func TestScanRefusedTargetFailsWithoutRetry(t *testing.T) {
	env := newEnv(t)
	in := input()
	calls := 0
	env.OnActivity(scan.MarkRunning.Name, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(scan.RunScanner.Name, mock.Anything, mock.Anything).Return(func(context.Context, scan.RunInput) (scan.RunResult, error) {
		calls++
		return scan.RunResult{}, temporal.NewNonRetryableApplicationError("target not allowed: 10.0.0.1 is a private address", scan.ErrTargetNotAllowed, nil)
	})
	var finished scan.FinishInput
	env.OnActivity(scan.Finish.Name, mock.Anything, mock.Anything).Return(func(_ context.Context, f scan.FinishInput) (scan.Counts, error) {
		finished = f
		return scan.Counts{}, nil
	})
	env.ExecuteWorkflow(ScanWorkflow, in)
	err := env.GetWorkflowError()
	if err == nil {
		t.Fatal("workflow succeeded for a refused target")
	}
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != scan.ErrTargetNotAllowed {
		t.Fatalf("error %v, want %s", err, scan.ErrTargetNotAllowed)
	}
	if calls != 1 {
		t.Fatalf("scanner ran %d times, want 1 (non-retryable)", calls)
	}
	if finished.Status != "failed" || !strings.Contains(finished.Error, "private address") {
		t.Fatalf("finish %+v, want failed with the reason", finished)
	}
	released(t, env)
	if len(triaged[env]) != 0 {
		t.Fatalf("a failed scan was triaged: %+v", triaged[env])
	}
}

func TestScanTransientScannerErrorIsRetried(t *testing.T) {
	env := newEnv(t)
	in := input()
	calls := 0
	env.OnActivity(scan.MarkRunning.Name, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(scan.RunScanner.Name, mock.Anything, mock.Anything).Return(func(context.Context, scan.RunInput) (scan.RunResult, error) {
		calls++
		if calls == 1 {
			return scan.RunResult{}, errors.New("nmap crashed")
		}
		return scan.RunResult{ReportID: uuid.New(), Scanner: "nmap"}, nil
	})
	env.OnActivity(scan.IngestReport.Name, mock.Anything, mock.Anything).Return(scan.IngestResult{}, nil)
	env.OnActivity(scan.Finish.Name, mock.Anything, mock.Anything).Return(scan.Counts{}, nil)
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
	env.OnActivity(scan.MarkRunning.Name, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(scan.RunScanner.Name, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ scan.RunInput) (scan.RunResult, error) {
		// A long scan that only ends when cancelled.
		for {
			select {
			case <-ctx.Done():
				return scan.RunResult{}, ctx.Err()
			case <-time.After(10 * time.Millisecond):
				activity.RecordHeartbeat(ctx, 10)
			}
		}
	})
	var finished scan.FinishInput
	env.OnActivity(scan.Finish.Name, mock.Anything, mock.Anything).Return(func(_ context.Context, f scan.FinishInput) (scan.Counts, error) {
		finished = f
		return scan.Counts{}, nil
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
	released(t, env)
}

// A proof that no longer holds fails the scan before any scanner runs, and
// the tenant reads why.
func TestScanFailsWhenTheProofNoLongerHolds(t *testing.T) {
	env := newEnvProving(t, false)
	in := input()
	msg := "the ownership proof of example.com no longer holds: no TXT record at _secureops-challenge.example.com"
	env.OnActivity(scan.ProveOwnership.Name, mock.Anything, scan.Ref{TenantID: in.TenantID, ScanID: in.ScanID}).
		Return(scan.Proof{}, temporal.NewNonRetryableApplicationError(msg, scan.ErrTargetNotVerified, nil)).Once()
	env.OnActivity(scan.MarkRunning.Name, mock.Anything, mock.Anything).Return(nil).Once()
	var finished scan.FinishInput
	env.OnActivity(scan.Finish.Name, mock.Anything, mock.Anything).Return(func(_ context.Context, f scan.FinishInput) (scan.Counts, error) {
		finished = f
		return scan.Counts{}, nil
	}).Once()
	env.ExecuteWorkflow(ScanWorkflow, in)
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("the scan succeeded without a proof")
	}
	env.AssertNotCalled(t, scan.RunScanner.Name, mock.Anything, mock.Anything)
	if finished.Status != "failed" || finished.Error != msg {
		t.Errorf("the scan ended %q with %q, want failed with the proof's reason", finished.Status, finished.Error)
	}
	released(t, env)
}

// A sub-tenant's scan queues at, and releases its slot to, its tree root's
// gate (scan.Authorization.GateTenantID).
func TestScanUsesTheRootsGate(t *testing.T) {
	root := uuid.New()
	env := newEnvWith(t, true, scan.Authorization{Tier: "pro", Limit: 10, GateTenantID: root})
	in := input()
	env.OnActivity(scan.MarkRunning.Name, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(scan.RunScanner.Name, mock.Anything, mock.Anything).Return(scan.RunResult{ReportID: uuid.New(), Scanner: "nmap"}, nil)
	env.OnActivity(scan.IngestReport.Name, mock.Anything, mock.Anything).Return(scan.IngestResult{}, nil)
	env.OnActivity(scan.Finish.Name, mock.Anything, mock.Anything).Return(scan.Counts{}, nil)
	env.ExecuteWorkflow(ScanWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := gate.WorkflowID(root)
	if g := gates[env]; len(g) != 2 || g[0] != want || g[1] != want {
		t.Errorf("acquired and released at %v, want both at %s", g, want)
	}
}
