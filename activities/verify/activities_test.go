package verify_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/activities/verify"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/testutil/dnstest"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type dnsServer = dnstest.Server

type fixture struct {
	super  *pgx.Conn
	acts   *verify.Activities
	tenant uuid.UUID
}

func newFixture(t *testing.T, dns *dnsServer, policy targets.Policy) *fixture {
	ctx := context.Background()
	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(ctx) })
	f := &fixture{super: super}
	if err := super.QueryRow(ctx, "INSERT INTO tenants (slug, name, status) VALUES ('acme', 'Acme', 'active') RETURNING id").Scan(&f.tenant); err != nil {
		t.Fatal(err)
	}
	res := dns.Start(t)
	f.acts = &verify.Activities{DB: d.OpenApp(t), Policy: policy, Resolver: res, TXT: res, Timeout: 2 * time.Second}
	return f
}

func (f *fixture) target(t *testing.T, kind, value, token string) uuid.UUID {
	tt, err := targets.ParseAs(targets.Kind(kind), value)
	if err != nil {
		t.Fatal(err)
	}
	var id uuid.UUID
	if err := f.super.QueryRow(context.Background(), `INSERT INTO targets (tenant_id, kind, value, host, verification_token, verification_status)
		VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING id`, f.tenant, kind, tt.String(), tt.Host, token).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) check(t *testing.T, id uuid.UUID, final bool) verify.CheckResult {
	t.Helper()
	res, err := f.acts.Check(context.Background(), verify.CheckInput{TenantID: f.tenant, TargetID: id, Final: final})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *fixture) row(t *testing.T, id uuid.UUID) (status, method, errText string, checks int) {
	t.Helper()
	if err := f.super.QueryRow(context.Background(), "SELECT verification_status, verification_method, verification_error, verification_checks FROM targets WHERE id = $1", id).
		Scan(&status, &method, &errText, &checks); err != nil {
		t.Fatal(err)
	}
	return
}

func wellKnownServer(t *testing.T, body string) int {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != verify.WellKnownPath {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

var loopbackOnly = targets.Policy{LoopbackOnly: true}

func TestDNSRecordVerifies(t *testing.T) {
	dns := &dnsServer{TXT: map[string][]string{"_secureops-challenge.acme.test": {"v=spf1 -all", verify.TXTValue("tok-dns")}}}
	f := newFixture(t, dns, loopbackOnly)
	id := f.target(t, "domain", "acme.test", "tok-dns")
	if res := f.check(t, id, false); res.Status != "verified" || res.Method != "dns" {
		t.Fatalf("check %+v, want verified by dns", res)
	}
	if st, m, _, n := f.row(t, id); st != "verified" || m != "dns" || n != 1 {
		t.Errorf("row status %s method %s checks %d", st, m, n)
	}
	// Verified is final: another check leaves it alone.
	if res := f.check(t, id, true); res.Status != "verified" {
		t.Errorf("re-check of a verified target: %+v", res)
	}
}

func TestWellKnownFileVerifiesThroughTheResolvedAddress(t *testing.T) {
	port := wellKnownServer(t, "tok-http")
	dns := &dnsServer{A: map[string]netip.Addr{"web.acme.test": netip.MustParseAddr("127.0.0.1")}}
	f := newFixture(t, dns, loopbackOnly)
	id := f.target(t, "host", fmt.Sprintf("web.acme.test:%d", port), "tok-http")
	res := f.check(t, id, false)
	if res.Status != "verified" || res.Method != "http" {
		t.Fatalf("check %+v, want verified by http", res)
	}
}

func TestWrongProofStaysPendingThenFails(t *testing.T) {
	port := wellKnownServer(t, "someone-elses-token")
	dns := &dnsServer{
		A:   map[string]netip.Addr{"web.acme.test": netip.MustParseAddr("127.0.0.1")},
		TXT: map[string][]string{"_secureops-challenge.web.acme.test": {"secureops-verification=nope"}},
	}
	f := newFixture(t, dns, loopbackOnly)
	id := f.target(t, "url", fmt.Sprintf("http://web.acme.test:%d/app", port), "tok")
	res := f.check(t, id, false)
	if res.Status != "pending" {
		t.Fatalf("check %+v, want pending", res)
	}
	if !strings.Contains(res.Detail, "does not contain") {
		t.Errorf("detail %q does not say what was wrong", res.Detail)
	}
	if res := f.check(t, id, true); res.Status != "failed" {
		t.Fatalf("final check %+v, want failed", res)
	}
	if st, _, errText, n := f.row(t, id); st != "failed" || n != 2 || errText == "" {
		t.Errorf("row: status %s checks %d error %q", st, n, errText)
	}
}

// In production a name pointing at an internal address is refused before
// any request is made: verification is no way around the scan policy.
func TestVerificationRespectsThePolicy(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++; fmt.Fprintln(w, "tok") }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	dns := &dnsServer{A: map[string]netip.Addr{"internal.acme.test": netip.MustParseAddr("127.0.0.1")}}
	f := newFixture(t, dns, targets.Policy{})
	id := f.target(t, "host", fmt.Sprintf("internal.acme.test:%d", port), "tok")
	res := f.check(t, id, false)
	if res.Status != "pending" || !strings.Contains(res.Detail, "loopback") {
		t.Fatalf("check %+v, want pending with a loopback refusal", res)
	}
	if hits != 0 {
		t.Errorf("the internal server was contacted %d times", hits)
	}
}

func TestDeletedTargetIsGone(t *testing.T) {
	f := newFixture(t, &dnsServer{}, loopbackOnly)
	id := f.target(t, "domain", "gone.acme.test", "tok")
	if _, err := f.super.Exec(context.Background(), "DELETE FROM targets WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	if res := f.check(t, id, false); res.Status != "gone" {
		t.Errorf("check of a deleted target: %+v", res)
	}
}
