package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/kratos"
)

func adminCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "admin",
		Short: "Operator tools (read the server's environment; in dev, .data/endpoints.env)",
	}
	tenant := &cobra.Command{Use: "tenant", Short: "Manage tenants"}
	var in bootstrap.TenantInput
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a tenant with its owner; prints the tenant's id and slug",
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, kr, err := adminDeps(cmd.Context())
			if err != nil {
				return err
			}
			defer d.Close()
			t, err := bootstrap.CreateTenant(cmd.Context(), d, kr, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "id=%s\nslug=%s\n", t.ID, t.Slug)
			if t.OwnerID.String() != "00000000-0000-0000-0000-000000000000" {
				fmt.Fprintf(cmd.OutOrStdout(), "owner_id=%s\n", t.OwnerID)
			}
			return nil
		},
	}
	create.Flags().StringVar(&in.Name, "name", "", "tenant name (required)")
	create.Flags().StringVar(&in.Tier, "tier", "basic", "basic, pro or enterprise")
	create.Flags().StringVar(&in.OwnerEmail, "owner-email", "", "the owner's email (a Kratos identity is created or reused)")
	create.Flags().StringVar(&in.OwnerName, "owner-name", "", "the owner's name")
	create.Flags().StringVar(&in.ParentSlug, "parent", "", "parent tenant slug (makes a sub-tenant)")
	create.Flags().StringVar(&in.Slug, "slug", "", "slug (default: the name lower-cased, other characters as '-')")
	_ = create.MarkFlagRequired("name")
	tenant.AddCommand(create)

	apikey := &cobra.Command{Use: "apikey", Short: "Manage API keys"}
	var slug, role, name string
	var scopes []string
	keyCreate := &cobra.Command{
		Use:   "create",
		Short: "Create an API key for a tenant and print it once",
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, _, err := adminDeps(cmd.Context())
			if err != nil {
				return err
			}
			defer d.Close()
			key, id, err := bootstrap.CreateAPIKey(cmd.Context(), d, slug, auth.Role(role), scopes, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "API key %s created; it is shown once:\n", id)
			fmt.Fprintln(cmd.OutOrStdout(), key)
			return nil
		},
	}
	keyCreate.Flags().StringVar(&slug, "tenant", "", "tenant slug (required)")
	keyCreate.Flags().StringVar(&role, "role", string(auth.RoleClientAPI), "client_admin, client_analyst, client_readonly or client_api")
	keyCreate.Flags().StringSliceVar(&scopes, "scopes", nil, "scopes of a client_api key, e.g. findings:view,scans:start")
	keyCreate.Flags().StringVar(&name, "name", "", "a label for the key")
	_ = keyCreate.MarkFlagRequired("tenant")
	apikey.AddCommand(keyCreate)

	c.AddCommand(tenant, apikey)
	c.AddCommand(outboxCmd(), platformAdminCmd())
	c.AddCommand(adminBillingCmd())
	c.AddCommand(adminEmailCmd())
	c.AddCommand(adminSSOCmd())
	return c
}

// adminDeps connects like the server does. Variables already set win over
// the dev endpoints file, so the same command works against production.
func adminDeps(ctx context.Context) (*db.DB, *kratos.Client, error) {
	if err := loadEndpointsFile(filepath.Join(envOr("DATA_DIR", ".data"), "endpoints.env")); err != nil {
		return nil, nil, err
	}
	cfg, err := config.FromEnv(config.ModeProduction)
	if err != nil {
		return nil, nil, err
	}
	if cfg.AppDatabaseURL == "" {
		return nil, nil, errors.New("DATABASE_URL (or APP_DATABASE_URL) must be set, or run `make run` first so .data/endpoints.env exists")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d, err := db.Open(ctx, cfg.AppDatabaseURL, db.WithPassword(cfg.AppDatabasePassword), db.WithMaxConns(cfg.DBPoolMaxConns))
	if err != nil {
		return nil, nil, err
	}
	if err := d.Ping(ctx); err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	var kr *kratos.Client
	if cfg.KratosPublicURL != "" && cfg.KratosAdminURL != "" {
		kr = kratos.New(cfg.KratosPublicURL, cfg.KratosAdminURL, nil, time.Second)
	}
	return d, kr, nil
}

// loadEndpointsFile sets the KEY='value' lines `secureops dev` writes, for
// variables not already in the environment. A missing file is not an error.
func loadEndpointsFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'"), `'\''`, "'")
		if _, set := os.LookupEnv(k); !set {
			_ = os.Setenv(k, v)
		}
	}
	return sc.Err()
}
