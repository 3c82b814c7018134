package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPortalNewcomerPath is the whole path of a new customer, in one
// browser, against the real platform: landing → sign-up → onboarding steps
// turn done live → the welcome email's link → set a password → signed in on
// /app → reveal the initial API key once → add a loopback target → start a
// scan → watch it complete without reloading → open a finding → triage it →
// the dashboard's charts show the numbers the API gives.
func TestPortalNewcomerPath(t *testing.T) {
	e := startPortal(t)
	_, port := scansWebServer(t)
	tb := newTab(t)

	// Landing → sign-up.
	tb.open(e.URL + "/")
	tb.click("#cta-signup")
	tb.waitPath("/signup")
	email := "founder@newcomer.example.test"
	tb.typeInto("#company_name", "Newcomer Labs")
	tb.typeInto("#contact_name", "Nia Newcomer")
	tb.typeInto("#email", email)
	tb.do("choose pro", chromedp.SetValue(chromedp.CSS("select#tier"), "pro"))
	tb.click(`#signup-form button[type="submit"]`)
	tb.waitFor(`location.pathname.startsWith('/signup/') && document.querySelector('#signup-status') !== null`)
	_ = eval[any](tb, `window.__noReload = 1`)
	tb.waitFor(`document.querySelector('#signup-done') !== null`)
	if !eval[bool](tb, `window.__noReload === 1`) {
		t.Fatal("the onboarding page reloaded instead of updating live")
	}

	// The welcome email's link → recovery code → a password → /app.
	link, code := recoveryFrom(t, welcomeMailTo(t, e, email).Text)
	tb.open(link)
	tb.waitPath("/auth/recovery")
	tb.typeInto(`input[name="code"]`, code)
	tb.click(`button[name="method"][value="code"]`)
	tb.waitPath("/auth/settings")
	tb.typeInto(`form[data-group="password"] input[name="password"]`, "newcomer-password-42")
	tb.click(`button[name="method"][value="password"]`)
	tb.waitPath("/app")
	if got := tb.text("main"); !strings.Contains(got, "Newcomer Labs") {
		t.Fatalf("the dashboard does not name the new tenant: %q", got)
	}
	tb.snap("dashboard-empty")

	revealInitialKey(t, tb, e)

	// A loopback target, a scan of it, followed live to the end.
	target := "127.0.0.1:" + strconv.Itoa(port)
	scansAddTarget(tb, e.URL, target)
	tb.open(e.URL + "/app/scans")
	path := tb.submit("start a scan", `^/app/scans/[0-9a-f-]{36}$`,
		chromedp.SetValue(chromedp.CSS("#scan-target"), eval[string](tb, fmt.Sprintf(
			`Array.from(document.querySelectorAll('#scan-target option')).find(o => o.textContent.includes(%q)).value`, target))),
		chromedp.Click(chromedp.CSS(`input[name=scanners][value=secureops]`)),
		chromedp.Click(chromedp.CSS("#scan-start")),
	)
	_ = eval[any](tb, `window.__noReload = 1`)
	tb.snap("scan-live")
	tb.waitJS(`document.querySelector('#scan-status') && ['completed','failed','cancelled'].includes(document.querySelector('#scan-status').dataset.status)`)
	if st := eval[string](tb, `document.querySelector('#scan-status').dataset.status`); st != "completed" {
		t.Fatalf("scan %s ended %s: %s", path, st, tb.text("#scan-message"))
	}
	if !eval[bool](tb, `window.__noReload === 1`) {
		t.Fatal("the scan page reloaded instead of updating live")
	}

	// Open a new finding from the scan's changes and triage it.
	tb.waitJS(`document.querySelector('#changes-new tbody tr a')`)
	findingURL := eval[string](tb, `document.querySelector('#changes-new tbody tr a').href`)
	tb.open(findingURL)
	if got := tb.text("main"); !regexp.MustCompile(`Priority\s+\d+ of 100`).MatchString(got) {
		t.Errorf("the finding's page gives no priority: %q", got)
	}
	tb.do("triage", chromedp.SetValue(chromedp.CSS("#triage-status"), "accepted_risk"),
		chromedp.SendKeys(chromedp.CSS("#triage-comment"), "Internal test server; accepted by Nia."))
	tb.click("#triage-submit")
	tb.waitFor(`document.body.innerText.includes('Internal test server; accepted by Nia.')`)
	var f struct {
		Status string `json:"status"`
	}
	fid := findingURL[strings.LastIndex(findingURL, "/")+1:]
	fetchJSON(t, tb, "/api/v1/findings/"+fid, &f)
	if f.Status != "accepted_risk" {
		t.Fatalf("the finding is %q after triage, want accepted_risk", f.Status)
	}

	// The dashboard's charts hold the API's numbers.
	tb.open(e.URL + "/app")
	tb.waitJS(`!!(window.Chart && Chart.getChart(document.getElementById('chart-severity')))`)
	var dash struct {
		OpenFindings struct {
			BySeverity map[string]int `json:"by_severity"`
		} `json:"open_findings"`
	}
	fetchJSON(t, tb, "/api/v1/dashboard", &dash)
	labels := eval[[]string](tb, `Chart.getChart(document.getElementById('chart-severity')).data.labels.map(l => String(l).toLowerCase())`)
	data := eval[[]int](tb, `Chart.getChart(document.getElementById('chart-severity')).data.datasets[0].data`)
	if len(labels) != len(data) || len(data) == 0 {
		t.Fatalf("severity chart labels %v data %v", labels, data)
	}
	sum := 0
	for i, l := range labels {
		if data[i] != dash.OpenFindings.BySeverity[l] {
			t.Errorf("chart says %d %s findings, the API %d", data[i], l, dash.OpenFindings.BySeverity[l])
		}
		sum += data[i]
	}
	if sum == 0 {
		t.Error("the severity chart is empty after a scan with findings")
	}
	if !eval[bool](tb, `!!Chart.getChart(document.getElementById('chart-trend'))`) {
		t.Error("the trend chart did not render")
	}
	tb.snap("dashboard")
}

// fetchJSON reads an API resource with the page's own session, as the
// browser holds it.
func fetchJSON(t *testing.T, tb *tab, path string, out any) {
	t.Helper()
	raw := value(tb, "fetch "+path, chromedp.Evaluate[string](fmt.Sprintf(
		`fetch(%q, {headers: {Accept: 'application/json'}}).then(r => r.ok ? r.text() : Promise.reject('HTTP ' + r.status))`, path),
		chromedp.EvalAwaitPromise))
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("%s: %v in %q", path, err, raw)
	}
}

// revealInitialKey shows the onboarding's first API key once on the API keys
// page; a second reveal is refused with a message a person understands.
func revealInitialKey(t *testing.T, tb *tab, e *portalEnv) {
	t.Helper()
	tb.open(e.URL + "/app/settings/api-keys")
	tb.click("#reveal-form button")
	key := tb.text("#new-key")
	if code, me := apiAs(t, e.api.URL, key, "GET", "/api/v1/me", ""); code != 200 || me["role"] == "" {
		t.Fatalf("the revealed initial key against /me: %d %v", code, me)
	}
	tb.open(e.URL + "/app/settings/api-keys")
	if eval[bool](tb, `document.body.innerText.includes(`+strconv.Quote(key)+`)`) {
		t.Fatal("the initial key is shown again after its reveal")
	}
	tb.click("#reveal-form button")
	if msg := tb.text("#reveal-message"); !strings.Contains(msg, "already been revealed") {
		t.Fatalf("a second reveal says %q", msg)
	}
}
