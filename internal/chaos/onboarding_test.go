//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/faults"
)

func (e *env) startWorkerWith(name, queues string, extraEnv ...string) *proc {
	p := e.start("worker-"+name, append([]string{"METRICS_ADDR=127.0.0.1:0", "WORKER_QUEUES=" + queues}, extraEnv...), "worker")
	e.workers[name] = p
	return p
}

// armed is the environment that pauses a worker at each point@subject.
func armed(pauseFor time.Duration, points ...string) []string {
	return []string{"SECUREOPS_FAULT_PAUSE=" + strings.Join(points, ","), "SECUREOPS_FAULT_PAUSE_FOR=" + pauseFor.String()}
}

// paused waits until the process's log shows n pauses.
func (e *env) paused(p *proc, n int, within time.Duration) {
	e.t.Helper()
	waitFor(e.t, within, fmt.Sprintf("%d fault points reached in %s", n, p.name), func() bool {
		b, _ := os.ReadFile(p.log)
		return bytes.Count(b, []byte("fault injection: pausing")) >= n
	})
}

type signup struct {
	id, company, workflowID, email string
	tenant                         uuid.UUID
}

// signup posts a sign-up as the public form does.
func (e *env) signup(company, email string) signup {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"company_name": company, "contact_name": "Casey Chaos", "email": email, "tier": "pro"})
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Post(e.apiURL+"/api/v1/signup", "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		SignupID string    `json:"signup_id"`
		TenantID uuid.UUID `json:"tenant_id"`
	}
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &out) != nil || out.TenantID == uuid.Nil {
		e.t.Fatalf("signup %s: %d %s", company, resp.StatusCode, raw)
	}
	var wid string
	if err := e.super.QueryRow(context.Background(), "SELECT workflow_id FROM signups WHERE tenant_id = $1", out.TenantID).Scan(&wid); err != nil {
		e.t.Fatalf("the sign-up's row: %v", err)
	}
	return signup{id: out.SignupID, company: company, workflowID: wid, email: strings.ToLower(email), tenant: out.TenantID}
}

// signupStatus is the public status: overall and each step's state.
func (e *env) signupStatus(s signup) (string, map[string]string) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(e.apiURL + "/api/v1/signup/" + s.id)
	if err != nil {
		return "error: " + err.Error(), nil
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Steps  []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"steps"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Sprintf("error: %d %v", resp.StatusCode, err), nil
	}
	steps := map[string]string{}
	for _, st := range out.Steps {
		steps[st.Name] = st.State
	}
	return out.Status, steps
}

// onboarded is what one sign-up left behind, counted where each system
// keeps it.
type onboarded struct {
	status                        string
	customers, subscriptions      int // objects Stripe would hold (distinct keys)
	stripeRequests, stripeMisfit  int // creates that reached stripe-mock; keys repeated with other parameters
	identities                    int
	welcome, resendRequests, r409 int
	outbox, outboxUnsent          int
	apiKeys, owners, runs         int
	tenantStatus                  string
	stripeIDsStored               bool
}

func (e *env) onboarded(s signup) onboarded {
	e.t.Helper()
	ctx := context.Background()
	var o onboarded
	o.status, _ = e.signupStatus(s)
	tid := s.tenant.String()
	r1, customers, m1 := e.svc.stripe.creates("/v1/customers", formIs("metadata[secureops_tenant_id]", tid))
	r2, subscriptions, m2 := e.svc.stripe.creates("/v1/subscriptions", formIs("metadata[secureops_tenant_id]", tid))
	o.customers, o.subscriptions, o.stripeRequests, o.stripeMisfit = customers, subscriptions, r1+r2, m1+m2
	var err error
	if o.identities, err = e.svc.identities(s.email); err != nil {
		e.t.Error(err)
	}
	o.welcome, o.resendRequests, o.r409 = e.svc.resend.sent("email/welcome/" + tid)
	q := func(sql string, dst ...any) {
		if err := e.super.QueryRow(ctx, sql, s.tenant).Scan(dst...); err != nil {
			e.t.Errorf("%s: %v", sql, err)
		}
	}
	q("SELECT count(*), count(*) FILTER (WHERE sent_at IS NULL) FROM email_outbox WHERE tenant_id = $1 AND idempotency_key LIKE 'email/welcome/%'", &o.outbox, &o.outboxUnsent)
	q("SELECT count(*) FROM api_keys WHERE tenant_id = $1", &o.apiKeys)
	q("SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = 'client_owner'", &o.owners)
	q("SELECT status, stripe_customer_id IS NOT NULL AND stripe_subscription_id IS NOT NULL FROM tenants WHERE id = $1", &o.tenantStatus, &o.stripeIDsStored)
	if o.runs, err = e.runs(s.workflowID); err != nil {
		e.t.Error(err)
	}
	return o
}

// once reports what is not exactly once.
func (o onboarded) once() []string {
	var bad []string
	for _, c := range []struct {
		what string
		n    int
	}{
		{"stripe customers", o.customers}, {"stripe subscriptions", o.subscriptions}, {"kratos identities", o.identities},
		{"welcome emails sent", o.welcome}, {"welcome outbox rows", o.outbox}, {"api keys", o.apiKeys}, {"owners", o.owners},
		{"workflow runs", o.runs},
	} {
		if c.n != 1 {
			bad = append(bad, fmt.Sprintf("%s %d", c.what, c.n))
		}
	}
	if o.status != onboarding.StatusCompleted || o.tenantStatus != "active" || !o.stripeIDsStored || o.outboxUnsent != 0 || o.stripeMisfit != 0 {
		bad = append(bad, fmt.Sprintf("status %s, tenant %s, stripe ids stored %v, outbox unsent %d, stripe keys reused with other parameters %d",
			o.status, o.tenantStatus, o.stripeIDsStored, o.outboxUnsent, o.stripeMisfit))
	}
	return bad
}

// onboardingKills are the steps case 2 kills the worker in, each at the
// point after the step's side effect and before it is recorded.
var onboardingKills = []struct{ step, point string }{
	{onboarding.StepTenant, faults.OnboardingTenant},
	{onboarding.StepStripeCustomer, faults.OnboardingStripeCustomer},
	{onboarding.StepStripeSubscription, faults.OnboardingStripeSubscription},
	{onboarding.StepOwner, faults.OnboardingIdentity},
	{onboarding.StepAPIKey, faults.OnboardingAPIKey},
	{onboarding.StepWelcomeEmail, faults.EmailSent},
}

// Case 2: SIGKILL the onboarding worker inside each step. One sign-up per
// step runs on a worker armed to stop that sign-up inside that step (after
// the side effect: the tenant row committed, Stripe's object created, the
// Kratos identity made, the key committed, Resend's answer received — and
// before it is recorded); once all six stand there, one SIGKILL, and a
// fresh worker takes every step over when its start-to-close timeout ends.
func caseOnboardingWorkerKilled(e *env) {
	t := e.t
	began := time.Now()
	e.workers["onboarding"].stop()
	delete(e.workers, "onboarding")
	var sus []signup
	var points []string
	for i, k := range onboardingKills {
		s := e.signup(fmt.Sprintf("Chaos Two %d %s", i, strings.ReplaceAll(k.step, "_", " ")), fmt.Sprintf("owner%d@chaos-two.test", i))
		sus = append(sus, s)
		points = append(points, k.point+"@"+s.tenant.String())
	}
	w := e.startWorkerWith("onboarding-armed", "onboarding", armed(10*time.Minute, points...)...)
	e.paused(w, len(sus), 2*time.Minute)
	var notInStep []string
	for i, s := range sus {
		if _, steps := e.signupStatus(s); steps[onboardingKills[i].step] != onboarding.StateRunning {
			notInStep = append(notInStep, fmt.Sprintf("%s: %v", onboardingKills[i].step, steps))
		}
	}
	killedAt := time.Now()
	w.kill()
	delete(e.workers, "onboarding-armed")
	e.startWorker("onboarding", "onboarding")
	recovered := map[string]float64{}
	waitFor(t, 5*time.Minute, "every sign-up to finish", func() bool {
		for i, s := range sus {
			if _, ok := recovered[onboardingKills[i].step]; ok {
				continue
			}
			if st, _ := e.signupStatus(s); st != onboarding.StatusRunning && !strings.HasPrefix(st, "error") {
				recovered[onboardingKills[i].step] = round(time.Since(killedAt).Seconds())
			}
		}
		return len(recovered) == len(sus)
	})
	if len(notInStep) > 0 {
		t.Errorf("not killed inside the step: %v", notInStep)
	}
	var sum onboarded
	completed, dups := 0, 0
	worst := 0.0
	for i, s := range sus {
		o := e.onboarded(s)
		if bad := o.once(); len(bad) > 0 {
			t.Errorf("killed in %s: %s", onboardingKills[i].step, strings.Join(bad, "; "))
		}
		if o.status == onboarding.StatusCompleted {
			completed++
		}
		for _, n := range []int{o.customers, o.subscriptions, o.identities, o.welcome, o.outbox, o.apiKeys, o.owners, o.runs} {
			dups += max(n-1, 0)
		}
		sum.customers += o.customers
		sum.subscriptions += o.subscriptions
		sum.stripeRequests += o.stripeRequests
		sum.stripeMisfit += o.stripeMisfit
		sum.identities += o.identities
		sum.welcome += o.welcome
		sum.resendRequests += o.resendRequests
		sum.r409 += o.r409
		worst = max(worst, recovered[onboardingKills[i].step])
	}
	verdict(t, "2 onboarding worker SIGKILLed in each step", began, map[string]any{
		"sign_ups": len(sus), "completed": completed, "killed_to_completed_s": recovered, "killed_to_all_completed_s": worst,
		"stripe_customers": sum.customers, "stripe_subscriptions": sum.subscriptions,
		"stripe_create_requests": sum.stripeRequests, "stripe_keys_reused_with_other_params": sum.stripeMisfit,
		"kratos_identities": sum.identities, "welcome_emails": sum.welcome, "resend_requests": sum.resendRequests,
		"resend_409_key_reused": sum.r409, "duplicates": dups,
	}, "one sign-up per step, all six paused inside their step and killed by one SIGKILL; Stripe objects are the distinct Idempotency-Keys reaching stripe-mock "+
		"(stateless: a repeated key is Stripe's replay, checked to carry the same parameters); recovery is the step's start-to-close timeout (30 s store, 1 min Stripe/Kratos/Resend) plus its retry backoff")
}
