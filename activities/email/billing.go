package email

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/temporalx"
)

// RegisterBilling binds the billing cycle's email activity.
func RegisterBilling(reg temporalx.ActivityRegistry, a *Activities) {
	billing.Email.Register(reg, a.Billing)
}

// Billing emails the tenant's owners one billing message: the trial ending,
// a payment past due, a reminder, the suspension, the reinstatement or the
// cancellation. Each recipient's copy is keyed <in.Key>/<user-id> in the
// outbox, so a retry or a reset cycle sends nothing twice. It returns the
// number of recipients.
func (a *Activities) Billing(ctx context.Context, in billing.EmailInput) (int, error) {
	var owners []dbq.BillingOwnersRow
	var ten dbq.Tenant
	err := a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if ten, err = db.Q.TenantGet(ctx, tx, in.TenantID); err != nil {
			return err
		}
		owners, err = db.Q.BillingOwners(ctx, tx, in.TenantID)
		return err
	})
	if err != nil {
		return 0, err
	}
	subject, text := a.billingMessage(ten.Name, in)
	n := 0
	for _, o := range owners {
		if _, err := a.Send(ctx, Message{
			TenantID: in.TenantID, IdempotencyKey: in.Key + "/" + o.UserID.String(), To: o.Email,
			Subject: subject, Text: text, Category: "billing",
		}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func day(t *time.Time) string {
	if t == nil {
		return "soon"
	}
	return t.UTC().Format("2 January 2006")
}

func (a *Activities) billingMessage(company string, in billing.EmailInput) (string, string) {
	page := strings.TrimRight(a.PublicURL, "/") + "/billing"
	var b strings.Builder
	line := func(f string, args ...any) { fmt.Fprintf(&b, f+"\n", args...) }
	var subject string
	switch in.Kind {
	case billing.EmailTrialEnding:
		subject = "Your SecureOps trial ends on " + day(in.Deadline)
		line("The trial of %s's SecureOps %s plan ends on %s.", company, in.Plan, day(in.Deadline))
		line("Add a card to keep scanning without interruption:")
	case billing.EmailPastDue:
		subject = "Action needed: your SecureOps payment is past due"
		line("We could not collect the payment for %s's SecureOps %s plan.", company, in.Plan)
		line("Scans keep running until %s; after that new scans and schedules stop until the invoice is paid.", day(in.Deadline))
	case billing.EmailReminder:
		subject = "Reminder: your SecureOps payment is past due"
		line("The payment for %s's SecureOps plan is still outstanding.", company)
		line("New scans and schedules stop on %s unless the invoice is paid.", day(in.Deadline))
	case billing.EmailSuspended:
		subject = "SecureOps scans suspended for non-payment"
		line("New scans and schedules of %s are suspended: the invoice was not paid within the grace period.", company)
		line("Your data is kept and scanning resumes as soon as the invoice is paid.")
	case billing.EmailReinstated:
		subject = "Payment received: SecureOps scans resumed"
		line("Thank you: the payment for %s is received, and scans and schedules run again.", company)
	case billing.EmailCancelled:
		subject = "Your SecureOps subscription is cancelled"
		line("The SecureOps subscription of %s is cancelled; new scans have stopped.", company)
		line("Your data is kept until %s and deleted after that date.", day(in.DeleteAt))
	default:
		subject = "SecureOps billing"
	}
	if in.InvoiceURL != "" {
		line("\nPay the invoice: %s", in.InvoiceURL)
	}
	if in.CheckoutURL != "" {
		line("\nAdd a card: %s", in.CheckoutURL)
	}
	if in.PortalURL != "" {
		line("\nManage billing (cards, invoices): %s", in.PortalURL)
	}
	line("\nBilling in the portal: %s", page)
	return subject, b.String()
}
