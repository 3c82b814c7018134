package e2e

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/contract/triage"
	"github.com/secureops/secureops/internal/db"
)

// importTriaged imports a Trivy report to target and waits for its
// triage to end (nothing waits for an analyst) or to wait (pending).
func (p *platform) importTriaged(t *testing.T, target string, report []byte, waits bool) string {
	t.Helper()
	code, body := p.upload(t, map[string]string{"scanner": "trivy", "target": target}, report)
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	scanID := body["id"].(string)
	if sc := p.waitScan(t, scanID); sc["status"] != "completed" {
		t.Fatalf("import: %v", sc)
	}
	wid := triage.WorkflowID(uuid.MustParse(scanID))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !waits {
		for { // the scan starts its triage as it completes
			if _, err := p.temporal.DescribeWorkflowExecution(ctx, wid, ""); err == nil {
				break
			} else if ctx.Err() != nil {
				t.Fatalf("no triage of %s: %v", target, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		var res triage.Result
		if err := p.temporal.GetWorkflow(ctx, wid, "").Get(ctx, &res); err != nil || res.Proposed != 0 {
			t.Fatalf("triage of %s: %+v %v", target, res, err)
		}
		return scanID
	}
	for { // the rules' rows are written: the workflow waits for an analyst
		var pending int
		err := p.db.InTx(ctx, db.TenantScope(p.tenant), func(ctx context.Context, tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM finding_triage WHERE scan_id = $1 AND status = 'proposed'", scanID).Scan(&pending)
		})
		if err == nil && pending > 0 {
			return scanID
		}
		if ctx.Err() != nil {
			t.Fatalf("triage of %s proposes nothing: %v", target, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// findingByCVE reads the tenant's finding of cve on target.
func (p *platform) findingByCVE(t *testing.T, cve, target string) map[string]any {
	t.Helper()
	code, page := p.do(t, "GET", "/api/v1/findings?limit=100&cve="+cve, "", "")
	if code != http.StatusOK {
		t.Fatalf("findings: %d %v", code, page)
	}
	for _, it := range page["items"].([]any) {
		if f := it.(map[string]any); f["scan_target"] == target || f["target"] == target {
			code, d := p.do(t, "GET", "/api/v1/findings/"+f["id"].(string), "", "")
			if code != http.StatusOK {
				t.Fatalf("finding: %d %v", code, d)
			}
			return d
		}
	}
	t.Fatalf("no finding of %s on %s in %v", cve, target, page)
	return nil
}

// Learning from analysts: a tenant rule's severity is applied (priority and
// deadline follow); an analyst's approval with "remember" becomes a rule for
// that scanner rule on that target carrying the analyst's standing
// approval, so the next scan of the target closes the finding without
// asking (and another target still asks); feedback on triage answers and
// reports is stored once per person and shown in the stats.
func TestTriageLearnsFromAnalysts(t *testing.T) {
	p := start(t)
	ctx := context.Background()
	p.waitRefreshes(t, 1)
	slug, err := p.tenantSlug(p.tenant)
	if err != nil {
		t.Fatal(err)
	}
	adminKey, _, err := bootstrap.CreateAPIKey(ctx, p.db, slug, auth.RoleClientAdmin, nil, "e2e admin")
	if err != nil {
		t.Fatal(err)
	}
	admin := p.as(adminKey)
	for _, r := range []string{
		`{"name": "bzip2 is low here", "cve": "CVE-2019-12900", "action": "set_severity", "severity": "low"}`,
		`{"name": "krb5 patched", "cve": "CVE-2020-28196", "action": "set_decision", "decision": "false_positive"}`,
	} {
		if code, body := admin.do(t, "POST", "/api/v1/triage/rules", "application/json", r); code != http.StatusCreated || body["approved_by"] != nil {
			t.Fatalf("create rule: %d %v", code, body)
		}
	}
	const targetA, targetB = "image:registry.acme.test/app:1", "image:registry.acme.test/other:1"
	report := fixture(t, "trivy/scheme_2_many_vulns.json")
	p.importTriaged(t, targetA, report, true)

	// The severity rule: critical → low, with the rule's event; priority
	// and deadline follow (low: at most 8 + 28 points, 120 days).
	bz := p.findingByCVE(t, "CVE-2019-12900", targetA)
	if bz["severity"] != "low" || bz["priority"].(float64) > 36 {
		t.Fatalf("severity rule not applied: %v %v", bz["severity"], bz["priority"])
	}
	first, _ := time.Parse(time.RFC3339Nano, bz["first_seen_at"].(string))
	due, _ := time.Parse(time.RFC3339Nano, bz["sla_due_at"].(string))
	if d := due.Sub(first); d < 119*24*time.Hour || d > 121*24*time.Hour {
		t.Errorf("sla_due_at %v is %v after first seen, want 120 days", due, d)
	}
	ev := bz["events"].([]any)
	if len(ev) == 0 || !strings.HasPrefix(ev[0].(map[string]any)["actor"].(string), "triage_rule:") ||
		!strings.Contains(ev[0].(map[string]any)["comment"].(string), "severity critical → low") {
		t.Errorf("severity event: %v", ev)
	}

	// Approve the proposed false positive and ask to remember it.
	krb := p.findingByCVE(t, "CVE-2020-28196", targetA)
	id := krb["id"].(string)
	if code, b := p.do(t, "POST", "/api/v1/findings/"+id+"/triage/approve", "application/json", `{"remember": "yes"}`); code != http.StatusBadRequest {
		t.Fatalf("remember as a string: %d %v", code, b)
	}
	code, v := p.do(t, "POST", "/api/v1/findings/"+id+"/triage/approve", "application/json",
		`{"comment": "krb5 is patched in our base image", "remember": true}`)
	if code != http.StatusOK || v["status"] != "false_positive" || v["rule"] == nil {
		t.Fatalf("approve and remember: %d %v", code, v)
	}
	rule := v["rule"].(map[string]any)
	if rule["scanner"] != "trivy" || rule["rule_id"] != krb["rule_id"] || rule["target"] != targetA || rule["action"] != "set_decision" ||
		rule["decision"] != "false_positive" || !strings.HasPrefix(rule["approved_by"].(string), "apikey:") || rule["from_finding"] != id {
		t.Fatalf("remembered rule %v (finding rule id %v)", rule, krb["rule_id"])
	}

	// Reopened by mistake: the next scan of the target closes it again on
	// the analyst's standing approval, with no one asked.
	if code, b := p.do(t, "PATCH", "/api/v1/findings/"+id, "application/json", `{"status": "open", "comment": "oops"}`); code != http.StatusOK {
		t.Fatalf("reopen: %d %v", code, b)
	}
	p.importTriaged(t, targetA, report, false)
	krb = p.findingByCVE(t, "CVE-2020-28196", targetA)
	tr := krb["triage"].(map[string]any)
	if krb["status"] != "false_positive" || tr["status"] != "approved" || tr["source"] != "rules" || tr["approved_by"] != rule["approved_by"] ||
		!strings.Contains(tr["reasoning"].(string), "Analyst: always false_positive") {
		t.Fatalf("second scan: status %v, triage %v", krb["status"], tr)
	}
	if ev := krb["events"].([]any)[0].(map[string]any); ev["actor"] != "triage_rule:"+rule["id"].(string) || ev["to_status"] != "false_positive" {
		t.Fatalf("closing event %v", ev)
	}
	// Another image (another target) is not covered by the remembered
	// rule: it asks.
	p.importTriaged(t, targetB, bytes.ReplaceAll(report, []byte("teamdojo:latest"), []byte("teamdojo:next")), true)
	if tr := p.findingByCVE(t, "CVE-2020-28196", targetB)["triage"].(map[string]any); tr["status"] != "proposed" {
		t.Fatalf("target B: %v", tr)
	}

	// Feedback on a triage answer: one per person (the second replaces
	// the first), counted in the stats with its comment.
	if code, b := p.do(t, "POST", "/api/v1/findings/"+bz["id"].(string)+"/triage/feedback", "application/json", `{"comment": "no verdict"}`); code != http.StatusBadRequest {
		t.Fatalf("feedback without useful: %d %v", code, b)
	}
	for _, body := range []string{`{"useful": false, "comment": "hmm"}`, `{"useful": true, "comment": "right call on bzip2"}`} {
		code, fb := p.do(t, "POST", "/api/v1/findings/"+bz["id"].(string)+"/triage/feedback", "application/json", body)
		if code != http.StatusCreated || fb["source"] != "rules" || fb["decision"] != "valid" {
			t.Fatalf("feedback: %d %v", code, fb)
		}
	}
	if code, fb := admin.do(t, "POST", "/api/v1/findings/"+bz["id"].(string)+"/triage/feedback", "application/json", `{"useful": false}`); code != http.StatusCreated || fb["useful"] != false {
		t.Fatalf("admin feedback: %d %v", code, fb)
	}
	code, stats := p.do(t, "GET", "/api/v1/triage/stats", "", "")
	if code != http.StatusOK {
		t.Fatalf("stats: %d %v", code, stats)
	}
	fbs := stats["feedback"].(map[string]any)
	if r := fbs["rules"].(map[string]any); count(r, "useful") != 1 || count(r, "not_useful") != 1 || r["useful_rate"] != 0.5 {
		t.Errorf("rules feedback %v", r)
	}
	if l := fbs["llm"].(map[string]any); count(l, "useful") != 0 || count(l, "not_useful") != 0 {
		t.Errorf("llm feedback %v", l)
	}
	comments := fbs["comments"].([]any)
	if len(comments) != 1 || comments[0].(map[string]any)["comment"] != "right call on bzip2" || comments[0].(map[string]any)["subject"] != "triage" {
		t.Errorf("comments %v", comments)
	}
}
