package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/sso"
)

// adminSSOCmd: `secureops admin sso kratos-providers` prints OIDC_PROVIDERS
// in Kratos' shape, the value of KRATOS_OIDC_PROVIDERS in .env (compose hands
// it to Kratos as SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS), and each
// provider's redirect URI to register at the provider.
func adminSSOCmd() *cobra.Command {
	c := &cobra.Command{Use: "sso", Short: "Single sign-on: identity providers"}
	c.AddCommand(&cobra.Command{
		Use:   "kratos-providers",
		Short: "Print OIDC_PROVIDERS as Kratos' provider list (for KRATOS_OIDC_PROVIDERS)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.FromEnv(config.ModeProduction)
			if err != nil {
				return err
			}
			b, err := sso.KratosProviders(cfg.OIDCProviders)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			base := cfg.KratosBrowserURL
			if base == "" {
				base = cfg.KratosPublicURL
			}
			for _, p := range cfg.OIDCProviders {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: register the redirect URI %s at the provider\n", p.ID, sso.CallbackURL(base, p.ID))
			}
			return nil
		},
	})
	return c
}
