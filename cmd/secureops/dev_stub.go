//go:build !devserver

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// The production build leaves the embedded Temporal server out (it would add
// ~150 MB and a second copy of Temporal to every api and worker image).
func devCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run the all-in-one platform (only in builds with -tags devserver; `make run` does that)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("this binary was built without the embedded Temporal server; build with `go build -tags devserver` or use `make run`")
		},
	}
}
