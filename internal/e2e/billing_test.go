package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/secureops/secureops/activities/stripe"
	"github.com/secureops/secureops/api"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/payments"
)

const billingSecret = "whsec_e2e_billing"

type billingEnv struct {
	*platform
	stripe    *stripeProxy
	namespace string
	cust      string
	sub       string
	owner     uuid.UUID
}

// startBilling is the platform with stripe-mock behind the recording proxy,
// the webhook secret, and the default tenant given a Stripe customer,
// subscription and owner.
func startBilling(t *testing.T) *billingEnv {
	t.Helper()
	sp := startStripe(t)
	ns := ""
	p := startWith(t, options{
		configure: func(c *config.Config) {
			c.StripeAPIBase, c.StripeWebhookSecret, c.PublicURL = sp.URL, billingSecret, "http://portal.secureops.test"
			ns = c.TemporalNamespace
		},
		server: func(s *api.Server) {
			s.Billing = api.BillingOptions{WebhookSecret: billingSecret, Stripe: stripe.NewAPI("", sp.URL), PublicURL: "http://portal.secureops.test"}
		},
	})
	e := &billingEnv{platform: p, stripe: sp, namespace: ns, cust: "cus_e2e" + strings.ReplaceAll(p.tenant.String()[:8], "-", ""), sub: "sub_e2e", owner: uuid.New()}
	if err := p.db.InTx(context.Background(), db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.OnboardingTenantSetStripe(ctx, tx, dbq.OnboardingTenantSetStripeParams{ID: p.tenant, StripeCustomerID: &e.cust, StripeSubscriptionID: &e.sub}); err != nil {
			return err
		}
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: e.owner, Name: "Olga Owner", Email: "olga@acme.test"}); err != nil {
			return err
		}
		_, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: e.owner, TenantID: p.tenant, Role: "client_owner"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// webhook signs and posts one event as Stripe would.
func (e *billingEnv) webhook(t *testing.T, spec payments.EventSpec) (int, map[string]any) {
	t.Helper()
	spec.CustomerID, spec.SubscriptionID = e.cust, e.sub
	body, err := payments.Event(spec)
	if err != nil {
		t.Fatal(err)
	}
	return e.post(t, body)
}

func (e *billingEnv) post(t *testing.T, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.api.URL+"/api/v1/stripe/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", payments.Sign(body, billingSecret, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (e *billingEnv) state(t *testing.T) billing.State {
	t.Helper()
	v, err := e.temporal.QueryWorkflow(context.Background(), billing.WorkflowID(e.tenant), "", billing.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st billing.State
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func (e *billingEnv) waitState(t *testing.T, what string, ok func(billing.State) bool) billing.State {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		st := e.state(t)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("billing never %s: %+v", what, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// outbox lists the tenant's billing emails by key.
func (e *billingEnv) outbox(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	if err := e.db.InTx(context.Background(), db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT idempotency_key FROM email_outbox WHERE tenant_id = $1 AND idempotency_key LIKE 'email/billing/%'", e.tenant)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			out[k]++
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func withPrefix(m map[string]int, prefix string) int {
	n := 0
	for k, c := range m {
		if strings.HasPrefix(k, prefix) {
			n += c
		}
	}
	return n
}

// meterCalls are the meter events that reached Stripe for a scan.
func (e *billingEnv) meterCalls(scanID string) []recorded {
	var out []recorded
	for _, r := range e.stripe.calls("POST", "/v1/billing/meter_events") {
		if r.Form.Get("identifier") == scanID {
			out = append(out, r)
		}
	}
	return out
}

// The billing cycle against the in-process server and stripe-mock: a
// completed scan becomes one meter event (identifier and Idempotency-Key
// from the scan id); a failed payment makes the tenant past due (email with
// the portal link, opened with a business key); at the grace deadline it is
// suspended: new scans and schedules answer 402, its schedule is paused;
// the invoice paid, it is active, scans are accepted and the schedule runs
// again. Events out of order and repeated change nothing; a reset of the
// billing workflow sends no second email and no second meter event.
func TestBillingEndToEnd(t *testing.T) {
	e := startBilling(t)
	ctx := context.Background()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer target.Close()
	port := target.Listener.Addr().(*net.TCPAddr).Port

	// The cycle, as onboarding starts it, with a short grace period.
	if _, err := e.temporal.ExecuteWorkflow(ctx, billing.StartOptions(e.tenant), billing.WorkflowName,
		billing.Input{TenantID: e.tenant, Options: billing.Options{GracePeriod: 6 * time.Second, MeterEvery: time.Second}}); err != nil {
		t.Fatal(err)
	}
	st := e.waitState(t, "trialing", func(s billing.State) bool { return s.Status == billing.StatusTrialing && s.CustomerID == e.cust })
	if st.TrialEnd == nil || st.Plan != "pro" {
		t.Fatalf("initial state %+v", st)
	}
	// The first run re-read the subscription from Stripe.
	if calls := e.stripe.calls("GET", "/v1/subscriptions/"+e.sub); len(calls) == 0 {
		t.Error("the subscription was not read from Stripe")
	}

	// A completed scan: one meter event, keyed by the scan id.
	code, body := e.do(t, "POST", "/api/v1/scans", "application/json", fmt.Sprintf(`{"target":"127.0.0.1:%d","scanners":["nmap"]}`, port))
	if code != http.StatusAccepted {
		t.Fatalf("scan: %d %v", code, body)
	}
	scanA := body["id"].(string)
	targetID := body["target_id"].(string)
	if sc := e.waitScan(t, scanA); sc["status"] != "completed" {
		t.Fatalf("scan %v", sc)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(e.meterCalls(scanA)) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if m := e.meterCalls(scanA); len(m) != 1 || m[0].IdempotencyKey != billing.IdempotencyKey(e.tenant, "meter", scanA) ||
		m[0].Form.Get("event_name") != billing.MeterEventName || m[0].Form.Get("payload[stripe_customer_id]") != e.cust || m[0].Form.Get("payload[value]") != "1" {
		t.Fatalf("meter events %+v", m)
	}
	code, sch := e.do(t, "POST", "/api/v1/schedules", "application/json", fmt.Sprintf(`{"target_id":%q,"scanners":["nmap"],"interval":"24h"}`, targetID))
	if code != http.StatusCreated {
		t.Fatalf("schedule: %d %v", code, sch)
	}
	schedID := sch["id"].(string)

	// A payment fails: past due, one email with the portal link.
	failedAt := time.Now().Add(-time.Minute)
	code, out := e.webhook(t, payments.EventSpec{Type: billing.EventInvoicePaymentFailed, ObjectID: "in_e2e", Plan: "pro", Created: failedAt})
	if code != 200 || out["duplicate"] != false {
		t.Fatalf("payment_failed: %d %v", code, out)
	}
	st = e.waitState(t, "past due", func(s billing.State) bool { return s.Status == billing.StatusPastDue })
	if st.Spell != "in_e2e" || st.LastInvoice == nil || st.LastInvoice.ID != "in_e2e" || !strings.Contains(st.LastInvoice.HostedURL, "in_e2e") {
		t.Errorf("past due %+v", st)
	}
	// stripe-mock answered a fixture about another invoice: the event's own copy was used.
	if calls := e.stripe.calls("GET", "/v1/invoices/in_e2e"); len(calls) != 1 {
		t.Errorf("invoice re-reads %d", len(calls))
	}
	portalKey := billing.IdempotencyKey(e.tenant, billing.EmailPastDue, "in_e2e") + "/portal"
	var portal []recorded
	for _, c := range e.stripe.calls("POST", "/v1/billing_portal/sessions") {
		if c.IdempotencyKey == portalKey && c.Form.Get("customer") == e.cust && c.Form.Get("return_url") == "http://portal.secureops.test/billing" {
			portal = append(portal, c)
		}
	}
	if len(portal) != 1 {
		t.Errorf("portal sessions %+v", e.stripe.calls("POST", "/v1/billing_portal/sessions"))
	}
	pastDueKey := "email/" + billing.IdempotencyKey(e.tenant, billing.EmailPastDue, "in_e2e") + "/" + e.owner.String()
	if mail := e.outbox(t); mail[pastDueKey] != 1 {
		t.Errorf("outbox %v, want %s", mail, pastDueKey)
	}

	// The grace period passes: suspended. New scans and schedules: 402.
	e.waitState(t, "suspended", func(s billing.State) bool { return s.Status == billing.StatusSuspended })
	code, body = e.do(t, "POST", "/api/v1/scans", "application/json", fmt.Sprintf(`{"target":"127.0.0.1:%d","scanners":["nmap"]}`, port))
	if code != http.StatusPaymentRequired || !strings.Contains(fmt.Sprint(body["detail"]), "overdue") {
		t.Fatalf("scan while suspended: %d %v", code, body)
	}
	if code, body := e.do(t, "POST", "/api/v1/schedules/"+schedID+"/trigger", "", ""); code != http.StatusPaymentRequired {
		t.Errorf("trigger while suspended: %d %v", code, body)
	}
	if code, body := e.do(t, "POST", "/api/v1/schedules", "application/json",
		fmt.Sprintf(`{"target_id":%q,"scanners":["nmap"],"interval":"12h"}`, targetID)); code != http.StatusPaymentRequired {
		t.Errorf("schedule while suspended: %d %v", code, body)
	}
	waitPaused := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			d, err := e.temporal.ScheduleClient().GetHandle(ctx, "scan-schedule/"+schedID).Describe(ctx)
			if err == nil && d.Schedule.State.Paused == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("schedule paused=%v never: %v %v", want, d, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitPaused(true)

	// Stripe retries the failure (a stale event about the same invoice after
	// it is paid changes nothing); the invoice is paid: active again.
	code, out = e.webhook(t, payments.EventSpec{Type: billing.EventInvoicePaid, ObjectID: "in_e2e", Plan: "pro", Created: failedAt.Add(30 * time.Second)})
	if code != 200 {
		t.Fatalf("paid: %d %v", code, out)
	}
	e.waitState(t, "active", func(s billing.State) bool { return s.Status == billing.StatusActive })
	stale, _ := payments.Event(payments.EventSpec{Type: billing.EventInvoicePaymentFailed, ObjectID: "in_e2e", Plan: "pro",
		CustomerID: e.cust, SubscriptionID: e.sub, Created: failedAt.Add(10 * time.Second)})
	if code, out := e.post(t, stale); code != 200 || out["duplicate"] != false {
		t.Fatalf("stale event: %d %v", code, out)
	}
	if code, out := e.post(t, stale); code != 200 || out["duplicate"] != true {
		t.Fatalf("repeated event: %d %v", code, out)
	}
	time.Sleep(time.Second)
	if st := e.state(t); st.Status != billing.StatusActive {
		t.Fatalf("a stale failure made the tenant %s", st.Status)
	}
	waitPaused(false)
	code, body = e.do(t, "POST", "/api/v1/scans", "application/json", fmt.Sprintf(`{"target":"127.0.0.1:%d","scanners":["nmap"]}`, port))
	if code != http.StatusAccepted {
		t.Fatalf("scan after payment: %d %v", code, body)
	}
	mail := e.outbox(t)
	for kind, want := range map[string]int{billing.EmailPastDue: 1, billing.EmailSuspended: 1, "email-reinstated": 1} {
		if n := withPrefix(mail, "email/"+billing.IdempotencyKey(e.tenant, kind, "")); n != want {
			t.Errorf("%s emails: %d, want %d (%v)", kind, n, want, mail)
		}
	}
	recordHistory(t, e.temporal, billing.WorkflowID(e.tenant), "../../workflows/billingflow/testdata/billing_dunning.json")

	// An operator resets the cycle to its first task: the signals are
	// applied again, and nothing is emailed or metered twice.
	desc, err := e.temporal.DescribeWorkflowExecution(ctx, billing.WorkflowID(e.tenant), "")
	if err != nil {
		t.Fatal(err)
	}
	first := desc.WorkflowExecutionInfo.Execution.RunId
	taskDone := int64(0)
	it := e.temporal.GetWorkflowHistory(ctx, billing.WorkflowID(e.tenant), first, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() && taskDone == 0 {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.EventType == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			taskDone = ev.EventId
		}
	}
	res, err := e.temporal.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: e.namespace, WorkflowExecution: desc.WorkflowExecutionInfo.Execution,
		Reason: "operator test: replay the billing cycle", WorkflowTaskFinishEventId: taskDone, RequestId: uuid.NewString(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.RunId == first {
		t.Fatal("no new run")
	}
	e.waitState(t, "active after the reset", func(s billing.State) bool {
		return s.Status == billing.StatusActive && s.LastInvoice != nil && s.LastInvoice.Status == "paid"
	})
	time.Sleep(3 * time.Second) // meter ticks of the new run
	if after := e.outbox(t); len(after) != len(mail) {
		t.Errorf("emails after the reset %v, before %v", after, mail)
	}
	if m := e.meterCalls(scanA); len(m) != 1 {
		t.Errorf("scan %s metered %d times after the reset", scanA, len(m))
	}
}

// The owner's side after a real sign-up: onboarding's last step started
// billing/<tenant-id>; GET /api/v1/billing shows the trial; Checkout and the
// portal open sessions for the tenant's customer; an upgrade is a workflow
// update that changes the subscription now (prorated, invoiced at once,
// with a business idempotency key) and the tier follows; an analyst may not
// read billing and only the owner changes the plan.
func TestBillingOwnerAPI(t *testing.T) {
	e := startOnboarding(t, false)
	e.server.Billing = api.BillingOptions{WebhookSecret: billingSecret, Stripe: stripe.NewAPI("", e.stripe.URL), PublicURL: "http://portal.secureops.test"}
	ctx := context.Background()
	s := e.signup(t, "Initech Billing", "Owner@Initech.test", "")
	if st := e.wait(t, s); st["status"] != "completed" {
		t.Fatalf("onboarding %v", st)
	}
	ten := e.tenant(t, s.TenantID)
	var st billing.State
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := e.temporal.QueryWorkflow(ctx, billing.WorkflowID(s.TenantID), "", billing.QueryState)
		if err == nil && v.Get(&st) == nil && st.Status == billing.StatusTrialing && st.SubscriptionID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("billing cycle not started by onboarding: %v %+v", err, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.CustomerID != *ten.StripeCustomerID || st.SubscriptionID != *ten.StripeSubscriptionID || st.Plan != "pro" || st.TrialEnd == nil {
		t.Fatalf("state %+v, tenant %+v", st, ten)
	}

	mail := e.resend.byKey("email/welcome/" + s.TenantID.String())[0]
	link, code := recoveryFrom(t, mail.Text)
	completeRecovery(t, e.kr, link, code, "initech-owner-password-1")
	owner := map[string]string{"X-Session-Token": login(t, e.kr, s.Email, "initech-owner-password-1")}

	c, doc, _ := call(t, "GET", e.api.URL+"/api/v1/billing", owner, "")
	if c != 200 || doc["status"] != "trialing" || doc["plan"] != "pro" || doc["billing_enabled"] != true {
		t.Fatalf("GET billing: %d %v", c, doc)
	}
	if u := doc["usage"].(map[string]any); u["max_concurrent_scans"] != float64(10) || u["scans_completed"] != float64(0) {
		t.Errorf("usage %v", u)
	}
	if c, _, _ := call(t, "GET", e.api.URL+"/api/v1/billing", map[string]string{"Authorization": "Bearer " + e.key}, ""); c != http.StatusForbidden && c != http.StatusNotFound {
		t.Errorf("an analyst's key read billing: %d", c)
	}
	for _, path := range []string{"/api/v1/billing/checkout", "/api/v1/billing/portal"} {
		c, out, _ := call(t, "POST", e.api.URL+path, owner, "")
		if c != 200 || !strings.HasPrefix(fmt.Sprint(out["url"]), "https://") {
			t.Errorf("%s: %d %v", path, c, out)
		}
	}
	if cs := e.stripe.calls("POST", "/v1/checkout/sessions"); len(cs) == 0 || cs[len(cs)-1].Form.Get("customer") != st.CustomerID || cs[len(cs)-1].Form.Get("mode") != "setup" {
		t.Errorf("checkout sessions %+v", cs)
	}

	// The validator answers before anything enters the history.
	if c, out, _ := call(t, "POST", e.api.URL+"/api/v1/billing/plan", owner, `{"plan":"platinum"}`); c != 400 {
		t.Errorf("unknown plan: %d %v", c, out)
	}
	if c, out, _ := call(t, "POST", e.api.URL+"/api/v1/billing/plan", owner, `{"plan":"pro"}`); c != 409 {
		t.Errorf("same plan: %d %v", c, out)
	}
	c, out, _ := call(t, "POST", e.api.URL+"/api/v1/billing/plan", owner, `{"plan":"enterprise"}`)
	if c != 200 || out["plan"] != "enterprise" {
		t.Fatalf("upgrade: %d %v", c, out)
	}
	var upd []recorded
	for _, r := range e.stripe.calls("POST", "/v1/subscriptions/"+st.SubscriptionID) {
		if r.Form.Get("proration_behavior") == "always_invoice" {
			upd = append(upd, r)
		}
	}
	wantKey := billing.IdempotencyKey(s.TenantID, "plan-enterprise", st.PeriodStart.UTC().Format("2006-01-02"))
	if len(upd) != 1 || upd[0].IdempotencyKey != wantKey || upd[0].Form.Get("items[0][price]") == "" {
		t.Errorf("subscription updates %+v, want key %s", upd, wantKey)
	}
	if ten := e.tenant(t, s.TenantID); ten.Tier != "enterprise" {
		t.Errorf("tier after the upgrade: %s", ten.Tier)
	}
	// A downgrade waits for the period's end.
	c, out, _ = call(t, "POST", e.api.URL+"/api/v1/billing/plan", owner, `{"plan":"basic"}`)
	if c != 200 || out["plan"] != "enterprise" || out["pending_plan"] != "basic" {
		t.Errorf("downgrade: %d %v", c, out)
	}
	if c, doc, _ := call(t, "GET", e.api.URL+"/api/v1/billing", owner, ""); c != 200 || doc["plan"] != "enterprise" {
		t.Errorf("billing after the change: %d %v", c, doc)
	}
}
