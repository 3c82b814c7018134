package gateflow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/secureops/secureops/internal/contract/gate"
	"github.com/secureops/secureops/workflows/gateflow"
)

type harness struct {
	env    *testsuite.TestWorkflowEnvironment
	grants []string
}

func newHarness() *harness {
	var s testsuite.WorkflowTestSuite
	h := &harness{env: s.NewTestWorkflowEnvironment()}
	gateflow.Register(h.env)
	h.env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", gate.SignalGranted, mock.Anything).Return(
		func(_ string, workflowID, _ string, _ string, _ interface{}) error {
			h.grants = append(h.grants, workflowID)
			return nil
		})
	return h
}

func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

func (h *harness) acquire(id string, limit int) {
	h.env.SignalWorkflow(gate.SignalAcquire, gate.AcquireRequest{ScanWorkflowID: id, Limit: limit})
}

func (h *harness) release(id string) {
	h.env.SignalWorkflow(gate.SignalRelease, gate.ReleaseRequest{ScanWorkflowID: id})
}

func (h *harness) state() gate.State {
	v, err := h.env.QueryWorkflow(gate.QueryState)
	if err != nil {
		panic(err)
	}
	var st gate.State
	_ = v.Get(&st)
	return st
}

// Six scans against a limit of two: two run, four wait in arrival order, and
// each release lets exactly the next one in.
func TestLimitAndOrder(t *testing.T) {
	h := newHarness()
	var afterBurst, afterOne gate.State
	var grantsAfterBurst int
	h.at(time.Second, func() {
		for i := 1; i <= 6; i++ {
			h.acquire(fmt.Sprintf("scan/%d", i), 2)
		}
	})
	h.at(2*time.Second, func() { afterBurst = h.state(); grantsAfterBurst = len(h.grants) })
	h.at(3*time.Second, func() { h.release("scan/2") })
	h.at(4*time.Second, func() { afterOne = h.state() })
	h.at(5*time.Second, func() {
		for _, id := range []string{"scan/1", "scan/3", "scan/4", "scan/5", "scan/6"} {
			h.release(id)
		}
	})
	h.env.ExecuteWorkflow(gate.WorkflowName, gate.Input{TenantID: uuid.New()})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if grantsAfterBurst != 2 || len(afterBurst.Running) != 2 || len(afterBurst.Queue) != 4 {
		t.Fatalf("after the burst: %d grants, state %+v; want 2 running, 4 queued", grantsAfterBurst, afterBurst)
	}
	if fmt.Sprint(afterOne.Running) != "[scan/1 scan/3]" || fmt.Sprint(ids(afterOne.Queue)) != "[scan/4 scan/5 scan/6]" {
		t.Errorf("after one release: %+v", afterOne)
	}
	want := "[scan/1 scan/2 scan/3 scan/4 scan/5 scan/6]"
	if fmt.Sprint(h.grants) != want {
		t.Errorf("grant order %v, want %s", h.grants, want)
	}
	// With nothing left the gate ends after its idle time (the next scan
	// starts it again).
	if !h.env.IsWorkflowCompleted() {
		t.Error("idle gate did not end")
	}
}

// A reset scan asks again for the slot it holds: it gets it again, without
// taking a second slot.
func TestReacquireByHolderIsGrantedAgain(t *testing.T) {
	h := newHarness()
	var st gate.State
	h.at(time.Second, func() { h.acquire("scan/a", 1) })
	h.at(2*time.Second, func() { h.acquire("scan/b", 1) })
	h.at(3*time.Second, func() { h.acquire("scan/a", 1) })
	h.at(4*time.Second, func() { st = h.state() })
	h.at(5*time.Second, func() { h.release("scan/a"); h.release("scan/b") })
	h.env.ExecuteWorkflow(gate.WorkflowName, gate.Input{TenantID: uuid.New()})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(st.Running) != "[scan/a]" || fmt.Sprint(ids(st.Queue)) != "[scan/b]" {
		t.Errorf("state %+v", st)
	}
	if fmt.Sprint(h.grants) != "[scan/a scan/a scan/b]" {
		t.Errorf("grants %v", h.grants)
	}
}

func ids(q []gate.Waiter) []string {
	var out []string
	for _, w := range q {
		out = append(out, w.ScanWorkflowID)
	}
	return out
}

// Scans reach the gate in any order; the queue serves them in the order they
// were requested.
func TestQueueServesRequestOrder(t *testing.T) {
	h := newHarness()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	req := func(id string, at int) {
		h.env.SignalWorkflow(gate.SignalAcquire, gate.AcquireRequest{ScanWorkflowID: id, Limit: 1, RequestedAt: t0.Add(time.Duration(at) * time.Second)})
	}
	var st gate.State
	h.at(time.Second, func() { req("scan/first", 0); req("scan/late", 30); req("scan/early", 10); req("scan/mid", 20) })
	h.at(2*time.Second, func() { st = h.state() })
	for i, id := range []string{"scan/first", "scan/early", "scan/mid", "scan/late"} {
		h.at(time.Duration(3+i)*time.Second, func() { h.release(id) })
	}
	h.env.ExecuteWorkflow(gate.WorkflowName, gate.Input{TenantID: uuid.New()})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids(st.Queue)) != "[scan/early scan/mid scan/late]" {
		t.Errorf("queue %v", ids(st.Queue))
	}
	if fmt.Sprint(h.grants) != "[scan/first scan/early scan/mid scan/late]" {
		t.Errorf("grants %v", h.grants)
	}
}

// A slot whose scan ended without releasing it (terminated from the Web UI)
// is reclaimed at the next lease check, and the next waiter runs.
func TestLeaseReclaimsSlotsOfEndedScans(t *testing.T) {
	h := newHarness()
	var ended []string
	gate.Ended.Register(h.env, func(_ context.Context, ids []string) ([]string, error) {
		if ended == nil {
			ended = ids // the first lease check: only the terminated scan holds a slot
		}
		var gone []string
		for _, id := range ids {
			if id == "scan/terminated" {
				gone = append(gone, id)
			}
		}
		return gone, nil
	})
	h.at(time.Second, func() { h.acquire("scan/terminated", 1); h.acquire("scan/next", 1) })
	h.at(10*time.Minute, func() { h.release("scan/next") })
	h.env.ExecuteWorkflow(gate.WorkflowName, gate.Input{TenantID: uuid.New()})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(h.grants) != "[scan/terminated scan/next]" {
		t.Errorf("grants %v", h.grants)
	}
	if fmt.Sprint(ended) != "[scan/terminated]" {
		t.Errorf("lease check asked about %v", ended)
	}
}

// The API joins a busy tenant's scans several at a time: one acquire-many
// signal queues them like as many acquire signals, in request order,
// ignoring a scan the gate knows already.
func TestAcquireManyQueuesInRequestOrder(t *testing.T) {
	h := newHarness()
	base := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var afterBatch gate.State
	h.at(time.Second, func() {
		h.env.SignalWorkflow(gate.SignalAcquire, gate.AcquireRequest{ScanWorkflowID: "scan/0", Limit: 1, RequestedAt: base})
		h.env.SignalWorkflow(gate.SignalAcquire, gate.AcquireRequest{ScanWorkflowID: "scan/1", Limit: 1, RequestedAt: base.Add(time.Second)})
	})
	h.at(2*time.Second, func() {
		h.env.SignalWorkflow(gate.SignalAcquireMany, []gate.AcquireRequest{
			{ScanWorkflowID: "scan/3", Limit: 1, RequestedAt: base.Add(3 * time.Second)},
			{ScanWorkflowID: "scan/2", Limit: 1, RequestedAt: base.Add(2 * time.Second)},
			{ScanWorkflowID: "scan/1", Limit: 1, RequestedAt: base.Add(time.Second)},
		})
	})
	h.at(3*time.Second, func() { afterBatch = h.state() })
	h.at(4*time.Second, func() {
		for _, id := range []string{"scan/0", "scan/1", "scan/2", "scan/3"} {
			h.release(id)
		}
	})
	h.env.ExecuteWorkflow(gate.WorkflowName, gate.Input{TenantID: uuid.New()})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(afterBatch.Running) != "[scan/0]" || fmt.Sprint(ids(afterBatch.Queue)) != "[scan/1 scan/2 scan/3]" {
		t.Errorf("after the batch: %+v", afterBatch)
	}
	if want := "[scan/0 scan/1 scan/2 scan/3]"; fmt.Sprint(h.grants) != want {
		t.Errorf("grant order %v, want %s", h.grants, want)
	}
}
