package scanner

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/targets"
)

// Non-retryable error types: retrying cannot make a refused or unparseable
// target acceptable, so the workflow fails at once with the reason.
const (
	ErrInvalidTarget     = "InvalidTarget"
	ErrTargetNotAllowed  = "TargetNotAllowed"
	ErrUnknownScanner    = "UnknownScanner"
	ErrScannerNotPresent = "ScannerNotInstalled"
)

func nonRetryable(err error) error {
	switch {
	case errors.Is(err, targets.ErrInvalid):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrInvalidTarget, err)
	case errors.Is(err, targets.ErrNotAllowed):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTargetNotAllowed, err)
	}
	return err
}
