package webhooks

import (
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/webhookwire"
)

// maxRetryAfter caps a receiver's Retry-After at the workflow's longest
// backoff, so one receiver cannot park a delivery for days.
const maxRetryAfter = 10 * time.Minute

// outcome classifies a receiver's answer: the status the delivery takes and
// the error (nil when delivered) the activity returns.
func outcome(resp webhookwire.Response) (status string, err error) {
	code := resp.StatusCode
	msg := fmt.Sprintf("the receiver answered %d %s", code, http.StatusText(code))
	switch {
	case code >= 200 && code < 300:
		return "delivered", nil
	case code == http.StatusGone:
		return "failed", temporal.NewNonRetryableApplicationError(msg+"; the webhook was switched off", notify.ErrWebhookGone, nil)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		opts := temporal.ApplicationErrorOptions{}
		if resp.RetryAfter > 0 {
			opts.NextRetryDelay = min(resp.RetryAfter, maxRetryAfter)
		}
		return "pending", temporal.NewApplicationErrorWithOptions(msg, notify.ErrDeliveryFailed, opts)
	case code >= 300 && code < 400:
		return "failed", temporal.NewNonRetryableApplicationError(msg+"; redirects are not followed, register the final URL", notify.ErrDeliveryRejected, nil)
	default:
		return "failed", temporal.NewNonRetryableApplicationError(msg, notify.ErrDeliveryRejected, nil)
	}
}
