//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/contract/report"
	"github.com/secureops/secureops/internal/contract/triage"
	"github.com/secureops/secureops/internal/faults"
	"github.com/secureops/secureops/internal/payments"
)

// owned gives a tenant an owner, whom its emails go to.
func (e *env) owned(tn tenant, tag string) {
	e.t.Helper()
	owner := uuid.New()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO users (id, name, email) VALUES ($1, 'Olga Owner', $2)", []any{owner, "owner-" + tag + "@chaos-seven.test"}},
		{"INSERT INTO memberships (user_id, tenant_id, role) VALUES ($1, $2, 'client_owner')", []any{owner, tn.id}},
	} {
		if _, err := e.super.Exec(context.Background(), q.sql, q.args...); err != nil {
			e.t.Fatalf("%s: %v", q.sql, err)
		}
	}
}

// billed gives a tenant a Stripe customer and subscription, and an owner
// the billing emails go to.
func (e *env) billed(tn tenant, tag string) (customer, sub string) {
	e.t.Helper()
	customer, sub = "cus_chaos"+tag, "sub_chaos"+tag
	if _, err := e.super.Exec(context.Background(), "UPDATE tenants SET stripe_customer_id = $2, stripe_subscription_id = $3 WHERE id = $1", tn.id, customer, sub); err != nil {
		e.t.Fatal(err)
	}
	e.owned(tn, tag)
	return customer, sub
}

// requestReport asks for a report on the last week.
func (e *env) requestReport(tn tenant) uuid.UUID {
	e.t.Helper()
	now := time.Now().UTC()
	body := fmt.Sprintf(`{"kind":"executive","period":{"from":%q,"to":%q}}`, now.Add(-7*24*time.Hour).Format(time.RFC3339), now.Format(time.RFC3339))
	req, _ := http.NewRequest("POST", e.apiURL+"/api/v1/reports", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tn.key)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		ID uuid.UUID `json:"id"`
	}
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &out) != nil {
		e.t.Fatalf("POST /api/v1/reports: %d %s", resp.StatusCode, raw)
	}
	return out.ID
}

// stripeWebhook signs and posts one event as Stripe would.
func (e *env) stripeWebhook(spec payments.EventSpec) {
	e.t.Helper()
	body, err := payments.Event(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", e.apiURL+"/api/v1/stripe/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", payments.Sign(body, chaosWebhookSecret, time.Now()))
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("stripe webhook: %d %s", resp.StatusCode, raw)
	}
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.super.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// Case 7: the billing cycle, a scan's triage and a report, their workers
// SIGKILLed mid-cycle: one tenant's meter event taken by Stripe and not yet
// recorded, another's dunning email and a third's report email accepted by
// Resend and not yet marked sent (all on the onboarding queue's worker), a
// fourth's triage decisions committed and the activity not returned (the
// scans queue's worker). One SIGKILL of each worker while all four stand
// there; fresh workers take over.
func caseBillingTriageKilled(e *env) {
	t := e.t
	began := time.Now()
	ctx := context.Background()
	meterT := e.tenant("Chaos Seven Meter", "pro")
	mailT := e.tenant("Chaos Seven Dunning", "pro")
	triageT := e.tenant("Chaos Seven Triage", "pro")
	reportT := e.tenant("Chaos Seven Report", "pro")
	e.owned(reportT, "7report")
	meterCust, _ := e.billed(meterT, "7meter")
	mailCust, mailSub := e.billed(mailT, "7mail")

	for _, name := range []string{"onboarding", "orchestration"} {
		e.workers[name].stop()
		delete(e.workers, name)
	}
	onb := e.startWorkerWith("onboarding-armed", "onboarding", armed(10*time.Minute,
		faults.BillingMeterSent+"@"+meterT.id.String(), faults.EmailSent+"@"+mailT.id.String(), faults.EmailSent+"@"+reportT.id.String())...)
	orch := e.startWorkerWith("orchestration-armed", "scans", armed(10*time.Minute, faults.TriageEvaluated+"@"+triageT.id.String())...)

	// Metering: the cycle, as onboarding starts it, metering every 2 s (not
	// hourly), and a completed scan to meter.
	if _, err := e.tc.ExecuteWorkflow(ctx, billing.StartOptions(meterT.id), billing.WorkflowName,
		billing.Input{TenantID: meterT.id, Options: billing.Options{MeterEvery: 2 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	closed := "127.0.0.1:" + strconv.Itoa(freePort(t))
	scanID, err := e.startScan(meterT, closed, []string{"secureops"}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Dunning: a failed payment makes the tenant past due: one email.
	const invoice = "in_chaos7"
	e.stripeWebhook(payments.EventSpec{Type: billing.EventInvoicePaymentFailed, CustomerID: mailCust, SubscriptionID: mailSub,
		ObjectID: invoice, Plan: "pro", Created: time.Now().Add(-time.Minute)})
	// Triage: an import of 50 findings, triaged when it completes.
	const nFindings = 50
	importID, err := e.importReport(triageT, "trivy", "image:registry.chaos.test/seven:1.0", trivyReport(nFindings))
	if err != nil {
		t.Fatal(err)
	}

	// A report: numbers, prose, stored, then its email.
	reportID := e.requestReport(reportT)

	e.paused(onb, 3, 3*time.Minute)
	e.paused(orch, 1, 3*time.Minute)
	meterReqsBefore, _, _ := e.svc.stripe.creates("/v1/billing/meter_events", formIs("identifier", scanID.String()))
	killedAt := time.Now()
	onb.kill()
	orch.kill()
	delete(e.workers, "onboarding-armed")
	delete(e.workers, "orchestration-armed")
	e.startWorker("orchestration", "scans")
	e.startWorker("onboarding", "onboarding")

	mailKey := "email/" + billing.IdempotencyKey(mailT.id, billing.EmailPastDue, invoice)
	recovered := map[string]float64{}
	waitFor(t, 5*time.Minute, "the meter event, the dunning email and the triage to be recorded", func() bool {
		if _, ok := recovered["meter_event"]; !ok && e.count("SELECT count(*) FROM billing_meter_events WHERE scan_id = $1", scanID) > 0 {
			recovered["meter_event"] = round(time.Since(killedAt).Seconds())
		}
		if _, ok := recovered["dunning_email"]; !ok && e.count("SELECT count(*) FROM email_outbox WHERE idempotency_key LIKE $1 || '%' AND sent_at IS NOT NULL", mailKey) > 0 {
			recovered["dunning_email"] = round(time.Since(killedAt).Seconds())
		}
		if _, ok := recovered["triage"]; !ok {
			d, err := e.tc.DescribeWorkflowExecution(ctx, triage.WorkflowID(importID), "")
			if err == nil && len(d.GetPendingActivities()) == 0 && e.count("SELECT count(*) FROM finding_triage WHERE scan_id = $1", importID) > 0 {
				recovered["triage"] = round(time.Since(killedAt).Seconds())
			}
		}
		if _, ok := recovered["report_email"]; !ok && e.count("SELECT count(*) FROM reports WHERE id = $1 AND emailed_at IS NOT NULL", reportID) > 0 {
			recovered["report_email"] = round(time.Since(killedAt).Seconds())
		}
		return len(recovered) == 4
	})
	time.Sleep(3 * time.Second) // a second meter tick: nothing more is sent

	meterReqs, meterEvents, meterMisfit := e.svc.stripe.creates("/v1/billing/meter_events", formIs("identifier", scanID.String()))
	meterRows := e.count("SELECT count(*) FROM billing_meter_events WHERE scan_id = $1", scanID)
	mails, mailReqs, mail409 := e.svc.resend.sent(mailKey)
	mailRows := e.count("SELECT count(*) FROM email_outbox WHERE idempotency_key LIKE $1 || '%'", mailKey)
	triageRows := e.count("SELECT count(*) FROM finding_triage WHERE scan_id = $1", importID)
	triageDistinct := e.count("SELECT count(DISTINCT (finding_id, source)) FROM finding_triage WHERE scan_id = $1", importID)
	triageFindings := e.count("SELECT count(*) FROM scan_findings WHERE scan_id = $1", importID)
	triageRuns, err := e.runs(triage.WorkflowID(importID))
	if err != nil {
		t.Error(err)
	}
	reportMails, reportMailReqs, _ := e.svc.resend.sent("email/report/" + reportID.String() + "/")
	reportMailRows := e.count("SELECT count(*) FROM email_outbox WHERE idempotency_key LIKE 'email/report/' || $1 || '/%'", reportID.String())
	reports := e.count("SELECT count(*) FROM reports WHERE tenant_id = $1 AND status = 'ready'", reportT.id)
	reportContents := e.count("SELECT count(*) FROM report_contents WHERE tenant_id = $1", reportT.id)
	reportRuns, err := e.runs(report.WorkflowID(reportID))
	if err != nil {
		t.Error(err)
	}
	var meterPayloadOK bool
	e.svc.stripe.mu.Lock()
	for _, c := range e.svc.stripe.calls {
		if c.Path == "/v1/billing/meter_events" && c.Form.Get("identifier") == scanID.String() {
			meterPayloadOK = c.Key == billing.IdempotencyKey(meterT.id, "meter", scanID.String()) && c.Form.Get("payload[stripe_customer_id]") == meterCust
		}
	}
	e.svc.stripe.mu.Unlock()
	if meterEvents != 1 || meterRows != 1 || meterMisfit != 0 || !meterPayloadOK || meterReqsBefore != 1 {
		t.Errorf("meter: events %d (requests %d, %d before the kill, reused keys %d, payload ok %v), rows %d; want 1 event, 1 row",
			meterEvents, meterReqs, meterReqsBefore, meterMisfit, meterPayloadOK, meterRows)
	}
	if mails != 1 || mailRows != 1 {
		t.Errorf("dunning: emails sent %d (requests %d, 409s %d), outbox rows %d; want 1, 1", mails, mailReqs, mail409, mailRows)
	}
	if triageFindings != nFindings || triageRows != triageFindings || triageDistinct != triageRows || triageRuns != 1 {
		t.Errorf("triage: %d rows (%d distinct) for %d findings, %d runs", triageRows, triageDistinct, triageFindings, triageRuns)
	}
	if reports != 1 || reportContents != 1 || reportMails != 1 || reportMailRows != 1 || reportRuns != 1 {
		t.Errorf("report: %d ready, %d stored, emails sent %d (requests %d), outbox rows %d, runs %d; want one of each",
			reports, reportContents, reportMails, reportMailReqs, reportMailRows, reportRuns)
	}
	verdict(t, "7 billing, triage and report workers SIGKILLed mid-cycle", began, map[string]any{
		"killed_to_recorded_s": recovered, "meter_events": meterEvents, "meter_event_requests": meterReqs, "meter_rows": meterRows,
		"dunning_emails": mails, "dunning_email_requests": mailReqs, "dunning_outbox_rows": mailRows,
		"triage_findings": triageFindings, "triage_rows": triageRows, "triage_runs": triageRuns,
		"reports": reports, "report_contents": reportContents, "report_emails": reportMails, "report_email_requests": reportMailReqs, "report_runs": reportRuns,
		"duplicates": max(meterEvents-1, 0) + max(meterRows-1, 0) + max(mails-1, 0) + max(mailRows-1, 0) + (triageRows - triageDistinct) + max(triageRuns-1, 0) +
			max(reports-1, 0) + max(reportContents-1, 0) + max(reportMails-1, 0) + max(reportMailRows-1, 0) + max(reportRuns-1, 0),
	}, fmt.Sprintf("the meter event (Stripe took it), the past-due and report emails (Resend took them) and a %d-finding import's triage decisions (committed) each killed before being recorded; "+
		"recovery is the billing activities' 1 min start-to-close, the triage's 1 min heartbeat timeout and the report email's 2 min start-to-close, plus retry backoff", nFindings))
}
