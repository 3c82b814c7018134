package notify

import (
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/webhook"
)

// Error types of the activities. The permanent ones are in NonRetryable;
// DeliveryFailed is the retryable type of a receiver that is down, slow or
// asked us to come back later.
const (
	ErrScanGone         = "ScanGone"
	ErrScanNotFinished  = "ScanNotFinished"
	ErrWebhookGone      = "WebhookGone"       // the receiver answered 410: the webhook is switched off
	ErrDeliveryRejected = "DeliveryRejected"  // a 3xx or 4xx other than 408 and 429: retrying changes nothing
	ErrURLRefused       = "WebhookURLRefused" // the URL (or what its name resolves to now) is outside the policy
	ErrDeliveryFailed   = "DeliveryFailed"
)

// NonRetryable lists the error types a workflow must not retry.
var NonRetryable = []string{ErrScanGone, ErrScanNotFinished, ErrWebhookGone, ErrDeliveryRejected, ErrURLRefused, "InvalidArgument"}

// maxRetryAfter caps a receiver's Retry-After at the workflow's longest
// backoff, so one receiver cannot park a delivery for days.
const maxRetryAfter = 10 * time.Minute

// outcome classifies a receiver's answer: the status the delivery takes and
// the error (nil when delivered) the activity returns.
func outcome(resp webhook.Response) (status string, err error) {
	code := resp.StatusCode
	msg := fmt.Sprintf("the receiver answered %d %s", code, http.StatusText(code))
	switch {
	case code >= 200 && code < 300:
		return "delivered", nil
	case code == http.StatusGone:
		return "failed", temporal.NewNonRetryableApplicationError(msg+"; the webhook was switched off", ErrWebhookGone, nil)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		opts := temporal.ApplicationErrorOptions{}
		if resp.RetryAfter > 0 {
			opts.NextRetryDelay = min(resp.RetryAfter, maxRetryAfter)
		}
		return "pending", temporal.NewApplicationErrorWithOptions(msg, ErrDeliveryFailed, opts)
	case code >= 300 && code < 400:
		return "failed", temporal.NewNonRetryableApplicationError(msg+"; redirects are not followed, register the final URL", ErrDeliveryRejected, nil)
	default:
		return "failed", temporal.NewNonRetryableApplicationError(msg, ErrDeliveryRejected, nil)
	}
}
