package views

import (
	"fmt"
	"strings"
	"time"
)

// BillingDoc is GET /api/v1/billing as the page reads it.
type BillingDoc struct {
	Enabled bool   `json:"billing_enabled"`
	Plan    string `json:"plan"`
	Status  string `json:"status"`
	State   *struct {
		PendingPlan   string     `json:"pending_plan"`
		PeriodStart   *time.Time `json:"period_start"`
		PeriodEnd     *time.Time `json:"period_end"`
		TrialEnd      *time.Time `json:"trial_end"`
		HasCard       bool       `json:"has_card"`
		Reason        string     `json:"reason"`
		GraceDeadline *time.Time `json:"grace_deadline"`
		DeleteAt      *time.Time `json:"delete_at"`
	} `json:"state"`
	Usage struct {
		ScansCompleted     int64 `json:"scans_completed"`
		MaxConcurrentScans int   `json:"max_concurrent_scans"`
		ScanUnitCents      int64 `json:"scan_unit_cents"`
		MonthlyCents       int64 `json:"monthly_cents"`
	} `json:"usage"`
	Invoices []struct {
		ID        string    `json:"id"`
		Status    string    `json:"status"`
		AmountDue int64     `json:"amount_due"`
		Currency  string    `json:"currency"`
		HostedURL string    `json:"hosted_invoice_url"`
		Created   time.Time `json:"created"`
	} `json:"invoices"`
}

// PlanChoice is one plan offered on the billing page.
type PlanChoice struct {
	Name, Title  string
	MonthlyCents int64
}

// BillingView is the billing page.
type BillingView struct {
	Doc    BillingDoc
	Plans  []PlanChoice
	Error  string
	Notice string
}

// BillingStatusLabel says a billing status in words.
func BillingStatusLabel(s string) string {
	switch s {
	case "trialing":
		return "Free trial"
	case "active":
		return "Active"
	case "past_due":
		return "Payment overdue"
	case "suspended":
		return "Suspended for non-payment"
	case "cancelled":
		return "Cancelled"
	}
	return "No subscription"
}

// Money renders cents of a currency ("usd") as "$49.00" or "49.00 EUR".
func Money(cents int64, currency string) string {
	v := fmt.Sprintf("%d.%02d", cents/100, cents%100)
	if currency == "" || strings.EqualFold(currency, "usd") {
		return "$" + v
	}
	return v + " " + strings.ToUpper(currency)
}

// DayUTC is a date as the billing page shows it.
func DayUTC(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006")
}
