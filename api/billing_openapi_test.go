package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/payments"
)

// The billing answers, as the handlers write them, match their schemas.
func TestBillingSchemasMatchHandlerTypes(t *testing.T) {
	doc := loadSpec(t)
	validate := func(name string, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		var generic any
		_ = json.Unmarshal(b, &generic)
		if err := doc.Components.Schemas[name].Value.VisitJSON(generic, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s %s: %v", name, b, err)
		}
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	end := now.AddDate(0, 1, 0)
	st := billing.State{TenantID: uuid.New(), Status: billing.StatusPastDue, Plan: "pro", CustomerID: "cus_1", SubscriptionID: "sub_1",
		PeriodStart: &now, PeriodEnd: &end, TrialEnd: &now, Reason: billing.ReasonPaymentFailed, PastDueSince: &now, GraceDeadline: &end,
		LastInvoice: &billing.Invoice{ID: "in_1", Status: "open", AmountDue: 19900, Currency: "usd", HostedURL: "https://invoice.stripe.com/i/x", Created: now},
		UpdatedAt:   now}
	validate("BillingState", st)
	validate("Billing", payments.Doc{TenantID: st.TenantID, Billing: true, State: &st, Plan: "pro", Status: st.Status,
		Usage:    payments.Usage{PeriodStart: &now, PeriodEnd: &end, ScansCompleted: 3, ScansMetered: 2, MaxConcurrentScans: 10, ScanUnitCents: 50, MonthlyCents: 19900},
		Invoices: []payments.Invoiced{*st.LastInvoice}})
	validate("Billing", payments.Doc{TenantID: st.TenantID, Plan: "basic", Status: "none", Invoices: []payments.Invoiced{}})
	validate("BillingSession", sessionView{URL: "https://billing.stripe.com/p/session/x"})
	validate("WebhookReceipt", map[string]any{"received": true, "duplicate": false})
}
