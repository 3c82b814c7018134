package email

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/resend/resend-go/v2"
	"go.temporal.io/sdk/temporal"
)

// The Resend SDK reports most errors as strings; the status code read from
// the transport decides whether trying again can help.
func TestResendErrorsClassified(t *testing.T) {
	for _, c := range []struct {
		status       int
		nonRetryable bool
	}{
		{http.StatusUnprocessableEntity, true},
		{http.StatusBadRequest, true},
		{http.StatusUnauthorized, true},
		{http.StatusTooManyRequests, false},
		{http.StatusConflict, false},
		{http.StatusInternalServerError, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(`{"statusCode":0,"name":"error","message":"no"}`))
		}))
		rc, err := NewResend("re_test", srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		box := &statusBox{}
		_, err = rc.Emails.SendWithOptions(context.WithValue(context.Background(), statusKey{}, box),
			&resend.SendEmailRequest{From: "a@b.test", To: []string{"c@d.test"}, Subject: "s", Text: "t"},
			&resend.SendEmailOptions{IdempotencyKey: "email/test"})
		srv.Close()
		if err == nil {
			t.Fatalf("%d: no error", c.status)
		}
		err = classify(box.code, err)
		var app *temporal.ApplicationError
		got := errors.As(err, &app) && app.NonRetryable()
		if got != c.nonRetryable || box.code != c.status {
			t.Errorf("%d: non-retryable=%v (status seen %d), want %v: %v", c.status, got, box.code, c.nonRetryable, err)
		}
	}
}
