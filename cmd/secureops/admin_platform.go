package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/secureops/secureops/internal/bootstrap"
)

// platformAdminCmd makes a person a platform admin: their Kratos identity
// (created without a password when missing), the user row with the flag,
// and a recovery link through which they set their password. This is how a
// new deployment gets its first operator.
func platformAdminCmd() *cobra.Command {
	var email, name string
	var valid time.Duration
	c := &cobra.Command{
		Use:   "platform-admin",
		Short: "Make a person a platform admin; prints a recovery link to set their password",
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, kr, err := adminDeps(cmd.Context())
			if err != nil {
				return err
			}
			defer d.Close()
			if kr == nil {
				return errors.New("a platform admin signs in with Kratos: set KRATOS_PUBLIC_URL and KRATOS_ADMIN_URL")
			}
			ident, err := kr.EnsureIdentity(cmd.Context(), email, name, "", nil)
			if err != nil {
				return err
			}
			if err := bootstrap.SetPlatformAdmin(cmd.Context(), d, ident.ID, ident.Email, name); err != nil {
				return err
			}
			rec, err := kr.RecoveryCode(cmd.Context(), ident.ID, valid)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user_id=%s\nrecovery_link=%s\nrecovery_code=%s\n", ident.ID, rec.Link, rec.Code)
			return nil
		},
	}
	c.Flags().StringVar(&email, "email", "", "the admin's email (required)")
	c.Flags().StringVar(&name, "name", "", "the admin's name")
	c.Flags().DurationVar(&valid, "valid", 24*time.Hour, "how long the recovery link works")
	_ = c.MarkFlagRequired("email")
	return c
}
