package workers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/secureops/secureops/activities/defectdojo"
	"github.com/secureops/secureops/activities/email"
	"github.com/secureops/secureops/activities/identity"
	aschedules "github.com/secureops/secureops/activities/schedules"
	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/activities/stripe"
	"github.com/secureops/secureops/internal/config"
	dojo "github.com/secureops/secureops/internal/defectdojo"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/schedules"
	"github.com/secureops/secureops/workflows/onboarding"
)

// registerOnboarding registers the Onboarding workflow and its activities,
// built from the configuration, and returns the background janitor that
// erases unrevealed first-key secrets after their week.
func registerOnboarding(w worker.Worker, d Deps) (func(context.Context), error) {
	c := d.Config
	if c.Mode == config.ModeProduction && c.SealKey == nil {
		return nil, errors.New("the onboarding queue needs SECUREOPS_SEAL_KEY (32 bytes, base64) to seal first API keys")
	}
	w.RegisterWorkflowWithOptions(onboarding.OnboardingWorkflow, onboarding.RegisterOptions())

	st := &store.Onboarding{DB: d.DB, SealKey: c.SealKey, Policy: c.ScanPolicy()}
	reg := func(fn any, name string) { w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(st.ReserveTenant, store.ReserveTenantName)
	reg(st.CreateInitialAPIKey, store.CreateInitialAPIKeyName)
	reg(st.RevokeInitialAPIKey, store.RevokeInitialAPIKeyName)
	reg(st.RecordScanPolicy, store.RecordScanPolicyName)
	reg(st.DeleteScanPolicy, store.DeleteScanPolicyName)
	reg(st.CreateBaselineScan, store.CreateBaselineScanName)
	reg(st.ActivateTenant, store.ActivateTenantName)
	reg(st.FailTenant, store.FailTenantName)

	sa := &stripe.Activities{DB: d.DB}
	if c.StripeEnabled() {
		sa.API = stripe.NewAPI(c.StripeSecretKey, c.StripeAPIBase)
	} else if d.Log != nil {
		d.Log.Warn("Stripe is not configured (STRIPE_SECRET_KEY, STRIPE_API_BASE): onboarding skips billing")
	}
	reg(sa.CreateCustomer, stripe.CreateCustomerName)
	reg(sa.CreateSubscription, stripe.CreateSubscriptionName)
	reg(sa.CancelSubscription, stripe.CancelSubscriptionName)
	reg(sa.DeleteCustomer, stripe.DeleteCustomerName)

	ia := &identity.Activities{DB: d.DB}
	if c.KratosPublicURL != "" && c.KratosAdminURL != "" {
		ia.Kratos = kratos.New(c.KratosPublicURL, c.KratosAdminURL, nil, time.Second)
	}
	reg(ia.EnsureOwner, identity.EnsureOwnerName)
	reg(ia.RemoveOwner, identity.RemoveOwnerName)

	da := &defectdojo.Activities{DB: d.DB, ProductType: c.DefectDojoProductType}
	if c.DefectDojoURL != "" {
		da.Client = dojo.New(c.DefectDojoURL, c.DefectDojoToken, &http.Client{Timeout: 30 * time.Second})
	}
	reg(da.EnsureProduct, defectdojo.EnsureProductName)
	reg(da.DeleteProduct, defectdojo.DeleteProductName)

	ea := &email.Activities{DB: d.DB, From: c.EmailFrom, OpsEmail: c.OpsEmail, PublicURL: c.PublicURL}
	if c.EmailProvider == "resend" {
		rc, err := email.NewResend(c.ResendAPIKey, c.ResendAPIBase)
		if err != nil {
			return nil, err
		}
		ea.Resend = rc
	}
	reg(ea.SendWelcome, email.SendWelcomeName)
	reg(ea.NotifyOps, email.NotifyOpsName)
	// Scan summaries and alerts go out from here too: this queue's workers
	// hold the email provider's credentials.
	reg(ea.ScanEmails, email.ScanEmailsName)
	sch := &aschedules.Activities{DB: d.DB, Syncer: schedules.Syncer{Client: d.Client}}
	reg(sch.Ensure, aschedules.EnsureName)

	janitor := func(ctx context.Context) {
		// Products and prices exist before the first sign-up needs them;
		// a failure here is retried by the subscription step itself.
		if sa.API != nil {
			if err := sa.WarmCatalog(ctx); err != nil && d.Log != nil {
				d.Log.Warn("Stripe catalogue bootstrap failed; retried on first sign-up", "error", err)
			}
		}
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if n, err := st.PurgeExpiredInitialKeys(ctx); err != nil && ctx.Err() == nil && d.Log != nil {
				d.Log.Warn("purging expired initial API keys", "error", err)
			} else if n > 0 && d.Log != nil {
				d.Log.Info("erased unrevealed initial API keys", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
	return janitor, nil
}
