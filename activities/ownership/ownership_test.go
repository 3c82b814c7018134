package ownership_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/activities/ownership"
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

func TestWellKnownURLs(t *testing.T) {
	for in, want := range map[string][]string{
		"host:example.com":            {"https://example.com" + verify.WellKnownPath, "http://example.com" + verify.WellKnownPath},
		"host:[2001:db8::1]:8443,80":  {"https://[2001:db8::1]:80" + verify.WellKnownPath, "http://[2001:db8::1]:80" + verify.WellKnownPath, "https://[2001:db8::1]:8443" + verify.WellKnownPath, "http://[2001:db8::1]:8443" + verify.WellKnownPath},
		"domain:example.com":          {"https://example.com" + verify.WellKnownPath, "http://example.com" + verify.WellKnownPath},
		"url:https://example.com:443": {"https://example.com" + verify.WellKnownPath},
		"url:http://example.com:81/a": {"http://example.com:81" + verify.WellKnownPath},
	} {
		kind, value, _ := strings.Cut(in, ":")
		tt, err := targets.ParseAs(targets.Kind(kind), value)
		if err != nil {
			t.Fatal(err)
		}
		if got := verify.WellKnownURLs(tt); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

// A host with several ports: they are tried in ascending order, a closed
// port or one without the file is passed over, and the first port serving
// the file ends the search.
func TestWellKnownFileOnAListedPort(t *testing.T) {
	var mu sync.Mutex
	hits := map[int]int{}
	serves := map[int]bool{}
	var ports []int
	for range 3 {
		srv := httptest.NewUnstartedServer(nil)
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[port]++
			ok := serves[port]
			mu.Unlock()
			if !ok || r.URL.Path != verify.WellKnownPath {
				http.NotFound(w, r)
				return
			}
			fmt.Fprintln(w, "tok")
		})
		srv.Start()
		t.Cleanup(srv.Close)
		ports = append(ports, port)
	}
	slices.Sort(ports)
	// The lowest has no file, the two others have it.
	serves[ports[1]], serves[ports[2]] = true, true
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	lo := netip.MustParseAddr("127.0.0.1")
	dns := &dnsServer{A: map[string]netip.Addr{"web.acme.test": lo, "other.acme.test": lo}}
	f := newFixture(t, dns, loopbackOnly)
	value := fmt.Sprintf("web.acme.test:%d,%d,%d,%d", ports[2], closedPort, ports[1], ports[0])
	id := f.target(t, "host", value, "tok")
	if res := f.check(t, id, false); res.Status != "verified" || res.Method != "http" {
		t.Fatalf("check %+v, want verified by http", res)
	}
	mu.Lock()
	if hits[ports[1]]+hits[ports[2]] == 0 {
		t.Errorf("requests per port %v for ports %v: want a port serving the file asked", hits, ports)
	}
	mu.Unlock()

	// Nothing serves it: the detail names every URL tried, the closed
	// port's too.
	id = f.target(t, "host", fmt.Sprintf("other.acme.test:%d,%d", closedPort, ports[0]), "tok")
	res := f.check(t, id, false)
	if res.Status != "pending" {
		t.Fatalf("check %+v, want pending", res)
	}
	for _, want := range []string{fmt.Sprintf("http://other.acme.test:%d%s: dial tcp", closedPort, verify.WellKnownPath),
		fmt.Sprintf("http://other.acme.test:%d%s answered 404", ports[0], verify.WellKnownPath)} {
		if !strings.Contains(res.Detail, want) {
			t.Errorf("detail %q lacks %q", res.Detail, want)
		}
	}
}

// Ports that accept a connection and never answer do not hold up the port
// that serves the file: the check finishes well inside a deadline that
// trying them one after the other (two timeouts each) would overrun.
func TestWellKnownFileBehindTarpits(t *testing.T) {
	// Four listeners; the highest port serves the file, so in port order it
	// would be tried last.
	var ls []net.Listener
	for range 4 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ls = append(ls, l)
	}
	port := func(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }
	slices.SortFunc(ls, func(a, b net.Listener) int { return port(a) - port(b) })
	var ports []int
	for _, l := range ls[:3] {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() }) // hold it open, say nothing
			}
		}()
		ports = append(ports, port(l))
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "tok") })}
	go srv.Serve(ls[3])
	t.Cleanup(func() { srv.Close() })
	serving := port(ls[3])

	lo := netip.MustParseAddr("127.0.0.1")
	dns := &dnsServer{A: map[string]netip.Addr{"slow.acme.test": lo}}
	f := newFixture(t, dns, loopbackOnly) // 2 s per fetch: one after the other, 12 s before the last port
	id := f.target(t, "host", fmt.Sprintf("slow.acme.test:%d,%d,%d,%d", ports[0], ports[1], ports[2], serving), "tok")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := f.acts.Check(ctx, verify.CheckInput{TenantID: f.tenant, TargetID: id})
	if err != nil || res.Status != "verified" {
		t.Fatalf("check %+v (%v), want verified inside the deadline", res, err)
	}
}
