package verifyflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/testsuite"

	"github.com/secureops/secureops/internal/contract/verify"
	"github.com/secureops/secureops/workflows/verifyflow"
)

func run(t *testing.T, in verify.Input, answer func(n int, in verify.CheckInput) verify.CheckResult) ([]verify.CheckInput, []time.Time, verify.CheckResult) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	verifyflow.Register(env)
	var calls []verify.CheckInput
	var at []time.Time
	verify.Check.Register(env, func(ctx context.Context, in verify.CheckInput) (verify.CheckResult, error) {
		calls = append(calls, in)
		at = append(at, env.Now())
		return answer(len(calls), in), nil
	})
	env.ExecuteWorkflow(verify.WorkflowName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res verify.CheckResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return calls, at, res
}

func TestVerifiedOnThirdCheckWithBackoff(t *testing.T) {
	in := verify.Input{TenantID: uuid.New(), TargetID: uuid.New()}
	calls, at, res := run(t, in, func(n int, _ verify.CheckInput) verify.CheckResult {
		if n == 3 {
			return verify.CheckResult{Status: "verified", Method: "dns"}
		}
		return verify.CheckResult{Status: "pending", Detail: "no TXT record"}
	})
	if res.Status != "verified" || len(calls) != 3 {
		t.Fatalf("result %+v after %d checks, want verified after 3", res, len(calls))
	}
	if gap1, gap2 := at[1].Sub(at[0]), at[2].Sub(at[1]); gap1 != time.Minute || gap2 != 2*time.Minute {
		t.Errorf("waits %v, %v; want 1m then 2m (doubling)", gap1, gap2)
	}
	for _, c := range calls {
		if c.Final {
			t.Error("a check well inside the window was marked final")
		}
	}
}

func TestGivesUpAtTheDeadline(t *testing.T) {
	in := verify.Input{TenantID: uuid.New(), TargetID: uuid.New()}
	calls, at, res := run(t, in, func(_ int, c verify.CheckInput) verify.CheckResult {
		if c.Final {
			return verify.CheckResult{Status: "failed", Detail: "no proof found"}
		}
		return verify.CheckResult{Status: "pending"}
	})
	if res.Status != "failed" {
		t.Fatalf("result %+v, want failed", res)
	}
	last := calls[len(calls)-1]
	if !last.Final {
		t.Error("the last check was not final")
	}
	if span := at[len(at)-1].Sub(at[0]); span < 71*time.Hour || span > 72*time.Hour {
		t.Errorf("checked for %v, want close to 72h", span)
	}
	// An hourly cadence once backed off: about 72 checks plus the ramp-up.
	if len(calls) < 60 || len(calls) > 90 {
		t.Errorf("%d checks over 72h, want about 75", len(calls))
	}
}

func TestRecheckSignalChecksEarly(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	verifyflow.Register(env)
	n := 0
	verify.Check.Register(env, func(ctx context.Context, in verify.CheckInput) (verify.CheckResult, error) {
		n++
		if n == 2 {
			return verify.CheckResult{Status: "verified", Method: "http"}, nil
		}
		return verify.CheckResult{Status: "pending"}, nil
	})
	start := env.Now()
	var verifiedAt time.Time
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(verify.SignalRecheck, nil) }, 10*time.Second)
	env.ExecuteWorkflow(verify.WorkflowName, verify.Input{TenantID: uuid.New(), TargetID: uuid.New(), FirstInterval: time.Hour})
	verifiedAt = env.Now()
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if d := verifiedAt.Sub(start); d > time.Minute {
		t.Errorf("verified %v after start; the recheck signal should have cut the 1h wait", d)
	}
}
