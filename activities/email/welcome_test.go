package email

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/kratosdev"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// resendStandIn records what Resend would have been asked to send.
type resendStandIn struct {
	mu   sync.Mutex
	sent []map[string]any
}

func (r *resendStandIn) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/emails" || req.Header.Get("Idempotency-Key") == "" {
		http.Error(w, "unexpected request "+req.Method+" "+req.URL.Path, http.StatusBadRequest)
		return
	}
	b, _ := io.ReadAll(req.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	r.mu.Lock()
	r.sent = append(r.sent, m)
	n := len(r.sent)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"re_` + strings.Repeat("x", n) + `"}`))
}

// The welcome email's recovery link and code are made at send time and
// reach the owner; the outbox copy (readable by operators) holds neither,
// and a retry after the send mints no second code.
func TestWelcomeRecoveryCodeOnlyInTheSentEmail(t *testing.T) {
	bin, err := kratosdev.FindBin()
	if err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx := context.Background()
	kp, err := kratosdev.Start(ctx, kratosdev.Options{Bin: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kp.Stop() })
	kr := kratos.New(kp.PublicURL, kp.AdminURL, nil, 0)
	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(ctx) })

	for _, reveal := range []bool{false, true} {
		tenant := uuid.New()
		email := "owner-" + tenant.String()[:8] + "@welcome.example"
		if _, err := super.Exec(ctx, "INSERT INTO tenants (id, slug, name, status) VALUES ($1, $2, 'W', 'onboarding')", tenant, "w-"+tenant.String()[:8]); err != nil {
			t.Fatal(err)
		}
		ident, err := kr.EnsureIdentity(ctx, email, "Owner", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		standIn := &resendStandIn{}
		srv := httptest.NewServer(standIn)
		t.Cleanup(srv.Close)
		rc, err := NewResend("re_test", srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		a := &Activities{DB: d.OpenApp(t), Resend: rc, From: "SecureOps <hi@secureops.example>", PublicURL: "https://app.example", Kratos: kr, RevealSecrets: reveal}
		in := onboarding.WelcomeInput{TenantID: tenant, To: email, ContactName: "Owner", CompanyName: "W", Tier: "pro", OwnerID: ident.ID, Attempt: 1}
		if _, err := a.SendWelcome(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, err := a.SendWelcome(ctx, in); err != nil { // a retried activity
			t.Fatal(err)
		}
		if len(standIn.sent) != 1 {
			t.Fatalf("reveal=%v: Resend asked %d times, want once", reveal, len(standIn.sent))
		}
		text, _ := standIn.sent[0]["text"].(string)
		html, _ := standIn.sent[0]["html"].(string)
		link, code := between(text, "Set your password: ", "\n"), between(text, "enter the code ", ";")
		if !strings.Contains(link, "recovery?flow=") || len(code) < 6 || !strings.Contains(html, code) {
			t.Fatalf("reveal=%v: the sent email lacks a recovery link or code:\n%s", reveal, text)
		}
		var storedText, storedHTML string
		if err := super.QueryRow(ctx, "SELECT body_text, body_html FROM email_outbox WHERE tenant_id = $1", tenant).Scan(&storedText, &storedHTML); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{link, code, strings.ReplaceAll(link, "&", "&amp;")} {
			if got := strings.Contains(storedText+storedHTML, secret); got != reveal {
				t.Errorf("reveal=%v: the outbox copy holds %q: %v", reveal, secret, got)
			}
		}
		if !reveal && !strings.Contains(storedText, redacted) {
			t.Errorf("the outbox copy does not say where the link went:\n%s", storedText)
		}
	}
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return strings.TrimSpace(v)
}

// A message with secrets is rendered anew on a retry (a fresh recovery code);
// when the first attempt went out and died before marking the row sent,
// Resend answers the retry's other body with 409 invalid_idempotent_request.
// That is the message sent once, marked so, not an error retried until the
// onboarding gives up.
func TestSendAfterLostRecordingOfASend(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(ctx) })
	tenant := uuid.New()
	if _, err := super.Exec(ctx, "INSERT INTO tenants (id, slug, name, status) VALUES ($1, $2, 'L', 'onboarding')", tenant, "l-"+tenant.String()[:8]); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	bodies := map[string]string{} // idempotency key → body, as Resend keeps them
	accepted := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if prev, ok := bodies[key]; ok && prev != string(b) {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"statusCode":409,"name":"invalid_idempotent_request","message":"This idempotency key has been used on a request with a different payload."}`))
			return
		}
		if _, ok := bodies[key]; !ok {
			accepted++
		}
		bodies[key] = string(b)
		_, _ = w.Write([]byte(`{"id":"re_1"}`))
	}))
	t.Cleanup(srv.Close)
	rc, err := NewResend("re_test", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	a := &Activities{DB: d.OpenApp(t), Resend: rc, From: "SecureOps <hi@secureops.example>"}
	msg := func(code string) Message {
		return Message{TenantID: tenant, IdempotencyKey: "email/lost/" + tenant.String(), To: "o@lost.example", Subject: "s",
			Text: "code " + code, Category: "test", Secrets: []string{code}}
	}
	if _, err := a.Send(ctx, msg("111111")); err != nil {
		t.Fatal(err)
	}
	// The worker died between Resend's answer and the outbox update.
	if _, err := super.Exec(ctx, "UPDATE email_outbox SET sent_at = NULL, provider_id = '' WHERE tenant_id = $1", tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(ctx, msg("222222")); err != nil {
		t.Fatalf("the retry after a lost recording: %v", err)
	}
	var sent bool
	if err := super.QueryRow(ctx, "SELECT sent_at IS NOT NULL FROM email_outbox WHERE tenant_id = $1", tenant).Scan(&sent); err != nil {
		t.Fatal(err)
	}
	if accepted != 1 || !sent {
		t.Errorf("messages Resend accepted %d, row marked sent %v; want 1, true", accepted, sent)
	}
	// The other 409 (the same key still in flight) is retried.
	if err := classify(http.StatusConflict, errors.New("[ERROR]: concurrent")); err == nil {
		t.Error("no error")
	} else if app := (*temporal.ApplicationError)(nil); errors.As(err, &app) && app.NonRetryable() {
		t.Errorf("concurrent_idempotent_requests is not retried: %v", err)
	}
}
