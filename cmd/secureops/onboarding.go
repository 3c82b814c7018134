package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/secureops/secureops/activities/stripe"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// stripeCmd is `secureops stripe bootstrap`: the products and prices of
// every tier, created once and found by lookup_key afterwards.
func stripeCmd() *cobra.Command {
	c := &cobra.Command{Use: "stripe", Short: "Stripe tools (STRIPE_SECRET_KEY, or STRIPE_API_BASE for stripe-mock)"}
	c.AddCommand(&cobra.Command{
		Use:   "bootstrap",
		Short: "Create the tiers' products and prices in Stripe (idempotent: found by lookup_key)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadEndpointsFile(filepath.Join(envOr("DATA_DIR", ".data"), "endpoints.env")); err != nil {
				return err
			}
			cfg, err := config.FromEnv(config.ModeProduction)
			if err != nil {
				return err
			}
			if !cfg.StripeEnabled() {
				return errors.New("set STRIPE_SECRET_KEY (or STRIPE_API_BASE for stripe-mock)")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			cat, err := stripe.Bootstrap(ctx, stripe.NewAPI(cfg.StripeSecretKey, cfg.StripeAPIBase))
			if err != nil {
				return err
			}
			keys := make([]string, 0, len(cat))
			for k := range cat {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(cmd.OutOrStdout(), "%s=%s\n", k, cat[k])
			}
			return nil
		},
	})
	return c
}

// outboxCmd is `secureops admin outbox`: the emails the platform recorded,
// newest first (in dev, with EMAIL_PROVIDER=outbox, the only delivery).
func outboxCmd() *cobra.Command {
	var to, tenant string
	var limit int
	var full bool
	c := &cobra.Command{
		Use:   "outbox",
		Short: "List recorded emails, newest first (--full prints the bodies)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 500 {
				return errors.New("--limit must be from 1 to 500")
			}
			d, _, err := adminDeps(cmd.Context())
			if err != nil {
				return err
			}
			defer d.Close()
			params := dbq.EmailOutboxListAllParams{Lim: int32(limit)}
			if to != "" {
				v := strings.ToLower(to)
				params.ToAddress = &v
			}
			if tenant != "" {
				id, err := uuid.Parse(tenant)
				if err != nil {
					return fmt.Errorf("--tenant must be a tenant id: %w", err)
				}
				params.TenantID = uuid.NullUUID{UUID: id, Valid: true}
			}
			var rows []dbq.EmailOutbox
			err = d.InTx(cmd.Context(), db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
				rows, err = db.Q.EmailOutboxListAll(ctx, tx, params)
				return err
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if full {
				for _, m := range rows {
					fmt.Fprintf(out, "--- %s  %s\nTo: %s\nSubject: %s\nKey: %s\n\n%s\n", m.CreatedAt.Format(time.RFC3339), m.ID, m.ToAddress, m.Subject, m.IdempotencyKey, m.BodyText)
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CREATED\tTO\tSUBJECT\tSENT\tKEY")
			for _, m := range rows {
				sent := "outbox"
				if m.SentAt != nil {
					sent = m.ProviderID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.CreatedAt.Format(time.RFC3339), m.ToAddress, m.Subject, sent, m.IdempotencyKey)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&to, "to", "", "only emails to this address")
	c.Flags().StringVar(&tenant, "tenant", "", "only emails of this tenant id")
	c.Flags().IntVar(&limit, "limit", 50, "how many (1–500)")
	c.Flags().BoolVar(&full, "full", false, "print each email's text body")
	return c
}
