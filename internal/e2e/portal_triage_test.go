package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
)

// TestPortalTriageApproval: a tenant rule proposes closing a finding; the
// finding's page shows the Triage workflow's decision as waiting, an analyst
// approves it there, and the finding is closed as the API says.
func TestPortalTriageApproval(t *testing.T) {
	e := startPortal(t)
	ctx := context.Background()
	slug, err := e.tenantSlug(e.platform.tenant)
	if err != nil {
		t.Fatal(err)
	}
	adminKey, _, err := bootstrap.CreateAPIKey(ctx, e.db, slug, auth.RoleClientAdmin, nil, "triage admin")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := e.as(adminKey).do(t, "POST", "/api/v1/triage/rules", "application/json",
		`{"name": "krb5 patched", "cve": "CVE-2020-28196", "action": "set_decision", "decision": "false_positive", "position": 10}`); code != http.StatusCreated {
		t.Fatalf("rule: %d %v", code, body)
	}
	portalMember(t, e, e.platform.tenant, "ana@acme-triage.example.test", "triage-password-1", "client_analyst")
	code, body := e.upload(t, map[string]string{"scanner": "trivy", "target": "image:registry.acme.test/app:1"}, fixture(t, "trivy/scheme_2_many_vulns.json"))
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	if sc := e.waitScan(t, body["id"].(string)); sc["status"] != "completed" {
		t.Fatalf("import: %v", sc)
	}
	// The triage of the import proposes the tenant rule's false positive.
	var id string
	deadline := time.Now().Add(time.Minute)
	for id == "" {
		_, page := e.do(t, "GET", "/api/v1/findings?cve=CVE-2020-28196", "", "")
		for _, it := range page["items"].([]any) {
			f := it.(map[string]any)
			if tr, ok := f["triage"].(map[string]any); ok && tr["status"] == "proposed" {
				id = f["id"].(string)
			}
		}
		if id == "" && time.Now().After(deadline) {
			t.Fatalf("no proposed triage: %v", page)
		}
		time.Sleep(200 * time.Millisecond)
	}

	tb := newTab(t)
	tb.signIn(e.kratosPublic, "ana@acme-triage.example.test", "triage-password-1")
	tb.open(e.URL + "/app/findings/" + id)
	if got := tb.text("[data-testid=triage-status]"); got != "proposed" {
		t.Fatalf("triage status on the page %q", got)
	}
	if got := tb.text("[data-testid=triage-decision]"); !strings.Contains(got, "false positive") {
		t.Fatalf("decision on the page %q", got)
	}
	tb.assertLabelled()
	// Approve with a reason, and ask to remember it for this rule on this target.
	tb.typeInto("#verdict-comment", "krb5 is patched in our base image")
	tb.click("#verdict-remember")
	tb.click("#triage-approve")
	tb.waitFor(`document.querySelector('[data-testid=triage-status]') && document.querySelector('[data-testid=triage-status]').textContent === 'approved'`)
	_, f := e.do(t, "GET", "/api/v1/findings/"+id, "", "")
	if f["status"] != "false_positive" {
		t.Fatalf("after approval the finding is %v", f["status"])
	}
	if tr := f["triage"].(map[string]any); tr["reasoning"] != "krb5 is patched in our base image" {
		t.Errorf("the analyst's reason is %v", tr["reasoning"])
	}
	if got := tb.text("[data-testid=triage-remembered]"); !strings.Contains(got, "next scans of this target") {
		t.Errorf("remembered note %q", got)
	}
	_, rules := e.do(t, "GET", "/api/v1/triage/rules", "", "")
	var remembered map[string]any
	for _, it := range rules["items"].([]any) {
		if r := it.(map[string]any); r["from_finding"] == id {
			remembered = r
		}
	}
	if remembered == nil || remembered["target"] != "image:registry.acme.test/app:1" || remembered["approved_by"] == nil {
		t.Fatalf("no remembered rule in %v", rules)
	}
	if eval[bool](tb, `!!document.querySelector('#triage-approve')`) {
		t.Error("the approve button is still offered after the verdict")
	}
	tb.assertLabelled()

	// Feedback on the triage answer, with a comment.
	tb.typeInto("#feedback-comment", "clear reasoning")
	tb.click("#triage-useful")
	tb.waitFor(`!!document.querySelector('[data-testid=triage-feedback-saved]')`)
	_, stats := e.do(t, "GET", "/api/v1/triage/stats", "", "")
	fb := stats["feedback"].(map[string]any)
	if r := fb["rules"].(map[string]any); r["useful"] != float64(1) {
		t.Errorf("feedback in the stats: %v", fb)
	}
	tb.snap("finding-triage-approved")
}
