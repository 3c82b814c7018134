package stripe

import (
	"context"
	"errors"
	"os"
	"testing"

	stripego "github.com/stripe/stripe-go/v76"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/stripemock"
	"github.com/secureops/secureops/internal/tiers"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		err       *stripego.Error
		retryable bool
		typ       string
	}{
		{&stripego.Error{HTTPStatusCode: 402, Type: stripego.ErrorTypeCard, Code: stripego.ErrorCodeCardDeclined, Msg: "Your card was declined."}, false, onboarding.ErrCardDeclined},
		{&stripego.Error{HTTPStatusCode: 400, Type: stripego.ErrorTypeInvalidRequest, Msg: "No such price"}, false, onboarding.ErrInvalidRequest},
		{&stripego.Error{HTTPStatusCode: 401, Msg: "Invalid API Key"}, false, onboarding.ErrAuthentication},
		{&stripego.Error{HTTPStatusCode: 429, Msg: "Too many requests"}, true, ""},
		{&stripego.Error{HTTPStatusCode: 409, Msg: "Idempotent request in progress"}, true, ""},
		{&stripego.Error{HTTPStatusCode: 503, Msg: "unavailable"}, true, ""},
	}
	for _, c := range cases {
		err := classify("create customer", c.err)
		var app *temporal.ApplicationError
		isApp := errors.As(err, &app)
		if c.retryable {
			if isApp && app.NonRetryable() {
				t.Errorf("%d: non-retryable %v", c.err.HTTPStatusCode, err)
			}
			continue
		}
		if !isApp || !app.NonRetryable() || app.Type() != c.typ {
			t.Errorf("%d: %v, want non-retryable %s", c.err.HTTPStatusCode, err, c.typ)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	id := [16]byte{1}
	if k := IdempotencyKey("customer", id, 1); k != "stripe/customer/01000000-0000-0000-0000-000000000000" {
		t.Errorf("attempt 1: %s", k)
	}
	if k := IdempotencyKey("subscription", id, 3); k != "stripe/subscription/01000000-0000-0000-0000-000000000000/attempt-3" {
		t.Errorf("attempt 3: %s", k)
	}
}

// Against stripe-mock: every tier's price and the metered scans price are
// created with their lookup keys (stripe-mock validates the parameters
// against Stripe's OpenAPI for the SDK's API version).
func TestBootstrapAgainstStripeMock(t *testing.T) {
	bin, err := stripemock.FindBin()
	if err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	sm, err := stripemock.Start(context.Background(), stripemock.Options{Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Stop()
	cat, err := Bootstrap(context.Background(), NewAPI("", sm.URL))
	if err != nil {
		t.Fatal(err)
	}
	for _, tier := range tiers.All {
		if cat[tier.PriceLookupKey] == "" {
			t.Errorf("no price for %s", tier.PriceLookupKey)
		}
	}
	if cat[tiers.ScansMeteredLookupKey] == "" {
		t.Errorf("no metered scans price")
	}
}
