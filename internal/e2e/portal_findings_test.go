package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type apiFinding struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Severity string   `json:"severity"`
	Status   string   `json:"status"`
	CVEs     []string `json:"cves"`
}

func (s portalSeed) finding(t *testing.T, id string) apiFinding {
	t.Helper()
	var f apiFinding
	s.apiJSON(t, "/api/v1/findings/"+id, &f)
	return f
}

// rowIDs are the finding ids listed on the page.
const rowIDsJS = `Array.from(document.querySelectorAll('#findings-table tbody tr')).map(r => r.dataset.id)`

// TestPortalFindings (issue 12 item 6): filters narrow the list and stay
// in the form, keyset pages move on, a finding's detail and history show,
// triage and bulk triage change status with the comment in the history; a
// read-only member sees no triage controls and a forged request is
// refused; another tenant's finding is a 404 page.
func TestPortalFindings(t *testing.T) {
	e := startPortal(t)
	s := seedPortalTenant(t, e, "Find Co")

	var all struct {
		Items []apiFinding `json:"items"`
	}
	s.apiJSON(t, "/api/v1/findings?status=new,open,reopened", &all)
	if len(all.Items) != s.openFindings {
		t.Fatalf("seed: %d unresolved findings, want %d", len(all.Items), s.openFindings)
	}

	tb := newTab(t)
	tb.signIn(e.kratosPublic, s.email, s.pw)
	tb.open(e.URL + "/app/findings?status=unresolved")
	if got := tb.text("main h1"); got != "Findings" {
		t.Fatalf("heading %q", got)
	}
	if ids := eval[[]string](tb, rowIDsJS); len(ids) != s.openFindings {
		t.Fatalf("unresolved list has %d rows, want %d", len(ids), s.openFindings)
	}
	tb.assertLabelled()

	// Severity filter: only high badges, and the form keeps the choice.
	tb.do("choose high", chromedp.SetValue(chromedp.CSS("#f-severity"), "high"))
	findingsNav(tb, "filter high", chromedp.Click(chromedp.CSS("#apply-filters")))
	tb.waitJS(`location.search.includes('severity=high')`)
	badges := eval[[]string](tb, `Array.from(document.querySelectorAll('#findings-table tbody [data-severity]')).map(b => b.dataset.severity)`)
	if len(badges) != 1 || badges[0] != "high" {
		t.Errorf("severity=high lists badges %v, want one high", badges)
	}
	if v := eval[string](tb, `document.getElementById('f-severity').value + '|' + document.getElementById('f-status').value`); v != "high|unresolved" {
		t.Errorf("filters after submit: %q", v)
	}

	// Text search narrows to findings whose title has the word.
	var medium apiFinding
	for _, f := range all.Items {
		if f.Severity == "medium" {
			medium = f
		}
	}
	word := strings.Fields(medium.Title)[0]
	if len(medium.CVEs) > 0 {
		word = medium.CVEs[0]
	}
	tb.open(e.URL + "/app/findings")
	tb.do("type text", chromedp.SendKeys(chromedp.CSS("#f-q"), word))
	findingsNav(tb, "search text", chromedp.Click(chromedp.CSS("#apply-filters")))
	tb.waitJS(`location.search.includes('q=')`)
	ids := eval[[]string](tb, rowIDsJS)
	if len(ids) == 0 || len(ids) >= 2*s.openFindings {
		t.Errorf("text %q lists %d findings", word, len(ids))
	}
	if !findingsContains(ids, medium.ID) {
		t.Errorf("text %q does not list %s (%v)", word, medium.ID, ids)
	}
	if v := eval[string](tb, `document.getElementById('f-q').value`); v != word {
		t.Errorf("text filter after submit: %q", v)
	}

	// Keyset pages of 2.
	tb.open(e.URL + "/app/findings?status=unresolved&limit=2")
	first := eval[[]string](tb, rowIDsJS)
	findingsNav(tb, "next page", chromedp.Click(chromedp.CSS("#next-page")))
	tb.waitJS(`location.search.includes('cursor=')`)
	second := eval[[]string](tb, rowIDsJS)
	if len(first) != 2 || len(second) != 2 || findingsContains(second, first[0]) || findingsContains(second, first[1]) {
		t.Errorf("pages: first %v, second %v", first, second)
	}
	if !eval[bool](tb, `!!document.getElementById('first-page') && document.getElementById('f-status').value === 'unresolved'`) {
		t.Errorf("second page lacks First page or lost the filter")
	}

	// Detail, then triage with a comment.
	target := all.Items[0]
	tb.open(e.URL + "/app/findings/" + target.ID)
	if got := tb.text("#finding-title"); got != target.Title {
		t.Errorf("detail title %q, want %q", got, target.Title)
	}
	if got := tb.text("#finding-where"); !strings.Contains(got, s.openImage) && !strings.Contains(got, strings.TrimPrefix(s.openImage, "image:")) {
		t.Errorf("detail location: %q", got)
	}
	tb.assertLabelled()
	const comment = "Only reachable from the build network; scanner misread the version."
	tb.do("fill triage", chromedp.SetValue(chromedp.CSS("#triage-status"), "false_positive"),
		chromedp.SendKeys(chromedp.CSS("#triage-comment"), comment))
	findingsNav(tb, "triage", chromedp.Click(chromedp.CSS("#triage-submit")))
	tb.waitJS(`document.querySelector('#finding-events') && document.querySelector('#finding-events').textContent.includes(` + findingsJSString(comment) + `)`)
	if got := tb.text("#finding-status"); got != "False positive" {
		t.Errorf("status after triage %q", got)
	}
	if f := s.finding(t, target.ID); f.Status != "false_positive" {
		t.Errorf("API status after triage %q", f.Status)
	}

	// Bulk triage of two selected findings.
	tb.open(e.URL + "/app/findings?status=unresolved")
	rows := eval[[]string](tb, rowIDsJS)
	if len(rows) != s.openFindings-1 {
		t.Fatalf("after triage %d unresolved rows, want %d", len(rows), s.openFindings-1)
	}
	pick := rows[:2]
	for _, id := range pick {
		tb.do("select "+id, chromedp.Click(chromedp.CSS(`input[name=ids][value="`+id+`"]`)))
	}
	tb.do("fill bulk triage", chromedp.SetValue(chromedp.CSS("#bulk-status"), "accepted_risk"),
		chromedp.SendKeys(chromedp.CSS("#bulk-comment"), "Risk owner signed off (bulk)."))
	findingsNav(tb, "bulk triage", chromedp.Click(chromedp.CSS("#bulk-submit")))
	tb.waitJS(`document.getElementById('findings-flash') !== null`)
	if got := tb.text("#findings-flash"); !strings.Contains(got, "2 findings") {
		t.Errorf("bulk flash %q", got)
	}
	for _, id := range pick {
		if f := s.finding(t, id); f.Status != "accepted_risk" {
			t.Errorf("finding %s after bulk triage: %q", id, f.Status)
		}
	}
	if n := eval[int](tb, `document.querySelectorAll('#findings-table tbody tr').length`); n != s.openFindings-3 {
		t.Errorf("unresolved after bulk: %d rows, want %d", n, s.openFindings-3)
	}

	// A read-only member: no triage controls, and forged requests refused.
	portalMember(t, e, s.tenant.ID, "reader@find-co.example.test", "reader-password-1", "client_readonly")
	rd := newTab(t)
	rd.allowErrors = []string{"status of 403"}
	rd.signIn(e.kratosPublic, "reader@find-co.example.test", "reader-password-1")
	rd.open(e.URL + "/app/findings")
	if n := eval[int](rd, `document.querySelectorAll('#findings-table tbody tr').length`); n == 0 {
		t.Fatalf("reader sees no findings")
	}
	if n := eval[int](rd, `document.querySelectorAll('input[name=ids], #bulk-triage, #bulk-submit').length`); n != 0 {
		t.Errorf("reader sees %d bulk triage controls", n)
	}
	victim := rows[2]
	rd.open(e.URL + "/app/findings/" + victim)
	if n := eval[int](rd, `document.querySelectorAll('#triage-form, #triage-status').length`); n != 0 {
		t.Errorf("reader sees the triage form")
	}
	forged := map[string]string{
		"portal POST": `fetch('/app/findings/` + victim + `/triage', {method: 'POST', body: new URLSearchParams({status: 'fixed', comment: 'forged'})}).then(r => r.status)`,
		"portal bulk": `fetch('/app/findings/triage', {method: 'POST', body: new URLSearchParams({ids: '` + victim + `', status: 'fixed', comment: 'forged'})}).then(r => r.status)`,
		"API PATCH":   `fetch('/api/v1/findings/` + victim + `', {method: 'PATCH', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({status: 'fixed', comment: 'forged'})}).then(r => r.status)`,
		"API bulk":    `fetch('/api/v1/findings', {method: 'PATCH', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({ids: ['` + victim + `'], status: 'fixed'})}).then(r => r.status)`,
	}
	for name, js := range forged {
		if code := value(rd, name, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise)); code != http.StatusForbidden {
			t.Errorf("reader's forged %s: %d, want 403", name, code)
		}
	}
	if f := s.finding(t, victim); f.Status == "fixed" {
		t.Errorf("a forged triage changed the finding")
	}

	// Another tenant's finding is a 404 page, like a nonexistent one.
	code, body := e.upload(t, map[string]string{"scanner": "trivy", "target": "image:registry.acme.test/other:1.0"}, fixture(t, "trivy/scheme_2_many_vulns.json"))
	if code != http.StatusAccepted {
		t.Fatalf("import into Acme: %d %v", code, body)
	}
	e.waitScan(t, body["id"].(string))
	_, acme := e.do(t, "GET", "/api/v1/findings?limit=1", "", "")
	foreign := acme["items"].([]any)[0].(map[string]any)["id"].(string)
	tb.allowErrors = []string{"status of 404"}
	for _, id := range []string{foreign, "0b6f0c1e-1111-4222-8333-444455556666", "not-a-uuid"} {
		tb.open(e.URL + "/app/findings/" + id)
		if got := tb.text("main h1"); got != "Not found" {
			t.Errorf("finding %s of another tenant: heading %q, want Not found", id, got)
		}
	}
}

// findingsNav runs a step that navigates (a click on a link or a submit)
// and waits for the new page.
func findingsNav(tb *tab, step string, a chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v", step, err)
	}
	if resp != nil && resp.Status >= 400 {
		tb.t.Fatalf("%s: the page answered %d", step, resp.Status)
	}
	tb.do(step+": page ready", chromedp.WaitReady(chromedp.CSS("body")))
}

func findingsContains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func findingsJSString(s string) string { return fmt.Sprintf("%q", s) }
