package api

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/contract/gate"
)

// joinRecorder records the gate joins; the first waits for release.
type joinRecorder struct {
	client.Client
	mu      sync.Mutex
	calls   []string
	release chan struct{}
}

func (r *joinRecorder) SignalWithStartWorkflow(_ context.Context, workflowID, signal string, arg any,
	_ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	r.mu.Lock()
	first := len(r.calls) == 0
	var ids []string
	switch a := arg.(type) {
	case gate.AcquireRequest:
		ids = []string{a.ScanWorkflowID}
	case []gate.AcquireRequest:
		for _, x := range a {
			ids = append(ids, x.ScanWorkflowID)
		}
	}
	r.calls = append(r.calls, fmt.Sprint(workflowID, " ", signal, " ", ids))
	r.mu.Unlock()
	if first {
		<-r.release
	}
	return nil, nil
}

// A tenant's joins go one at a time, those queued meanwhile together in
// request order; another tenant's gate does not wait for the first's.
func TestGateJoinsBatchPerTenantInOrder(t *testing.T) {
	rec := &joinRecorder{release: make(chan struct{})}
	s := &Server{Temporal: rec}
	a, b := uuid.New(), uuid.New()
	join := func(tenant uuid.UUID, id string) {
		s.gates.add(rec, nil, gate.AcquireInput{TenantID: tenant, ScanWorkflowID: id, Limit: 2})
	}
	join(a, "scan/1")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		rec.mu.Lock()
		n := len(rec.calls)
		rec.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first join was not sent")
		}
	}
	join(a, "scan/2")
	join(a, "scan/3")
	join(b, "scan/b1")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := s.WaitGateJoins(ctx); err == nil {
		t.Error("WaitGateJoins returned while a join was in flight")
	}
	cancel()
	close(rec.release)
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitGateJoins(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		gate.WorkflowID(a) + " acquire [scan/1]",
		gate.WorkflowID(b) + " acquire [scan/b1]",
		gate.WorkflowID(a) + " acquire-many [scan/2 scan/3]",
	}
	if fmt.Sprint(rec.calls) != fmt.Sprint(want) {
		t.Errorf("joins %v\nwant %v", rec.calls, want)
	}
}
