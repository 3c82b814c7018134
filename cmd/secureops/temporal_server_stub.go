//go:build !devserver

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func temporalServerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "temporal-server",
		Short: "Run the embedded Temporal server alone (only in builds with -tags devserver)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("this binary was built without the embedded Temporal server; build with `go build -tags devserver`")
		},
	}
}
