package email

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/mailtmpl"
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
	msg, err := a.render("billing", a.billingMessage(ten.Name, in))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range owners {
		if _, err := a.Send(ctx, Message{
			TenantID: in.TenantID, IdempotencyKey: in.Key + "/" + o.UserID.String(), To: o.Email,
			Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Category: "billing",
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

func (a *Activities) billingMessage(company string, in billing.EmailInput) mailtmpl.Billing {
	return mailtmpl.Billing{
		Kind: string(in.Kind), Company: company, Plan: in.Plan, Deadline: day(in.Deadline), DeleteAt: day(in.DeleteAt),
		InvoiceURL: in.InvoiceURL, CheckoutURL: in.CheckoutURL, PortalURL: in.PortalURL,
		Page: strings.TrimRight(a.PublicURL, "/") + "/billing",
	}
}
