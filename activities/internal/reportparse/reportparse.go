// Package reportparse reads a scanner's report into findings for the scan
// pipeline, the one place the activities do: the scanner activity parses a
// fresh report before it stores it (so a tool that exits 0 without a usable
// report fails its own run, by name), and ingest parses the stored report for
// its findings. Both need the same reading and the same verdict on a bad
// report; only the findings cannot travel between them (a report can be
// 100 MB, far above what a workflow history may hold).
package reportparse

import (
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/parsers"
)

// Parse reads data as a report of scanner. A report no parser can read (or
// of an unknown format) is a non-retryable scan.ErrReportMalformed whose
// message, prefixed with what, is shown to the tenant: parsing is a function
// of the bytes, so a retry would only fail the same way.
func Parse(scanner string, data []byte, what string) ([]findings.Finding, error) {
	fs, err := parsers.Parse(scanner, data)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(what+err.Error(), scan.ErrReportMalformed, err)
	}
	return fs, nil
}
