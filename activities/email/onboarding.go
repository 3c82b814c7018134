package email

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/mailtmpl"
)

// WelcomeKey is the welcome email's idempotency key: one per tenant and
// onboarding attempt. A failed attempt deleted the identity its email's
// recovery link was for, so a restarted onboarding sends a new one.
func WelcomeKey(tenant uuid.UUID, attempt int) string {
	k := "email/welcome/" + tenant.String()
	if attempt > 1 {
		k += fmt.Sprintf("/attempt-%d", attempt)
	}
	return k
}

// SendWelcome sends the owner a recovery link and a quick-start guide. The
// link and code are asked of Kratos here, at send time, so they appear in no
// workflow input or result; the outbox keeps the message without them
// (unless RevealSecrets, in dev). The API key is never in it.
func (a *Activities) SendWelcome(ctx context.Context, in onboarding.WelcomeInput) (string, error) {
	if a.Kratos == nil {
		return "", temporal.NewNonRetryableApplicationError("Kratos is not configured (KRATOS_PUBLIC_URL, KRATOS_ADMIN_URL)", onboarding.ErrNotConfigured, nil)
	}
	if done, err := a.sentAlready(ctx, WelcomeKey(in.TenantID, in.Attempt)); err != nil || done {
		// A retry after the message went out must not mint a code nobody gets.
		return "", err
	}
	rec, err := a.Kratos.RecoveryCode(ctx, in.OwnerID, onboarding.RecoveryValidity)
	if err != nil {
		return "", err
	}
	m, err := a.render("welcome", mailtmpl.Welcome{
		ContactName: in.ContactName, CompanyName: in.CompanyName, Tier: in.Tier, TrialDays: in.TrialDays,
		InitialTarget: in.InitialTarget, URL: a.PublicURL, RecoveryLink: rec.Link, RecoveryCode: rec.Code,
	})
	if err != nil {
		return "", err
	}
	return a.Send(ctx, Message{
		TenantID: in.TenantID, IdempotencyKey: WelcomeKey(in.TenantID, in.Attempt), To: in.To,
		Subject: m.Subject, Text: m.Text, HTML: m.HTML, Category: "welcome",
		Secrets: []string{rec.Link, rec.Code},
	})
}

// NotifyOps tells operators (OPS_EMAIL) an onboarding finished or failed;
// without OPS_EMAIL it does nothing. One message per event and attempt.
func (a *Activities) NotifyOps(ctx context.Context, in onboarding.OpsInput) (string, error) {
	if a.OpsEmail == "" {
		return "", nil
	}
	m, err := a.render("ops", mailtmpl.Ops{
		CompanyName: in.CompanyName, Slug: in.Slug, TenantID: in.TenantID.String(), Tier: in.Tier, Event: string(in.Event),
		WorkflowID: in.WorkflowID, Attempt: in.Attempt, Reason: in.Reason,
	})
	if err != nil {
		return "", err
	}
	return a.Send(ctx, Message{
		TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/ops/%s/%s/%d", in.TenantID, in.Event, in.Attempt),
		To: a.OpsEmail, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Category: "ops",
	})
}
