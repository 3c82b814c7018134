package scanner

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/targets"
)

// nonRetryable turns a refused or unparseable target into its non-retryable
// type (internal/contract/scan): retrying cannot make it acceptable, so the
// workflow fails at once with the reason.
func nonRetryable(err error) error {
	switch {
	case errors.Is(err, targets.ErrInvalid):
		return temporal.NewNonRetryableApplicationError(err.Error(), scan.ErrInvalidTarget, err)
	case errors.Is(err, targets.ErrNotAllowed):
		return temporal.NewNonRetryableApplicationError(err.Error(), scan.ErrTargetNotAllowed, err)
	}
	return err
}
