package intelflow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/intel"
	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/workflows/intelflow"
)

type fakes struct {
	kevErr   error
	kevCalls int
	pages    []intel.PageInput
	total    int // open findings to page through
	pending  []intel.TenantAlerts
	emailed  []uuid.UUID
	notified []notify.Input
	childIDs []string
}

func run(t *testing.T, f *fakes) (intel.Summary, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "intel/refresh-2026-12-03T00:00:00Z"})
	intelflow.Register(env)
	intel.RefreshKEV.Register(env, func(context.Context) (intel.SourceResult, error) {
		f.kevCalls++
		return intel.SourceResult{Source: "kev", Status: "loaded", Rows: 1404}, f.kevErr
	})
	intel.RefreshEPSS.Register(env, func(context.Context) (intel.SourceResult, error) {
		return intel.SourceResult{Source: "epss", Status: "skipped"}, nil
	})
	intel.Reprioritize.Register(env, func(_ context.Context, in intel.PageInput) (intel.Page, error) {
		f.pages = append(f.pages, in)
		done := len(f.pages) * in.Limit
		seen := in.Limit
		if done >= f.total {
			seen = f.total - (len(f.pages)-1)*in.Limit
		}
		p := intel.Page{Seen: seen, Updated: int64(seen), Alerts: 1, Done: seen < in.Limit}
		if seen > 0 {
			p.Last = uuid.NewSHA1(uuid.Nil, []byte{byte(len(f.pages))})
		}
		return p, nil
	})
	intel.PendingAlerts.Register(env, func(context.Context) ([]intel.TenantAlerts, error) { return f.pending, nil })
	intel.KEVEmails.Register(env, func(_ context.Context, in intel.KEVEmailsInput) (intel.KEVEmailsResult, error) {
		f.emailed = append(f.emailed, in.TenantID)
		return intel.KEVEmailsResult{Emails: 2, Batches: 1}, nil
	})
	notify.Workflow.Register(env, func(ctx workflow.Context, in notify.Input) (notify.Result, error) {
		f.notified = append(f.notified, in)
		f.childIDs = append(f.childIDs, workflow.GetInfo(ctx).WorkflowExecution.ID)
		return notify.Result{Delivered: len(in.DeliveryIDs)}, nil
	})
	env.ExecuteWorkflow(intel.WorkflowName)
	if !env.IsWorkflowCompleted() {
		t.Fatal("refresh did not complete")
	}
	var sum intel.Summary
	if err := env.GetWorkflowError(); err != nil {
		return sum, err
	}
	if err := env.GetWorkflowResult(&sum); err != nil {
		t.Fatal(err)
	}
	return sum, nil
}

// A refresh pages through every open finding, passing each page the last
// id of the one before, then emails and notifies each tenant with alerts.
func TestRefreshPagesAndAlerts(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	d1, d2 := uuid.New(), uuid.New()
	f := &fakes{total: 2*intel.PageSize + 17, pending: []intel.TenantAlerts{
		{TenantID: a, Email: true, DeliveryIDs: []uuid.UUID{d1, d2}},
		{TenantID: b, Email: true},
	}}
	sum, err := run(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.pages) != 3 || sum.Pages != 3 || sum.Findings != f.total {
		t.Fatalf("%d pages, summary %+v; want 3 pages over %d findings", len(f.pages), sum, f.total)
	}
	for i, p := range f.pages {
		want := uuid.Nil
		if i > 0 {
			want = uuid.NewSHA1(uuid.Nil, []byte{byte(i)})
		}
		if p.After != want || p.BatchKey != "intel/refresh-2026-12-03T00:00:00Z" || p.Limit != intel.PageSize {
			t.Errorf("page %d input %+v", i, p)
		}
	}
	if len(f.emailed) != 2 || len(f.notified) != 1 || f.notified[0].TenantID != a || len(f.notified[0].DeliveryIDs) != 2 {
		t.Fatalf("emailed %v, notified %+v", f.emailed, f.notified)
	}
	if f.childIDs[0] != "notify/kev/"+a.String()+"/"+d1.String() {
		t.Errorf("notify child id %q", f.childIDs[0])
	}
	if sum.Tenants != 2 || sum.Deliveries != 2 || sum.Alerts != 3 || sum.KEV.Rows != 1404 {
		t.Errorf("summary %+v", sum)
	}
}

// A refused KEV file is not retried, does not stop the re-prioritisation,
// and fails the run so operators see it.
func TestRefusedFeedStillReprioritises(t *testing.T) {
	f := &fakes{total: 10, kevErr: temporal.NewNonRetryableApplicationError("KEV file holds 3 rows", intel.ErrRefused, nil)}
	_, err := run(t, f)
	if err == nil {
		t.Fatal("a refused feed did not fail the run")
	}
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v", err)
	}
	if f.kevCalls != 1 {
		t.Errorf("refused file fetched %d times, want once (not retried)", f.kevCalls)
	}
	if len(f.pages) != 1 {
		t.Errorf("%d pages re-prioritised, want 1", len(f.pages))
	}
}

// Nothing pending: no email, no child.
func TestNoAlertsNoNotifications(t *testing.T) {
	f := &fakes{total: 0}
	sum, err := run(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.emailed) != 0 || len(f.notified) != 0 || sum.Pages != 1 || sum.Tenants != 0 {
		t.Fatalf("summary %+v, emailed %v, notified %v", sum, f.emailed, f.notified)
	}
}
