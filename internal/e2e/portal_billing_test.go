package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/secureops/secureops/activities/stripe"
	"github.com/secureops/secureops/api"
	"github.com/secureops/secureops/internal/contract/billing"
)

// TestPortalBilling: a company that signed up sees its trial on the billing
// page (the billing emails' /billing lands there), changes its plan, and the
// card and portal buttons send the browser to Stripe sessions.
func TestPortalBilling(t *testing.T) {
	e := startPortal(t)
	e.server.Billing = api.BillingOptions{WebhookSecret: billingSecret, Stripe: stripe.NewAPI("", e.stripe.URL), PublicURL: e.URL}
	ctx := context.Background()
	s := e.signup(t, "Billing Portal Co", "owner@billing-portal.test", "")
	if st := e.wait(t, s); st["status"] != "completed" {
		t.Fatalf("onboarding %v", st)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st billing.State
		v, err := e.temporal.QueryWorkflow(ctx, billing.WorkflowID(s.TenantID), "", billing.QueryState)
		if err == nil && v.Get(&st) == nil && st.Status == billing.StatusTrialing && st.SubscriptionID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("billing cycle not started: %v %+v", err, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	mail := e.resend.byKey("email/welcome/" + s.TenantID.String())[0]
	link, code := recoveryFrom(t, mail.Text)
	completeRecovery(t, e.kr, link, code, "Zq7-vault-ledger-42")

	tb := newTab(t)
	tb.signIn(e.kratosPublic, "owner@billing-portal.test", "Zq7-vault-ledger-42")
	tb.open(e.URL + "/billing")
	tb.waitPath("/app/billing")
	if got := tb.text("[data-testid=billing-status]"); got != "Free trial" {
		t.Fatalf("status %q", got)
	}
	if got := tb.text("[data-testid=billing-plan]"); !strings.Contains(got, "Pro") {
		t.Fatalf("plan %q", got)
	}
	if !eval[bool](tb, `!!document.querySelector('nav a[href="/app/billing"][aria-current=page]')`) {
		t.Error("no current Billing link in the navigation")
	}
	tb.assertLabelled()
	tb.snap("billing")

	// An upgrade applies at once.
	tb.setVal("#plan", "enterprise")
	tb.click("#plan-save")
	tb.waitFor(`location.search === '?done=plan' && document.readyState === 'complete'`)
	if got := tb.text("[data-testid=billing-plan]"); !strings.Contains(got, "Enterprise") {
		t.Fatalf("plan after the upgrade %q", got)
	}

	// The card and portal buttons answer with Stripe's session addresses.
	cookies := kratosBrowserLogin(t, e.kratosPublic, "owner@billing-portal.test", "Zq7-vault-ledger-42")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	for _, path := range []string{"/app/billing/checkout", "/app/billing/portal"} {
		req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(url.Values{}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.URL)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "https://") {
			t.Errorf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}
