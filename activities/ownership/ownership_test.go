package ownership_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/activities/ownership"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/contract/verify"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/testutil/dnstest"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type dnsServer = dnstest.Server

type fixture struct {
	super  *pgx.Conn
	acts   *ownership.Activities
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
	f.acts = &ownership.Activities{DB: d.OpenApp(t), Policy: policy, Resolver: res, TXT: res, Timeout: 2 * time.Second}
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
		if r.URL.Path != targets.WellKnownPath {
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
	dns := &dnsServer{TXT: map[string][]string{"_secureops-challenge.acme.test": {"v=spf1 -all", targets.TXTValue("tok-dns")}}}
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

func TestWellKnownURLs(t *testing.T) {
	for in, want := range map[string][]string{
		"host:example.com":            {"https://example.com" + targets.WellKnownPath, "http://example.com" + targets.WellKnownPath},
		"host:[2001:db8::1]:8443,80":  {"https://[2001:db8::1]:80" + targets.WellKnownPath, "http://[2001:db8::1]:80" + targets.WellKnownPath, "https://[2001:db8::1]:8443" + targets.WellKnownPath, "http://[2001:db8::1]:8443" + targets.WellKnownPath},
		"domain:example.com":          {"https://example.com" + targets.WellKnownPath, "http://example.com" + targets.WellKnownPath},
		"url:https://example.com:443": {"https://example.com" + targets.WellKnownPath},
		"url:http://example.com:81/a": {"http://example.com:81" + targets.WellKnownPath},
	} {
		kind, value, _ := strings.Cut(in, ":")
		tt, err := targets.ParseAs(targets.Kind(kind), value)
		if err != nil {
			t.Fatal(err)
		}
		if got := tt.WellKnownURLs(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

// A host with several ports must serve the file on each of them (over https
// or http): proving one web server does not open the host's other ports to
// scanning.
func TestWellKnownFileOnEveryListedPort(t *testing.T) {
	var ports []int
	for range 2 {
		ports = append(ports, wellKnownServer(t, "tok"))
	}
	missing := wellKnownServer(t, "another-token")
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	lo := netip.MustParseAddr("127.0.0.1")
	dns := &dnsServer{A: map[string]netip.Addr{"web.acme.test": lo, "other.acme.test": lo}}
	f := newFixture(t, dns, loopbackOnly)
	id := f.target(t, "host", fmt.Sprintf("web.acme.test:%d,%d", ports[1], ports[0]), "tok")
	if res := f.check(t, id, false); res.Status != "verified" || res.Method != "http" {
		t.Fatalf("check %+v, want verified by http", res)
	}

	// One port without the file, one closed: not proven, and the detail
	// names those two ports and not the ones that served it.
	id = f.target(t, "host", fmt.Sprintf("other.acme.test:%d,%d,%d", ports[0], missing, closedPort), "tok")
	res := f.check(t, id, false)
	if res.Status != "pending" {
		t.Fatalf("check %+v, want pending: two of three ports do not serve the file", res)
	}
	for _, want := range []string{fmt.Sprintf("http://other.acme.test:%d%s: dial tcp", closedPort, targets.WellKnownPath),
		fmt.Sprintf("http://other.acme.test:%d%s does not contain", missing, targets.WellKnownPath)} {
		if !strings.Contains(res.Detail, want) {
			t.Errorf("detail %q lacks %q", res.Detail, want)
		}
	}
	if strings.Contains(res.Detail, fmt.Sprintf(":%d/", ports[0])) {
		t.Errorf("detail %q blames a port that served the file", res.Detail)
	}
}

// Ports that accept a connection and never answer fail the proof within one
// fetch timeout, all at once: trying them one after the other (two timeouts
// each) would overrun the deadline.
func TestWellKnownFileBehindTarpits(t *testing.T) {
	var ls []net.Listener
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ls = append(ls, l)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() }) // hold it open, say nothing
			}
		}()
	}
	port := func(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }
	serving := wellKnownServer(t, "tok")
	lo := netip.MustParseAddr("127.0.0.1")
	dns := &dnsServer{A: map[string]netip.Addr{"slow.acme.test": lo}}
	f := newFixture(t, dns, loopbackOnly) // 2 s per fetch: one after the other, 12 s
	id := f.target(t, "host", fmt.Sprintf("slow.acme.test:%d,%d,%d,%d", port(ls[0]), port(ls[1]), port(ls[2]), serving), "tok")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := f.acts.Check(ctx, verify.CheckInput{TenantID: f.tenant, TargetID: id})
	if err != nil || res.Status != "pending" {
		t.Fatalf("check %+v (%v), want pending inside the deadline", res, err)
	}
	for _, l := range ls {
		if !strings.Contains(res.Detail, fmt.Sprintf(":%d/", port(l))) {
			t.Errorf("detail %q does not name tarpit port %d", res.Detail, port(l))
		}
	}
}

// tokenServerAt serves body as the verification file on addr:port.
func tokenServerAt(t *testing.T, addr string, port int, body *string) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, fmt.Sprint(port)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != targets.WellKnownPath {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, *body)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func (f *fixture) scanOf(t *testing.T, target uuid.UUID) scan.Ref {
	t.Helper()
	id := uuid.New()
	if _, err := f.super.Exec(context.Background(), `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, target_id)
		SELECT $1, tenant_id, value, '{nmap}', $3, id FROM targets WHERE id = $2`, id, target, "scan/"+id.String()); err != nil {
		t.Fatal(err)
	}
	return scan.Ref{TenantID: f.tenant, ScanID: id}
}

func (f *fixture) pinned(t *testing.T, id uuid.UUID) []string {
	t.Helper()
	var addrs []string
	if err := f.super.QueryRow(context.Background(), "SELECT verified_addrs FROM targets WHERE id = $1", id).Scan(&addrs); err != nil {
		t.Fatal(err)
	}
	return addrs
}

// The proof is re-checked for the address about to be scanned: it holds at
// the verified address while the file is served, stops holding when it is
// taken down, and a name re-pointed at another address needs the file on
// that address before it is scanned (and then covers it).
func TestProveAtScanTimeWithTheFile(t *testing.T) {
	body := "tok"
	l, err := net.Listen("tcp", "127.0.0.1:0") // a free port, bound below on two addresses
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	tokenServerAt(t, "127.0.0.1", port, &body)
	dns := &dnsServer{A: map[string]netip.Addr{"web.acme.test": netip.MustParseAddr("127.0.0.1")}}
	f := newFixture(t, dns, loopbackOnly)
	id := f.target(t, "host", fmt.Sprintf("web.acme.test:%d", port), "tok")
	if res := f.check(t, id, false); res.Status != "verified" {
		t.Fatalf("check %+v", res)
	}
	if got := f.pinned(t, id); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Fatalf("pinned %v, want the verified address", got)
	}
	ctx := context.Background()
	p, err := f.acts.Prove(ctx, f.scanOf(t, id))
	if err != nil || p.Address != "127.0.0.1" || p.Pinned {
		t.Fatalf("prove at the verified address: %+v %v", p, err)
	}

	// The file is gone: the scan is refused, saying why.
	body = "someone else"
	_, err = f.acts.Prove(ctx, f.scanOf(t, id))
	wantNotVerified(t, err, "no longer holds", "does not contain")

	// Re-pointed to 127.0.0.2, which serves nothing: refused, the proof did
	// not cover it.
	body = "tok"
	dns.SetA("web.acme.test", netip.MustParseAddr("127.0.0.2"))
	_, err = f.acts.Prove(ctx, f.scanOf(t, id))
	wantNotVerified(t, err, "did not cover")
	// 127.0.0.2 serves the file on the scanned port: proven and pinned.
	tokenServerAt(t, "127.0.0.2", port, &body)
	p, err = f.acts.Prove(ctx, f.scanOf(t, id))
	if err != nil || p.Address != "127.0.0.2" || !p.Pinned {
		t.Fatalf("prove at the new address serving the file: %+v %v", p, err)
	}
	if got := f.pinned(t, id); !slices.Equal(got, []string{"127.0.0.1", "127.0.0.2"}) {
		t.Errorf("pinned %v after the fresh proof", got)
	}
}

// A TXT record proves the name at the addresses it had when verified; a
// re-pointed name is not scanned on the strength of the record alone.
func TestProveAtScanTimeWithTheRecord(t *testing.T) {
	dns := &dnsServer{
		A:   map[string]netip.Addr{"acme.test": netip.MustParseAddr("127.0.0.1")},
		TXT: map[string][]string{"_secureops-challenge.acme.test": {targets.TXTValue("tok-dns")}},
	}
	f := newFixture(t, dns, loopbackOnly)
	id := f.target(t, "domain", "acme.test", "tok-dns")
	if res := f.check(t, id, false); res.Status != "verified" || res.Method != "dns" {
		t.Fatalf("check %+v", res)
	}
	ctx := context.Background()
	if p, err := f.acts.Prove(ctx, f.scanOf(t, id)); err != nil || p.Address != "127.0.0.1" || p.Method != "dns" {
		t.Fatalf("prove with the record in place: %+v %v", p, err)
	}
	dns.SetA("acme.test", netip.MustParseAddr("127.0.0.3"))
	_, err := f.acts.Prove(ctx, f.scanOf(t, id))
	wantNotVerified(t, err, "did not cover")
	dns.SetA("acme.test", netip.MustParseAddr("127.0.0.1"))
	dns.SetTXT("_secureops-challenge.acme.test", "v=spf1 -all")
	_, err = f.acts.Prove(ctx, f.scanOf(t, id))
	wantNotVerified(t, err, "no longer holds", "does not contain")
}

// A scan of an unverified or unregistered target is refused by the proof
// step too, and an image needs none.
func TestProveRefusesUnverifiedTargets(t *testing.T) {
	f := newFixture(t, &dnsServer{}, loopbackOnly)
	id := f.target(t, "host", "web.acme.test", "tok")
	_, err := f.acts.Prove(context.Background(), f.scanOf(t, id))
	wantNotVerified(t, err, "not verified")
	img := f.target(t, "image", "image:nginx:1.27", "tok")
	if p, err := f.acts.Prove(context.Background(), f.scanOf(t, img)); err != nil || p.Address != "" {
		t.Errorf("image: %+v %v", p, err)
	}
}

func wantNotVerified(t *testing.T, err error, words ...string) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != scan.ErrTargetNotVerified || !app.NonRetryable() {
		t.Fatalf("err %v, want a non-retryable %s", err, scan.ErrTargetNotVerified)
	}
	for _, w := range words {
		if !strings.Contains(app.Message(), w) {
			t.Errorf("message %q lacks %q", app.Message(), w)
		}
	}
}
