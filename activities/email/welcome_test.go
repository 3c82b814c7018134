package email

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
