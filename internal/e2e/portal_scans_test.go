package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// scansWebServer is the thing the portal's scans look at: a small web
// server on a loopback port (allowed, and verified on sight, in test mode).
func scansWebServer(t *testing.T) (*httptest.Server, int) {
	t.Helper()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1")
		_, _ = w.Write([]byte("<html><head><title>shop</title></head><body>shop</body></html>"))
	}))
	t.Cleanup(web.Close)
	return web, web.Listener.Addr().(*net.TCPAddr).Port
}

// scansClickJS clicks the element the selector names when the action runs
// (a live region may have replaced the node a DOM query found).
func scansClickJS(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		ok, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const b = document.querySelector(%q); if (b) b.click(); return !!b })()`, sel))(ctx, t)
		if err == nil && !ok {
			err = fmt.Errorf("no %s on the page", sel)
		}
		return chromedp.Void{}, err
	}
}

// scansSlowServer answers no request (until the test ends): a scan of it
// runs for long. It returns its host:port.
func scansSlowServer(t *testing.T) string {
	t.Helper()
	done := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); slow.Close() })
	return slow.Listener.Addr().String()
}

// scansOwner creates a pro tenant whose owner signs in with a password.
func scansOwner(t *testing.T, e *portalEnv, name, email, password string) bootstrap.Tenant {
	t.Helper()
	ten, err := bootstrap.CreateTenant(context.Background(), e.db, e.kr, bootstrap.TenantInput{
		Name: name, OwnerEmail: email, OwnerName: "Owner of " + name, OwnerPassword: password, Tier: "pro",
	})
	if err != nil {
		t.Fatal(err)
	}
	return ten
}

// portalMember gives a person with a password a role in a tenant (an
// existing account gets the membership too).
func portalMember(t *testing.T, e *portalEnv, tenant uuid.UUID, email, password, role string) {
	t.Helper()
	ctx := context.Background()
	ident, err := e.kr.EnsureIdentity(ctx, email, "Member", password, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.InTx(ctx, adminScope, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: email, Name: "Member"}); err != nil {
			return err
		}
		_, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: tenant, Role: role})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// submit runs actions that post a form, then waits for the page the
// redirect lands on (a new document whose path matches re).
func (tb *tab) submit(step, re string, actions ...chromedp.Action[chromedp.Void]) string {
	tb.t.Helper()
	_ = eval[any](tb, `window.__scansOldPage = 1`)
	tb.do(step, actions...)
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		u, err := chromedp.Run(ctx, chromedp.Evaluate[string](`!window.__scansOldPage && document.readyState === "complete" ? location.pathname + location.search : ""`))
		cancel()
		if err == nil && u != "" {
			if !rx.MatchString(u) {
				tb.t.Fatalf("%s: landed on %s, want %s", step, u, re)
			}
			return u
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("%s: no new page (%v)", step, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scansAddTarget adds a loopback target through the targets page's form.
func scansAddTarget(tb *tab, base, value string) {
	tb.t.Helper()
	tb.open(base + "/app/targets")
	tb.submit("fill the target form", `^/app/targets$`,
		chromedp.SetValue(chromedp.CSS("#target-kind"), "host"),
		chromedp.SetValue(chromedp.CSS("#target-value"), value),
		chromedp.SetValue(chromedp.CSS("#target-name"), "Shop"),
		chromedp.Click(chromedp.CSS("#target-add")),
	)
	tb.waitJS(fmt.Sprintf(`document.querySelector('tr[data-value=%q] [data-testid=target-status]')`, value))
}

// TestPortalScansLive: an owner adds a loopback target through the form,
// starts a scan from the scans page with nmap and the native checks, and
// watches its progress reach completed without the page reloading; the
// counts and the changes appear; a second (slow) scan is cancelled from its
// page.
func TestPortalScansLive(t *testing.T) {
	e := startPortal(t)
	_, port := scansWebServer(t)
	scansOwner(t, e, "Live Scans Co", "owner@livescans.example.test", "live-scans-password-1")
	tb := newTab(t)
	tb.signIn(e.kratosPublic, "owner@livescans.example.test", "live-scans-password-1")

	value := "127.0.0.1:" + strconv.Itoa(port)
	scansAddTarget(tb, e.URL, value)
	if got := tb.text(fmt.Sprintf(`tr[data-value=%q] [data-testid=target-status]`, value)); got != "Verified" {
		t.Fatalf("a loopback target in test mode shows %q, want Verified", got)
	}

	tb.open(e.URL + "/app/scans")
	if got := tb.text("[data-testid=scans-empty]"); !strings.Contains(got, "No scans yet") {
		t.Errorf("empty state %q", got)
	}
	tb.assertLabelled()
	if n := eval[int](tb, `document.querySelectorAll('#scan-target option').length`); n != 1 {
		t.Fatalf("the form offers %d targets, want the one verified target", n)
	}
	// A scanner the target's kind does not take: the API's refusal, shown
	// beside the scanners, with the choices kept.
	tb.submit("start a refused scan", `^/app/scans$`,
		chromedp.Click(chromedp.CSS(`input[name=scanners][value=trivy]`)),
		chromedp.Click(chromedp.CSS("#scan-start")),
	)
	if got := tb.text("#scan-scanners-error"); !strings.Contains(got, "container images") {
		t.Errorf("refused scanner error %q", got)
	}
	if got := eval[[]string](tb, `Array.from(document.querySelectorAll('input[name=scanners]:checked')).map(i => i.value)`); strings.Join(got, ",") != "nmap,trivy" {
		t.Errorf("the refused form kept scanners %v, want nmap,trivy", got)
	}
	tb.assertLabelled()
	path := tb.submit("start a scan", `^/app/scans/[0-9a-f-]{36}$`,
		chromedp.Click(chromedp.CSS(`input[name=scanners][value=trivy]`)), // off
		chromedp.Click(chromedp.CSS(`input[name=scanners][value=secureops]`)),
		chromedp.Click(chromedp.CSS("#scan-start")),
	)
	scanID := strings.TrimPrefix(path, "/app/scans/")
	live := eval[bool](tb, `window.__noReload = 1; !!document.querySelector('#scan-live[sse-connect]')`)
	if !live {
		t.Errorf("the scan's page did not follow the scan live (already %s at load)", tb.text("#scan-status"))
	}
	tb.snap("scan-live-running")
	if got := tb.text("#scan-steps"); !strings.Contains(got, "nmap") || !strings.Contains(got, "secureops") {
		t.Errorf("steps %q do not list both scanners", got)
	}
	tb.waitJS(`document.querySelector('#scan-status') && ['completed','failed','cancelled'].includes(document.querySelector('#scan-status').dataset.status)`)
	if st := eval[string](tb, `document.querySelector('#scan-status').dataset.status`); st != "completed" {
		t.Fatalf("scan ended %s: %s", st, tb.text("#scan-message"))
	}
	if !eval[bool](tb, `window.__noReload === 1`) {
		t.Fatal("the page reloaded to show the scan completed")
	}
	if eval[bool](tb, `!!document.querySelector('[sse-connect]')`) {
		t.Error("the completed scan's page still holds an event stream")
	}
	if got := tb.text("#scan-percent"); got != "100%" {
		t.Errorf("progress %q at completion", got)
	}
	total, _ := strconv.Atoi(tb.text("#scan-total"))
	if total == 0 {
		t.Errorf("no findings counted for nmap and the native checks on a web server")
	}
	if got := eval[[]string](tb, `Array.from(document.querySelectorAll('#scan-steps li')).map(li => li.dataset.state)`); strings.Join(got, ",") != "done,done" {
		t.Errorf("scanner steps %v, want done,done", got)
	}
	// The changes load by themselves once the scan ends.
	tb.waitJS(`document.querySelector('#scan-changes [data-testid=changes-new-count]')`)
	if n, _ := strconv.Atoi(tb.text("[data-testid=changes-new-count]")); n != total {
		t.Errorf("%d new findings in the changes, want all %d of a first scan", n, total)
	}
	if n := eval[int](tb, `document.querySelectorAll('#changes-new tbody tr').length`); n == 0 {
		t.Error("the new findings are not listed")
	}
	if !eval[bool](tb, `window.__noReload === 1`) {
		t.Fatal("the page reloaded")
	}
	tb.snap("scan-live-completed")
	if eval[bool](tb, `!!document.querySelector('#scan-workflow-link')`) {
		t.Error("a tenant owner sees the Temporal link of platform admins")
	}
	tb.assertLabelled()

	// The list shows the scan with its counts, and links to it.
	tb.open(e.URL + "/app/scans")
	row := fmt.Sprintf(`tr[data-scan-id=%q]`, scanID)
	tb.snap("scans-list")
	if got := tb.text(row + " [data-testid=scan-status]"); got != "Completed" {
		t.Errorf("list status %q", got)
	}
	if got := tb.text(row); !strings.Contains(got, value) || !strings.Contains(got, "nmap, secureops") {
		t.Errorf("list row %q", got)
	}

	// A slow scan (a server that never answers keeps the native checks
	// waiting), cancelled from its page.
	slow := scansSlowServer(t)
	scansAddTarget(tb, e.URL, slow)
	tb.open(e.URL + "/app/scans")
	path = tb.submit("start a slow scan", `^/app/scans/[0-9a-f-]{36}$`,
		chromedp.SetValue(chromedp.CSS("#scan-target"), eval[string](tb, fmt.Sprintf(`Array.from(document.querySelectorAll('#scan-target option')).find(o => o.textContent.includes(%q)).value`, slow))),
		chromedp.Click(chromedp.CSS(`input[name=scanners][value=nmap]`)), // off
		chromedp.Click(chromedp.CSS(`input[name=scanners][value=secureops]`)),
		chromedp.Click(chromedp.CSS("#scan-start")),
	)
	slowID := strings.TrimPrefix(path, "/app/scans/")
	if slowID == scanID {
		t.Fatal("no new scan")
	}
	// Progress events replace the button now and then: click it from the page.
	tb.submit("cancel", `^/app/scans/`+slowID+`$`, scansClickJS("#scan-cancel"))
	tb.waitJS(`document.querySelector('#scan-status') && document.querySelector('#scan-status').dataset.status === 'cancelled'`)
	if eval[bool](tb, `!!document.querySelector('#scan-cancel')`) {
		t.Error("a cancelled scan still offers to cancel")
	}
	if got := tb.text("#scan-message"); !strings.Contains(got, "Cancelled") {
		t.Errorf("message %q", got)
	}

	// Emails link to the old address.
	tb.open(e.URL + "/scans/" + scanID)
	if got := tb.location(); got != e.URL+"/app/scans/"+scanID {
		t.Errorf("/scans/{id} went to %s", got)
	}
}

// TestPortalScansReadOnlyAndTenancy: a client_readonly member sees scans but
// no start, cancel, add or schedule controls, and the API refuses the
// forged POSTs anyway; another tenant's scan is the 404 page.
func TestPortalScansReadOnlyAndTenancy(t *testing.T) {
	e := startPortal(t)
	slow := scansSlowServer(t)
	// A running scan of Acme (of a server that never answers), started
	// through the API.
	code, tg := e.do(t, "POST", "/api/v1/targets", "application/json", fmt.Sprintf(`{"kind":"host","value":%q}`, slow))
	if code != http.StatusCreated {
		t.Fatalf("target: %d %v", code, tg)
	}
	code, sc := e.do(t, "POST", "/api/v1/scans", "application/json", fmt.Sprintf(`{"target_id":%q,"scanners":["secureops"]}`, tg["id"]))
	if code != http.StatusAccepted {
		t.Fatalf("scan: %d %v", code, sc)
	}
	scanID := sc["id"].(string)
	t.Cleanup(func() { e.do(t, "POST", "/api/v1/scans/"+scanID+"/cancel", "", "") })

	portalMember(t, e, e.platform.tenant, "reader@acme.example.test", "reader-password-1", "client_readonly")
	rd := newTab(t)
	rd.allowErrors = []string{"status of 403"} // the forged POSTs below
	rd.signIn(e.kratosPublic, "reader@acme.example.test", "reader-password-1")

	rd.open(e.URL + "/app/scans")
	rd.waitJS(fmt.Sprintf(`document.querySelector('tr[data-scan-id=%q]')`, scanID))
	// The running scan's row follows it live.
	if !eval[bool](rd, fmt.Sprintf(`!!document.querySelector('tr[data-scan-id=%q] [sse-connect]')`, scanID)) {
		t.Error("the running scan's row does not follow it live")
	}
	for _, sel := range []string{"#start-scan", "#scan-form", "#scan-start"} {
		if eval[bool](rd, fmt.Sprintf(`!!document.querySelector(%q)`, sel)) {
			t.Errorf("a read-only member sees %s on /app/scans", sel)
		}
	}
	rd.assertLabelled()
	rd.open(e.URL + "/app/scans/" + scanID)
	if got := rd.text("h1"); !strings.Contains(got, "127.0.0.1") {
		t.Errorf("scan page heading %q", got)
	}
	if eval[bool](rd, `!!document.querySelector('#scan-cancel')`) {
		t.Error("a read-only member sees the cancel button")
	}
	rd.assertLabelled()
	forge := func(path, body string) int {
		return value(rd, "forged POST "+path, chromedp.Evaluate[int](fmt.Sprintf(
			`fetch(%q, {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: %q}).then(r => r.status)`, path, body),
			chromedp.EvalAwaitPromise))
	}
	if st := forge("/app/scans/"+scanID+"/cancel", ""); st != http.StatusForbidden {
		t.Errorf("forged cancel answered %d, want 403", st)
	}
	if st := forge("/app/scans", fmt.Sprintf("target_id=%s&scanners=nmap", tg["id"])); st != http.StatusForbidden {
		t.Errorf("forged start answered %d, want 403", st)
	}
	if st := forge("/app/targets", "kind=host&value=127.0.0.1:9"); st != http.StatusForbidden {
		t.Errorf("forged target answered %d, want 403", st)
	}
	if code, s := e.do(t, "GET", "/api/v1/scans/"+scanID, "", ""); code != 200 || s["status"] == "cancelled" {
		t.Errorf("the forged cancel cancelled the scan: %v", s)
	}

	rd.open(e.URL + "/app/targets")
	rd.waitJS(fmt.Sprintf(`document.querySelector('tr[data-value=%q]')`, slow))
	for _, sel := range []string{"#target-form", ".verify-now", ".target-delete"} {
		if eval[bool](rd, fmt.Sprintf(`!!document.querySelector(%q)`, sel)) {
			t.Errorf("a read-only member sees %s on /app/targets", sel)
		}
	}
	rd.assertLabelled()
	rd.open(e.URL + "/app/schedules")
	if eval[bool](rd, `!!document.querySelector('#schedule-form')`) {
		t.Error("a read-only member sees the schedule form")
	}
	rd.assertLabelled()

	// Another tenant's person gets the 404 page for Acme's scan.
	scansOwner(t, e, "Other Scans Co", "owner@otherscans.example.test", "other-scans-password-1")
	ot := newTab(t)
	ot.allowErrors = []string{"status of 404"}
	ot.signIn(e.kratosPublic, "owner@otherscans.example.test", "other-scans-password-1")
	ot.open(e.URL + "/app/scans/" + scanID)
	if got := ot.text("main h1"); got != "Not found" {
		t.Errorf("another tenant's scan shows %q, want the 404 page", got)
	}
	if got := ot.text("main"); strings.Contains(got, "127.0.0.1") {
		t.Errorf("the 404 page names the scan's target: %q", got)
	}
	ot.open(e.URL + "/app/scans")
	if eval[bool](ot, fmt.Sprintf(`!!document.querySelector('tr[data-scan-id=%q]')`, scanID)) {
		t.Error("another tenant lists Acme's scan")
	}
}
