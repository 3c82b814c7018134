package triageflow

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/secureops/secureops/activities/triaging"
	"github.com/secureops/secureops/internal/contract/triage"
)

func newEnv(t *testing.T, pending ...uuid.UUID) (*testsuite.TestWorkflowEnvironment, *[]triage.ResolveInput) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env)
	triaging.Register(env, &triaging.Activities{})
	env.OnActivity(triage.Evaluate.Name, mock.Anything, mock.Anything).Return(
		triage.Evaluated{Findings: 5, Pending: pending}, nil)
	resolved := new([]triage.ResolveInput)
	env.OnActivity(triage.Resolve.Name, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in triage.ResolveInput) (triage.Resolved, error) {
			*resolved = append(*resolved, in)
			st := "rejected"
			if in.Approve {
				st = "approved"
			}
			return triage.Resolved{FindingID: in.Verdict.FindingID, Decision: "false_positive", Status: st, Finding: "false_positive"}, nil
		}).Maybe()
	return env, resolved
}

type outcome struct {
	accepted, rejected bool
	err                error
	result             any
}

func callbacks(o *outcome) *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept:   func() { o.accepted = true },
		OnReject:   func(err error) { o.rejected, o.err = true, err },
		OnComplete: func(r any, err error) { o.result = r; o.err = err },
	}
}

var in = triage.Input{TenantID: uuid.New(), ScanID: uuid.New()}

func TestNothingWaits(t *testing.T) {
	env, _ := newEnv(t)
	env.ExecuteWorkflow(TriageWorkflow, in)
	var res triage.Result
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Findings != 5 || res.Proposed != 0 || res.Expired != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestApprovalUpdates(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	env, resolved := newEnv(t, a, b)
	var readonly, unknown, approve, again, reject outcome
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(triage.UpdateApprove, "", callbacks(&readonly),
			triage.Verdict{FindingID: a, Actor: "user:r", Role: "client_readonly"})
		env.UpdateWorkflow(triage.UpdateApprove, "", callbacks(&unknown),
			triage.Verdict{FindingID: uuid.New(), Actor: "user:x", Role: "client_analyst"})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(triage.UpdateApprove, "", callbacks(&approve),
			triage.Verdict{FindingID: a, Actor: "user:x", Role: "client_analyst", Comment: "lab"})
	}, 2*time.Hour)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(triage.UpdateReject, "", callbacks(&again),
			triage.Verdict{FindingID: a, Actor: "user:y", Role: "client_admin"})
		env.UpdateWorkflow(triage.UpdateReject, "", callbacks(&reject),
			triage.Verdict{FindingID: b, Actor: "user:y", Role: "client_admin"})
	}, 3*time.Hour)
	start := env.Now()
	env.ExecuteWorkflow(TriageWorkflow, in)
	var res triage.Result
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if !readonly.rejected || !strings.Contains(readonly.err.Error(), "client_readonly") {
		t.Errorf("a read-only caller: %+v", readonly)
	}
	if !unknown.rejected || !strings.Contains(unknown.err.Error(), "no triage decision waiting") {
		t.Errorf("an unknown finding: %+v", unknown)
	}
	if !approve.accepted || approve.err != nil || approve.result.(triage.Resolved).Status != "approved" {
		t.Errorf("approve: %+v", approve)
	}
	if !again.rejected {
		t.Errorf("a decided finding accepted a second verdict: %+v", again)
	}
	if !reject.accepted || reject.err != nil {
		t.Errorf("reject: %+v", reject)
	}
	if res.Proposed != 2 || res.Approved != 1 || res.Rejected != 1 || res.Expired != 0 {
		t.Errorf("result %+v", res)
	}
	if len(*resolved) != 2 || !(*resolved)[0].Approve || (*resolved)[0].Verdict.Actor != "user:x" ||
		(*resolved)[0].ScanID != in.ScanID || (*resolved)[1].Approve {
		t.Errorf("resolved %+v", *resolved)
	}
	// It ended as soon as nothing waited, long before the window closed.
	if el := env.Now().Sub(start); el > 4*time.Hour {
		t.Errorf("ended after %v", el)
	}
}

func TestApprovalWindowEnds(t *testing.T) {
	a := uuid.New()
	env, resolved := newEnv(t, a)
	start := env.Now()
	env.ExecuteWorkflow(TriageWorkflow, in)
	var res triage.Result
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Expired != 1 || res.Approved != 0 || len(*resolved) != 0 {
		t.Errorf("result %+v, resolved %v", res, *resolved)
	}
	if waited := env.Now().Sub(start); waited < triage.ApprovalWindow || waited > triage.ApprovalWindow+time.Minute {
		t.Errorf("waited %v, want the 14-day window", waited)
	}
}
