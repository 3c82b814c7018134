//go:build devserver

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/devserver"
	"github.com/secureops/secureops/internal/temporalx"
)

// temporalServerCmd runs the embedded Temporal server alone, as its own
// process: the production shape on one machine (`make chaos` kills and
// restarts it beside separate api and worker processes).
func temporalServerCmd() *cobra.Command {
	var dbFile, namespace, ip string
	var port, uiPort int
	c := &cobra.Command{
		Use:   "temporal-server",
		Short: "Run the embedded Temporal server alone on a SQLite file (dev builds; `make chaos` uses it)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			_, log, err := loadConfigFor(config.ModeDev, false)
			if err != nil {
				return err
			}
			ts, err := devserver.Start(ctx, devserver.Options{
				DBFile: dbFile, IP: ip, FrontendPort: port, UIPort: uiPort, Namespace: namespace,
				SearchAttributes: temporalx.SearchAttributeTypes,
				Logger:           log.With("component", "temporal-server"),
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "TEMPORAL_ADDRESS=%s\n", ts.FrontendHostPort())
			<-ctx.Done()
			return ts.Stop()
		},
	}
	c.Flags().StringVar(&dbFile, "db-file", envOr("TEMPORAL_DB_FILE", ".data/temporal.db"), "SQLite file holding all of Temporal's state (\"\" keeps it in memory)")
	c.Flags().StringVar(&ip, "ip", "127.0.0.1", "listen address")
	c.Flags().IntVar(&port, "port", envInt("TEMPORAL_PORT", devserver.DefaultFrontendPort), "frontend (gRPC) port")
	c.Flags().IntVar(&uiPort, "ui-port", envInt("TEMPORAL_UI_PORT", devserver.NoUI), "Web UI port (-1: none)")
	c.Flags().StringVar(&namespace, "namespace", envOr("TEMPORAL_NAMESPACE", "default"), "namespace to register")
	return c
}
