package slaflow_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/workflows/slaflow"
)

var start = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type finding struct {
	id       uuid.UUID
	critical bool
	due      time.Time
}

type notice struct {
	finding uuid.UUID
	stage   string
	at      time.Time // the check's clock
}

// store models what the activities keep in Postgres: the open findings,
// sla_notices (unique per finding and stage), the emails and the deliveries.
type store struct {
	mu        sync.Mutex
	findings  []finding
	notices   []notice
	unemailed int
	emails    int
	pending   []uuid.UUID // finding.sla_breached deliveries not delivered
	delivered []uuid.UUID
	checks    []sla.CheckInput
	until     time.Time // the tenant is suspended from then on (zero: never)
	// failAfterCommit fails this many checks after their transaction committed
	// (the worker died before reporting).
	failAfterCommit int
}

func (s *store) has(id uuid.UUID, stage string) bool {
	for _, n := range s.notices {
		if n.finding == id && n.stage == stage {
			return true
		}
	}
	return false
}

func (s *store) check(_ context.Context, in sla.CheckInput) (sla.CheckResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, in)
	if !s.until.IsZero() && !in.Now.Before(s.until) {
		return sla.CheckResult{}, nil
	}
	res := sla.CheckResult{Active: true}
	for _, f := range s.findings {
		stage := ""
		switch {
		case !f.due.After(in.Now):
			stage = "overdue"
		case !f.due.After(in.Now.Add(sla.DueSoon)):
			stage = "due_soon"
		}
		if stage == "" || s.has(f.id, stage) {
			continue
		}
		s.notices = append(s.notices, notice{f.id, stage, in.Now})
		s.unemailed++
		if stage == "overdue" {
			res.Overdue++
			if f.critical {
				res.Breached++
				s.pending = append(s.pending, uuid.NewSHA1(uuid.Nil, []byte(in.BatchKey)))
			}
		} else {
			res.DueSoon++
		}
	}
	res.Email = s.unemailed > 0
	res.DeliveryIDs = append([]uuid.UUID(nil), s.pending...)
	for _, f := range s.findings {
		for _, t := range []time.Time{f.due.Add(-sla.DueSoon), f.due} {
			if t.After(in.Now) && (res.Next.IsZero() || t.Before(res.Next)) {
				res.Next = t
			}
		}
	}
	if s.failAfterCommit > 0 {
		s.failAfterCommit--
		return sla.CheckResult{}, errors.New("worker lost before reporting")
	}
	return res, nil
}

func (s *store) email(context.Context, sla.EmailsInput) (sla.EmailsResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unemailed == 0 {
		return sla.EmailsResult{}, nil
	}
	s.unemailed = 0
	s.emails++
	return sla.EmailsResult{Emails: 2, Batches: 1}, nil
}

func (s *store) notify(_ workflow.Context, in notify.Input) (notify.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range in.DeliveryIDs {
		s.delivered = append(s.delivered, id)
		for i, p := range s.pending {
			if p == id {
				s.pending = append(s.pending[:i], s.pending[i+1:]...)
				break
			}
		}
	}
	return notify.Result{Delivered: len(in.DeliveryIDs)}, nil
}

func newEnv(s *store, at time.Time) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(at)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: sla.WorkflowID(tenant)})
	slaflow.Register(env)
	sla.Check.Register(env, s.check)
	sla.Emails.Register(env, s.email)
	notify.Workflow.Register(env, s.notify)
	return env
}

var tenant = uuid.MustParse("00000000-0000-0000-0000-00000000000a")

func day(n float64) time.Time { return start.Add(time.Duration(n * float64(24*time.Hour))) }

// Deadlines days ahead fire at their instants, in order: each finding's
// due-soon notice three days before its deadline, its overdue notice at it,
// the critical's breach escalated to a Notify child; each notice once.
func TestDeadlinesFireInOrder(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	s := &store{findings: []finding{
		{id: a, critical: true, due: day(5)},
		{id: b, critical: false, due: day(10.5)},
	}, until: day(14)}
	env := newEnv(s, start)
	env.ExecuteWorkflow(sla.WorkflowName, sla.Input{TenantID: tenant})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not end")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []notice{
		{a, "due_soon", day(2)},
		{a, "overdue", day(5)},
		{b, "due_soon", day(7.5)},
		{b, "overdue", day(10.5)},
	}
	if len(s.notices) != len(want) {
		t.Fatalf("notices %+v, want %+v", s.notices, want)
	}
	for i, n := range s.notices {
		if n != want[i] {
			t.Errorf("notice %d = %+v, want %+v", i, n, want[i])
		}
	}
	if s.emails != 4 {
		t.Errorf("%d email batches, want 4", s.emails)
	}
	if len(s.delivered) != 1 || len(s.pending) != 0 {
		t.Errorf("delivered %v, pending %v; want the one breach delivered", s.delivered, s.pending)
	}
	// It never slept past a deadline nor longer than MaxSleep.
	for i := 1; i < len(s.checks); i++ {
		if gap := s.checks[i].Now.Sub(s.checks[i-1].Now); gap > sla.MaxSleep || gap <= 0 {
			t.Errorf("check %d came %v after the one before", i, gap)
		}
	}
}

// A deadlines-changed signal wakes the workflow at once: a finding due in
// two days, added an hour after the last look, is noticed then, not at the
// next daily look.
func TestSignalMovesWakeUpEarlier(t *testing.T) {
	s := &store{findings: []finding{{id: uuid.New(), due: day(40)}}, until: day(1.5)}
	env := newEnv(s, start)
	late := uuid.New()
	env.RegisterDelayedCallback(func() {
		s.mu.Lock()
		s.findings = append(s.findings, finding{id: late, critical: true, due: start.Add(time.Hour + 2*24*time.Hour)})
		s.mu.Unlock()
		env.SignalWorkflow(sla.SignalDeadlinesChanged, nil)
	}, time.Hour)
	env.ExecuteWorkflow(sla.WorkflowName, sla.Input{TenantID: tenant})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(s.notices) != 1 || s.notices[0].finding != late || s.notices[0].stage != "due_soon" || !s.notices[0].at.Equal(start.Add(time.Hour)) {
		t.Fatalf("notices %+v; want the new finding's due-soon notice at start+1h", s.notices)
	}
	if len(s.checks) < 2 || !s.checks[1].Now.Equal(start.Add(time.Hour)) {
		t.Fatalf("second check at %v, want start+1h", s.checks[1].Now)
	}
}

// Every CyclesPerRun wake-ups the workflow continues as new with only the
// tenant and the absolute time of its next wake-up; the next run sleeps until
// that time before it looks.
func TestContinueAsNewKeepsWakeUp(t *testing.T) {
	s := &store{findings: []finding{{id: uuid.New(), due: day(200)}}}
	env := newEnv(s, start)
	env.ExecuteWorkflow(sla.WorkflowName, sla.Input{TenantID: tenant})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	if len(s.checks) != sla.CyclesPerRun {
		t.Fatalf("%d checks before continuing, want %d", len(s.checks), sla.CyclesPerRun)
	}
	var in sla.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
		t.Fatal(err)
	}
	last := s.checks[len(s.checks)-1].Now
	if in.TenantID != tenant || !in.Wake.Equal(last.Add(sla.MaxSleep)) {
		t.Fatalf("continued with %+v, want wake at %v", in, last.Add(sla.MaxSleep))
	}

	s2 := &store{findings: s.findings, until: in.Wake} // its first look ends it
	env2 := newEnv(s2, last)
	env2.ExecuteWorkflow(sla.WorkflowName, in)
	if err := env2.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(s2.checks) != 1 || !s2.checks[0].Now.Equal(in.Wake) {
		t.Fatalf("the continued run looked at %+v, want once at %v", s2.checks, in.Wake)
	}
}

// A check whose transaction committed but whose result was lost is retried
// with the same clock and batch key, so the activity decides the same batch:
// one notice per finding and stage, one email batch, one delivery.
func TestRetriedCheckNoticesOnce(t *testing.T) {
	id := uuid.New()
	s := &store{findings: []finding{{id: id, critical: true, due: start.Add(-time.Hour)}}, until: day(1), failAfterCommit: 2}
	env := newEnv(s, start)
	env.ExecuteWorkflow(sla.WorkflowName, sla.Input{TenantID: tenant})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(s.checks) < 3 || s.checks[0] != s.checks[1] || s.checks[1] != s.checks[2] {
		t.Fatalf("retries did not repeat the same input: %+v", s.checks)
	}
	if len(s.notices) != 1 || s.emails != 1 || len(s.delivered) != 1 {
		t.Fatalf("notices %+v, email batches %d, delivered %v; want one each", s.notices, s.emails, s.delivered)
	}
	keys := map[string]bool{}
	for _, c := range s.checks {
		keys[c.BatchKey] = true
	}
	ks := make([]string, 0, len(keys))
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) != 2 { // the retried look and the one a day later
		t.Errorf("batch keys %v", ks)
	}
}
