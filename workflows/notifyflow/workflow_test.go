package notifyflow_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/workflows/notifyflow"
)

type fakes struct {
	mu       sync.Mutex
	prepared []scan.Ref
	calls    map[uuid.UUID]int
	failed   map[uuid.UUID]string
	prepare  func(scan.Ref) (notify.Prepared, error)
	deliver  func(id uuid.UUID, attempt int) (notify.DeliverResult, error)
}

func run(t *testing.T, in notify.Input, f *fakes) (notify.Result, error) {
	t.Helper()
	f.calls, f.failed = map[uuid.UUID]int{}, map[uuid.UUID]string{}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	notifyflow.Register(env)
	notify.Prepare.Register(env, func(_ context.Context, in scan.Ref) (notify.Prepared, error) {
		f.mu.Lock()
		f.prepared = append(f.prepared, in)
		f.mu.Unlock()
		return f.prepare(in)
	})
	notify.Deliver.Register(env, func(_ context.Context, in notify.DeliveryRef) (notify.DeliverResult, error) {
		f.mu.Lock()
		f.calls[in.DeliveryID]++
		n := f.calls[in.DeliveryID]
		f.mu.Unlock()
		return f.deliver(in.DeliveryID, n)
	})
	notify.MarkFailed.Register(env, func(_ context.Context, in notify.MarkFailedInput) error {
		f.mu.Lock()
		f.failed[in.DeliveryID] = in.Reason
		f.mu.Unlock()
		return nil
	})
	env.ExecuteWorkflow(notify.WorkflowName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		return notify.Result{}, err
	}
	var res notify.Result
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

// Three deliveries in parallel: one at once, one after two 503s, one
// refused for good (not retried, marked failed by the activity itself; the
// workflow's MarkFailed is then a no-op but still called).
func TestWebhookDeliversEachOnItsOwn(t *testing.T) {
	ok, flaky, rejected := uuid.New(), uuid.New(), uuid.New()
	ref := scan.Ref{TenantID: uuid.New(), ScanID: uuid.New()}
	f := &fakes{
		prepare: func(scan.Ref) (notify.Prepared, error) {
			return notify.Prepared{DeliveryIDs: []uuid.UUID{ok, flaky, rejected}}, nil
		},
		deliver: func(id uuid.UUID, attempt int) (notify.DeliverResult, error) {
			switch {
			case id == flaky && attempt < 3:
				return notify.DeliverResult{}, temporal.NewApplicationError("the receiver answered 503 Service Unavailable", notify.ErrDeliveryFailed)
			case id == rejected:
				return notify.DeliverResult{}, temporal.NewNonRetryableApplicationError("the receiver answered 404 Not Found", notify.ErrDeliveryRejected, nil)
			}
			return notify.DeliverResult{Status: "delivered", StatusCode: 200}, nil
		},
	}
	res, err := run(t, notify.Input{TenantID: ref.TenantID, ScanID: ref.ScanID}, f)
	if err != nil {
		t.Fatal(err)
	}
	if res != (notify.Result{Delivered: 2, Failed: 1}) {
		t.Errorf("result %+v", res)
	}
	if len(f.prepared) != 1 || f.prepared[0] != ref {
		t.Errorf("prepared %v, want once for %v", f.prepared, ref)
	}
	if f.calls[ok] != 1 || f.calls[flaky] != 3 || f.calls[rejected] != 1 {
		t.Errorf("attempts %v: want 1, 3 (two retries), 1 (not retried)", f.calls)
	}
	if len(f.failed) != 1 || f.failed[rejected] != "gave up: the receiver answered 404 Not Found" {
		t.Errorf("marked failed %v", f.failed)
	}
}

func TestWebhookGivesUpAfterTheRetryPolicy(t *testing.T) {
	dead := uuid.New()
	f := &fakes{
		prepare: func(scan.Ref) (notify.Prepared, error) {
			return notify.Prepared{DeliveryIDs: []uuid.UUID{dead}}, nil
		},
		deliver: func(uuid.UUID, int) (notify.DeliverResult, error) {
			return notify.DeliverResult{}, temporal.NewApplicationError("dial tcp: connection refused", notify.ErrDeliveryFailed)
		},
	}
	res, err := run(t, notify.Input{TenantID: uuid.New(), ScanID: uuid.New()}, f)
	if err != nil {
		t.Fatal(err)
	}
	if res != (notify.Result{Failed: 1}) {
		t.Errorf("result %+v", res)
	}
	if f.calls[dead] != int(notifyflow.DeliverRetry.MaximumAttempts) {
		t.Errorf("%d attempts, want %d", f.calls[dead], notifyflow.DeliverRetry.MaximumAttempts)
	}
	if f.failed[dead] != "gave up: dial tcp: connection refused" {
		t.Errorf("marked failed with %q", f.failed[dead])
	}
}

// A ping names its delivery: nothing is prepared.
func TestWebhookDeliversGivenDeliveriesWithoutPreparing(t *testing.T) {
	ping := uuid.New()
	f := &fakes{
		prepare: func(scan.Ref) (notify.Prepared, error) { return notify.Prepared{}, errors.New("unexpected") },
		deliver: func(uuid.UUID, int) (notify.DeliverResult, error) {
			return notify.DeliverResult{Status: "delivered", StatusCode: 204}, nil
		},
	}
	res, err := run(t, notify.Input{TenantID: uuid.New(), DeliveryIDs: []uuid.UUID{ping}}, f)
	if err != nil {
		t.Fatal(err)
	}
	if res != (notify.Result{Delivered: 1}) || len(f.prepared) != 0 || f.calls[ping] != 1 {
		t.Errorf("result %+v, prepared %v, calls %v", res, f.prepared, f.calls)
	}
}

func TestWebhookNoneSubscribedDeliversNone(t *testing.T) {
	f := &fakes{
		prepare: func(scan.Ref) (notify.Prepared, error) { return notify.Prepared{}, nil },
		deliver: func(uuid.UUID, int) (notify.DeliverResult, error) {
			t.Error("nothing to deliver, yet Deliver ran")
			return notify.DeliverResult{}, nil
		},
	}
	res, err := run(t, notify.Input{TenantID: uuid.New(), ScanID: uuid.New()}, f)
	if err != nil || res != (notify.Result{}) {
		t.Fatalf("result %+v, %v", res, err)
	}
}

func TestWebhookScanGoneFailsTheWorkflowWithoutRetrying(t *testing.T) {
	f := &fakes{
		prepare: func(scan.Ref) (notify.Prepared, error) {
			return notify.Prepared{}, temporal.NewNonRetryableApplicationError("scan does not exist", notify.ErrScanGone, nil)
		},
	}
	_, err := run(t, notify.Input{TenantID: uuid.New(), ScanID: uuid.New()}, f)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != notify.ErrScanGone || len(f.prepared) != 1 {
		t.Fatalf("error %v after %d prepares, want ScanGone after 1", err, len(f.prepared))
	}
}
