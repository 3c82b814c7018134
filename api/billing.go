// Billing: Stripe's webhook (verified, deduplicated, signalled to the
// tenant's billing cycle), the billing document, Checkout and portal
// sessions, and plan changes (an update of the billing workflow).

package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	stripeclient "github.com/stripe/stripe-go/v76/client"
	"github.com/stripe/stripe-go/v76/webhook"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/payments"
)

// BillingOptions configure the billing endpoints.
type BillingOptions struct {
	// WebhookSecret verifies Stripe-Signature (STRIPE_WEBHOOK_SECRET); empty
	// refuses every webhook.
	WebhookSecret string
	// WebhookTolerance is how old a signature may be (0: Stripe's 5 minutes).
	WebhookTolerance time.Duration
	// Stripe opens Checkout and portal sessions and lists invoices; nil when
	// billing is not configured.
	Stripe *stripeclient.API
	// PublicURL is where Stripe sends people back to.
	PublicURL string
}

// stripeWebhook verifies an event, stores its id once and, only for a new
// event about one of our tenants, signals (or starts) the tenant's billing
// cycle. It answers 200 fast; 400 for a bad signature, 413 for a body over
// the cap; 503 when the signal could not be sent (the event is not kept, so
// Stripe's retry delivers it again).
func (s *Server) stripeWebhook(w http.ResponseWriter, r *http.Request) error {
	if s.Billing.WebhookSecret == "" {
		return domainerr.New(domainerr.Unavailable, "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, payments.MaxWebhookBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return domainerr.New(domainerr.TooLarge, "the event is larger than the webhook accepts")
	}
	if err != nil {
		return badRequest("the body could not be read")
	}
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), s.Billing.WebhookSecret,
		webhook.ConstructEventOptions{Tolerance: s.Billing.WebhookTolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		return badRequest("the Stripe-Signature does not verify: " + err.Error())
	}
	var rec payments.Received
	isNew := false
	err = s.DB.InTx(r.Context(), db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if rec, isNew, err = payments.Store(ctx, tx, ev, body); err != nil || !isNew {
			return err
		}
		if rec.TenantID == uuid.Nil || !billing.Handled[rec.Event.Type] {
			return nil
		}
		// Inside the transaction: a failed signal keeps no event id, and
		// Stripe's retry tries again.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return billing.Deliver(sctx, s.Temporal, rec.TenantID, rec.Event)
	})
	if err != nil {
		if _, ok := domainerr.As(err); ok {
			return err
		}
		s.logErr(r, "stripe webhook "+ev.ID, err)
		return domainerr.New(domainerr.Unavailable, "the event could not be recorded; Stripe will retry")
	}
	if isNew && rec.TenantID == uuid.Nil && s.Log != nil {
		s.Log.WarnContext(r.Context(), "stripe webhook about no tenant of ours", "event", ev.ID, "type", ev.Type, "object", rec.Event.ObjectID)
	}
	writeJSON(w, http.StatusOK, map[string]any{"received": true, "duplicate": !isNew})
	return nil
}

// billingGet is the tenant's billing: plan, status, period, trial end,
// usage this period against the tier, invoices with their hosted links.
func (s *Server) billingGet(w http.ResponseWriter, r *http.Request) error {
	d, err := s.billingDoc(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) billingDoc(r *http.Request) (payments.Doc, error) {
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return payments.Doc{}, err
	}
	var d payments.Doc
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		d, err = payments.Read(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return d, err
	}
	if err := payments.AddInvoices(r.Context(), s.Billing.Stripe, &d); err != nil {
		// The cycle's last invoice stays; Stripe's list is a nicety.
		s.logErr(r, "list invoices", err)
	}
	return d, nil
}

type sessionView struct {
	URL string `json:"url"`
}

func (s *Server) billingCustomer(r *http.Request) (string, error) {
	if s.Billing.Stripe == nil {
		return "", domainerr.New(domainerr.Conflict, "billing is not configured on this deployment")
	}
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return "", err
	}
	var d payments.Doc
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		d, err = payments.Read(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return "", err
	}
	if d.State == nil || d.State.CustomerID == "" {
		return "", domainerr.New(domainerr.Conflict, "this tenant has no Stripe customer")
	}
	return d.State.CustomerID, nil
}

// billingPortal opens a customer-portal session (cards, invoices).
func (s *Server) billingPortal(w http.ResponseWriter, r *http.Request) error {
	cust, err := s.billingCustomer(r)
	if err != nil {
		return err
	}
	u, err := payments.PortalURL(r.Context(), s.Billing.Stripe, cust, s.Billing.PublicURL, "")
	if err != nil {
		s.logErr(r, "portal session", err)
		return domainerr.New(domainerr.Unavailable, "Stripe could not open the billing portal; try again shortly")
	}
	writeJSON(w, http.StatusOK, sessionView{URL: u})
	return nil
}

// billingCheckout opens a Checkout session to add a card.
func (s *Server) billingCheckout(w http.ResponseWriter, r *http.Request) error {
	cust, err := s.billingCustomer(r)
	if err != nil {
		return err
	}
	u, err := payments.CheckoutURL(r.Context(), s.Billing.Stripe, cust, s.Billing.PublicURL, "")
	if err != nil {
		s.logErr(r, "checkout session", err)
		return domainerr.New(domainerr.Unavailable, "Stripe could not open Checkout; try again shortly")
	}
	writeJSON(w, http.StatusOK, sessionView{URL: u})
	return nil
}

type planRequest struct {
	Plan string `json:"plan"`
}

// billingPlan changes the plan through the billing workflow's update: the
// validator refuses non-owners, unknown plans and cancelled subscriptions
// before anything enters the history; upgrades apply now (prorated),
// downgrades at the period's end.
func (s *Server) billingPlan(w http.ResponseWriter, r *http.Request) error {
	var req planRequest
	if err := decodeJSON(r, &req, 4<<10); err != nil {
		return err
	}
	req.Plan = strings.TrimSpace(req.Plan)
	if req.Plan == "" {
		return invalid("plan", "plan is required")
	}
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	h, err := s.Temporal.UpdateWorkflow(r.Context(), client.UpdateWorkflowOptions{
		WorkflowID: billing.WorkflowID(a.TenantID), UpdateName: billing.UpdatePlan,
		Args:         []any{billing.PlanChange{Plan: req.Plan, ByOwner: a.Role == auth.RoleClientOwner}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var st billing.State
	if err == nil {
		err = h.Get(r.Context(), &st)
	}
	if err != nil {
		return planErr(err)
	}
	if err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		return audit(ctx, tx, r, a, uuid.Nil, "billing.plan_changed", "tenant", a.TenantID.String(),
			map[string]any{"plan": st.Plan, "pending_plan": st.PendingPlan})
	}); err != nil {
		s.logErr(r, "audit plan change", err)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func planErr(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return domainerr.New(domainerr.Conflict, "this tenant has no billing cycle (billing is not configured for it)")
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case billing.ErrNotOwner:
			return domainerr.New(domainerr.Forbidden, app.Message())
		case billing.ErrUnknownPlan:
			return invalid("plan", app.Message())
		case billing.ErrCancelled, billing.ErrSamePlan, billing.ErrNoSubscription:
			return domainerr.New(domainerr.Conflict, app.Message())
		case billing.ErrStripeRejected:
			return domainerr.New(domainerr.Refused, "Stripe refused the change")
		}
	}
	return domainerr.Wrap(domainerr.Unavailable, "the plan could not be changed; try again shortly", err)
}
