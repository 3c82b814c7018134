package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/secureops/secureops/activities/stripe"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/payments"
)

// billingDoc reads a tenant's billing document by slug, as GET
// /api/v1/billing answers it (with Stripe's invoices when configured).
func billingDoc(ctx context.Context, slug string) (payments.Doc, error) {
	d, _, err := adminDeps(ctx)
	if err != nil {
		return payments.Doc{}, err
	}
	defer d.Close()
	var doc payments.Doc
	err = d.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		t, err := db.Q.TenantGetBySlug(ctx, tx, slug)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no tenant %q", slug)
		}
		if err != nil {
			return err
		}
		doc, err = payments.Read(ctx, tx, t.ID)
		return err
	})
	if err != nil {
		return doc, err
	}
	if cfg, err := config.FromEnv(config.ModeProduction); err == nil && cfg.StripeEnabled() {
		if err := payments.AddInvoices(ctx, stripe.NewAPI(cfg.StripeSecretKey, cfg.StripeAPIBase), &doc); err != nil {
			fmt.Fprintln(os.Stderr, "listing invoices from Stripe:", err)
		}
	}
	return doc, nil
}

// adminBillingCmd is `secureops admin billing show --tenant SLUG`.
func adminBillingCmd() *cobra.Command {
	c := &cobra.Command{Use: "billing", Short: "Tenants' billing"}
	var slug string
	show := &cobra.Command{
		Use:   "show",
		Short: "Print a tenant's billing state as JSON (the document of GET /api/v1/billing)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			doc, err := billingDoc(ctx, slug)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(doc)
		},
	}
	show.Flags().StringVar(&slug, "tenant", "", "tenant slug (required)")
	_ = show.MarkFlagRequired("tenant")
	c.AddCommand(show)
	return c
}

// billingCmd is `secureops billing event`: a signed, realistic Stripe event
// posted to the local webhook (stripe-mock never sends webhooks).
func billingCmd() *cobra.Command {
	c := &cobra.Command{Use: "billing", Short: "Billing tools for dev and demos"}
	var spec payments.EventSpec
	var slug, apiURL string
	ev := &cobra.Command{
		Use:   "event",
		Short: "Sign and post a Stripe webhook event about a tenant to the local API (STRIPE_WEBHOOK_SECRET)",
		Example: "  secureops billing event --tenant acme --type invoice.payment_failed\n" +
			"  secureops billing event --tenant acme --type invoice.paid   # pays the invoice that failed",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadEndpointsFile(filepath.Join(envOr("DATA_DIR", ".data"), "endpoints.env")); err != nil {
				return err
			}
			secret := os.Getenv("STRIPE_WEBHOOK_SECRET")
			if secret == "" {
				return errors.New("STRIPE_WEBHOOK_SECRET is not set (run `make run` first: it writes .data/endpoints.env)")
			}
			if apiURL == "" {
				apiURL = envOr("SECUREOPS_API_URL", "http://127.0.0.1:8080")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			doc, err := billingDoc(ctx, slug)
			if err != nil {
				return err
			}
			if doc.State == nil || doc.State.CustomerID == "" {
				return fmt.Errorf("tenant %q has no Stripe customer (no billing cycle state yet)", slug)
			}
			spec.CustomerID, spec.SubscriptionID = doc.State.CustomerID, doc.State.SubscriptionID
			if spec.Plan == "" {
				spec.Plan = doc.Plan
			}
			// Paying follows a failure: the same invoice, unless named.
			if spec.ObjectID == "" && strings.HasPrefix(spec.Type, "invoice.") && doc.State.LastInvoice != nil &&
				doc.State.LastInvoice.Status != "paid" && spec.Type == billing.EventInvoicePaid {
				spec.ObjectID = doc.State.LastInvoice.ID
			}
			if spec.TrialEnd.IsZero() && doc.State.TrialEnd != nil {
				spec.TrialEnd = *doc.State.TrialEnd
			}
			body, err := payments.Event(spec)
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(apiURL, "/")+"/api/v1/stripe/webhook", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Stripe-Signature", payments.Sign(body, secret, time.Now()))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			answer, _ := io.ReadAll(resp.Body)
			var id struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(body, &id)
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s → %s %s\n", spec.Type, id.ID, resp.Status, bytes.TrimSpace(answer))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("the webhook answered %s", resp.Status)
			}
			return nil
		},
	}
	ev.Flags().StringVar(&slug, "tenant", "", "tenant slug (required)")
	ev.Flags().StringVar(&spec.Type, "type", "", "event type: invoice.paid, invoice.payment_failed, customer.subscription.updated, customer.subscription.deleted, customer.subscription.trial_will_end, checkout.session.completed (required)")
	ev.Flags().StringVar(&spec.ObjectID, "object", "", "the invoice, subscription or session id (default: a new one; invoice.paid pays the last unpaid invoice)")
	ev.Flags().StringVar(&spec.SubStatus, "status", "", "the subscription's status in customer.subscription.* events")
	ev.Flags().StringVar(&spec.Plan, "plan", "", "the subscription's plan (default: the tenant's)")
	ev.Flags().StringVar(&apiURL, "api", "", "the API's base URL (default SECUREOPS_API_URL from .data/endpoints.env)")
	_ = ev.MarkFlagRequired("tenant")
	_ = ev.MarkFlagRequired("type")
	c.AddCommand(ev)
	return c
}
