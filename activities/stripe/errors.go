package stripe

import (
	"errors"
	"fmt"
	"net/http"

	stripego "github.com/stripe/stripe-go/v76"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/onboarding"
)

func nonRetryable(typ, msg string, cause error) error {
	return temporal.NewNonRetryableApplicationError(msg, typ, cause)
}

// classify maps a Stripe error to a retryable or non-retryable one. Rate
// limits, lock timeouts, idempotency races (409) and 5xx are worth retrying.
func classify(what string, err error) error {
	var se *stripego.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("stripe %s: %w", what, err)
	}
	msg := fmt.Sprintf("stripe %s: %s", what, se.Msg)
	switch {
	case se.Type == stripego.ErrorTypeCard || se.Code == stripego.ErrorCodeCardDeclined:
		return nonRetryable(onboarding.ErrCardDeclined, "the card was declined", err)
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		return nonRetryable(onboarding.ErrAuthentication, msg, err)
	case se.HTTPStatusCode == http.StatusTooManyRequests || se.HTTPStatusCode == http.StatusConflict || se.HTTPStatusCode >= 500 || se.HTTPStatusCode == 0:
		return fmt.Errorf("%s: %w", msg, err)
	case se.HTTPStatusCode >= 400:
		return nonRetryable(onboarding.ErrInvalidRequest, msg, err)
	}
	return fmt.Errorf("%s: %w", msg, err)
}
