// Package email sends the platform's email. Every message is first a row in
// email_outbox under its business idempotency key; with EMAIL_PROVIDER=outbox
// (dev) the row is the delivery, with resend the row is delivered once through
// Resend (with the same key as Idempotency-Key) and marked sent, so neither a
// retried activity nor a reset workflow emails anyone twice.
package email

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/resend/resend-go/v2"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/brand"
	"github.com/secureops/secureops/internal/contract/intel"
	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/contract/report"
	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/faults"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/mailtmpl"
	"github.com/secureops/secureops/internal/temporalx"
)

// Activities send through Resend when it is set, else only to the outbox.
type Activities struct {
	DB        *db.DB
	Resend    *resend.Client
	From      string
	OpsEmail  string
	PublicURL string
	// Kratos makes the recovery codes of welcome emails.
	Kratos *kratos.Client
	// RevealSecrets keeps recovery links and codes in the outbox copy: in dev
	// and test the outbox is the mailbox. In production the copy says where
	// they were, and only the sent email carries them.
	RevealSecrets bool
	// Brand is the platform's name and look (zero: SecureOps'): every
	// message is branded on its way out (Send).
	Brand brand.Brand
	// Templates are the emails' templates (nil: the embedded defaults;
	// EMAIL_TEMPLATES_DIR overrides them).
	Templates *mailtmpl.Set
}

// branded puts the platform's brand on a message (mailtmpl.Branded, the
// one rule for every email).
func (a *Activities) branded(m Message) Message {
	b := mailtmpl.Branded(a.Brand, mailtmpl.Message{Subject: m.Subject, Text: m.Text, HTML: m.HTML})
	m.Subject, m.Text, m.HTML = b.Subject, b.Text, b.HTML
	return m
}

// render renders email template name (mailtmpl.Names) with data.
func (a *Activities) render(name string, data any) (mailtmpl.Message, error) {
	m, err := a.Templates.Render(name, a.Brand, data)
	if err != nil {
		return m, temporal.NewNonRetryableApplicationError(err.Error(), "EmailTemplate", err)
	}
	return m, nil
}

// redacted replaces a secret in the outbox copy of a message.
const redacted = "[in the sent email only]"

var platform = db.Scope{PlatformAdmin: true}

// NewResend builds a Resend client against base (https://api.resend.com/ or
// a test server) whose HTTP answers' status codes reach classify: the SDK
// reports most errors as plain strings.
func NewResend(apiKey, base string) (*resend.Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/") + "/")
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: statusRecorder{http.DefaultTransport}}
	c := resend.NewCustomClient(hc, apiKey)
	c.BaseURL = u
	return c, nil
}

type statusKey struct{}

type statusBox struct {
	mu   sync.Mutex
	code int
	name string // the error's name in a 409's body
}

type statusRecorder struct{ next http.RoundTripper }

func (s statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(r)
	if box, ok := r.Context().Value(statusKey{}).(*statusBox); ok && resp != nil {
		name := ""
		if resp.StatusCode == http.StatusConflict {
			// Which 409 it is only the body's name tells (the SDK keeps
			// the message): read it and put it back.
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			var e struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(b, &e)
			name = e.Name
		}
		box.mu.Lock()
		box.code, box.name = resp.StatusCode, name
		box.mu.Unlock()
	}
	return resp, err
}

// Message is one email.
type Message struct {
	TenantID       uuid.UUID
	IdempotencyKey string
	To             string
	Subject        string
	Text           string
	HTML           string
	Category       string
	// Secrets are values (recovery links, codes) the sent email carries and
	// the stored copy does not, unless RevealSecrets.
	Secrets []string
}

func (a *Activities) stored(s string, secrets []string) string {
	if a.RevealSecrets {
		return s
	}
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		// html/template writes & as &amp; in attributes: redact that spelling too.
		s = strings.ReplaceAll(s, sec, redacted)
		s = strings.ReplaceAll(s, html.EscapeString(sec), redacted)
	}
	return s
}

// sentAlready reports whether the message under key went out already (or,
// with the outbox as the mailbox, was recorded).
func (a *Activities) sentAlready(ctx context.Context, key string) (bool, error) {
	var done bool
	err := a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		row, err := db.Q.EmailOutboxGetByKey(ctx, tx, key)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		done = err == nil && (a.Resend == nil || row.SentAt != nil)
		return err
	})
	return done, err
}

// Send records the message and, with Resend, delivers it once. It returns
// the provider's id ("" for the outbox).
func (a *Activities) Send(ctx context.Context, m Message) (string, error) {
	m = a.branded(m)
	var row dbq.EmailOutbox
	err := a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		row, err = db.Q.EmailOutboxInsert(ctx, tx, dbq.EmailOutboxInsertParams{
			TenantID: m.TenantID, IdempotencyKey: m.IdempotencyKey, ToAddress: strings.ToLower(m.To),
			Subject: m.Subject, BodyText: a.stored(m.Text, m.Secrets), BodyHtml: a.stored(m.HTML, m.Secrets),
		})
		return err
	})
	if err != nil {
		return "", err
	}
	if a.Resend == nil || row.SentAt != nil {
		return row.ProviderID, nil
	}
	box := &statusBox{}
	rctx := context.WithValue(ctx, statusKey{}, box)
	// The stored row is what is sent: a retry after a template change still
	// sends the message the first attempt recorded. A message with secrets
	// is sent as rendered now, since its copy does not hold them.
	textBody, htmlBody := row.BodyText, row.BodyHtml
	if len(m.Secrets) > 0 {
		textBody, htmlBody = m.Text, m.HTML
	}
	sent, err := a.Resend.Emails.SendWithOptions(rctx, &resend.SendEmailRequest{
		From: a.From, To: []string{row.ToAddress}, Subject: row.Subject, Text: textBody, Html: htmlBody,
		Tags:    []resend.Tag{{Name: "category", Value: m.Category}, {Name: "tenant_id", Value: m.TenantID.String()}},
		Headers: map[string]string{"X-Entity-Ref-ID": m.IdempotencyKey},
	}, &resend.SendEmailOptions{IdempotencyKey: m.IdempotencyKey})
	if err != nil {
		box.mu.Lock()
		code, name := box.code, box.name
		box.mu.Unlock()
		if code != http.StatusConflict || name != resendKeyUsed {
			return "", classify(code, err)
		}
		// Resend took this key with another body: an earlier attempt sent
		// the message and died before marking it (a message with secrets
		// is rendered anew, e.g. a fresh recovery code). It went out once;
		// mark it sent instead of retrying a request Resend never accepts.
		sent = &resend.SendEmailResponse{}
	}
	faults.PauseFor(faults.EmailSent, m.TenantID.String())
	err = a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.EmailOutboxMarkSent(ctx, tx, dbq.EmailOutboxMarkSentParams{IdempotencyKey: m.IdempotencyKey, ProviderID: sent.Id})
	})
	return sent.Id, err
}

// resendKeyUsed is Resend's 409 for an idempotency key already used with a
// different payload (its other 409, concurrent_idempotent_requests, is
// retried: the first request is still in flight).
const resendKeyUsed = "invalid_idempotent_request"

// classify: 400/422 mean Resend refuses this message as written (invalid
// address, unverified sender); 401/403 a bad key. Rate limits, 409 (the same
// idempotency key still in flight) and outages are retried.
func classify(status int, err error) error {
	var rl *resend.RateLimitError
	if errors.As(err, &rl) {
		return err
	}
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity ||
		status == http.StatusUnauthorized || status == http.StatusForbidden:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("the email provider refused the message (status %d)", status), notify.ErrEmailRejected, err)
	}
	return fmt.Errorf("resend (status %d): %w", status, err)
}

// Register binds the activities to their names in the contracts: onboarding's
// mails and the finished scan's.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	onboarding.SendWelcome.Register(reg, a.SendWelcome)
	onboarding.NotifyOps.Register(reg, a.NotifyOps)
	notify.ScanEmails.Register(reg, a.ScanEmails)
	intel.KEVEmails.Register(reg, a.KEVAlerts)
	report.Email.Register(reg, a.ReportReady)
	sla.Emails.Register(reg, a.SLANotices)
}
