package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/contract/triage"
	"github.com/secureops/secureops/internal/temporalx"
)

// The Triage workflow end to end: an admin's tenant rules; an imported Trivy
// report is triaged by triage/<scan-id> (built-in rules, then the tenant's
// in order); the API shows each finding's triage; the decisions that would
// close a finding wait; an analyst approves one (the finding becomes a false
// positive) and rejects the other (it stays), and the workflow ends. A
// second run of the same triage adds no row.
func TestTriageEndToEnd(t *testing.T) {
	p := start(t)
	ctx := context.Background()
	p.waitRefreshes(t, 1) // the embedded KEV catalogue is loaded

	slug, err := p.tenantSlug(p.tenant)
	if err != nil {
		t.Fatal(err)
	}
	adminKey, _, err := bootstrap.CreateAPIKey(ctx, p.db, slug, auth.RoleClientAdmin, nil, "e2e admin")
	if err != nil {
		t.Fatal(err)
	}
	admin := p.as(adminKey)
	rules := []string{
		`{"name": "old compress", "scanner": "trivy", "rule_id": "CVE-2018-*", "action": "suppress", "position": 10}`,
		`{"name": "infinite loop is real", "cve": "CVE-2018-1324", "action": "set_decision", "decision": "valid", "position": 20}`,
		`{"name": "krb5 patched", "cve": "CVE-2020-28196", "action": "set_decision", "decision": "false_positive", "position": 30}`,
	}
	// An analyst reads rules but may not write them.
	if code, body := p.do(t, "POST", "/api/v1/triage/rules", "application/json", rules[0]); code != http.StatusForbidden {
		t.Fatalf("analyst creates a rule: %d %v", code, body)
	}
	for _, r := range rules {
		if code, body := admin.do(t, "POST", "/api/v1/triage/rules", "application/json", r); code != http.StatusCreated {
			t.Fatalf("create rule: %d %v", code, body)
		}
	}
	if code, body := admin.do(t, "POST", "/api/v1/triage/rules", "application/json",
		`{"title": "(", "title_regex": true, "action": "suppress"}`); code != http.StatusBadRequest {
		t.Fatalf("a broken expression: %d %v", code, body)
	}
	code, list := p.do(t, "GET", "/api/v1/triage/rules", "", "")
	if items, _ := list["items"].([]any); code != http.StatusOK || len(items) != 3 {
		t.Fatalf("list rules: %d %v", code, list)
	}
	extra := list["items"].([]any)[0].(map[string]any)["id"].(string)
	if code, body := admin.do(t, "PATCH", "/api/v1/triage/rules/"+extra, "application/json", `{"position": 5}`); code != http.StatusOK || body["position"] != float64(5) {
		t.Fatalf("patch rule: %d %v", code, body)
	}

	code, body := p.upload(t, map[string]string{"scanner": "trivy", "target": "image:registry.acme.test/app:1"}, fixture(t, "trivy/scheme_2_many_vulns.json"))
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	scanID := body["id"].(string)
	if sc := p.waitScan(t, scanID); sc["status"] != "completed" {
		t.Fatalf("import: %v", sc)
	}
	wid := triage.WorkflowID(uuid.MustParse(scanID))

	// Every finding gets its triage; the two closing decisions wait.
	byCVE := map[string]map[string]any{}
	deadline := time.Now().Add(time.Minute)
	for {
		code, page := p.do(t, "GET", "/api/v1/findings?limit=50", "", "")
		if code != http.StatusOK {
			t.Fatalf("findings: %d %v", code, page)
		}
		items := page["items"].([]any)
		for _, it := range items {
			f := it.(map[string]any)
			byCVE[f["cves"].([]any)[0].(string)] = f
		}
		done := len(items) == 5
		for _, f := range byCVE {
			done = done && f["triage"] != nil
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("findings not triaged: %v", page)
		}
		time.Sleep(300 * time.Millisecond)
	}
	want := map[string][3]string{ // decision, status, reasoning contains
		"CVE-2020-15999": {"valid", "approved", "KEV"},
		"CVE-2019-12900": {"valid", "approved", "critical"},
		"CVE-2018-11771": {"suppress", "proposed", "old compress"},
		"CVE-2018-1324":  {"valid", "approved", "infinite loop is real"},
		"CVE-2020-28196": {"false_positive", "proposed", "krb5 patched"},
	}
	for cve, w := range want {
		tr := byCVE[cve]["triage"].(map[string]any)
		if tr["decision"] != w[0] || tr["status"] != w[1] || !strings.Contains(tr["reasoning"].(string), w[2]) ||
			tr["source"] != "rules" || tr["model"] != nil || tr["approved_by"] != nil {
			t.Errorf("%s triage %v, want %v", cve, tr, w)
		}
	}
	desc, err := p.temporal.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil || desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("triage workflow: %v %v", desc, err)
	}
	// Operators find the waiting triage by tenant and kind.
	q := fmt.Sprintf("TenantId = '%s' AND Kind = '%s' AND ExecutionStatus = 'Running'", p.tenant, triage.Kind)
	for {
		resp, err := p.temporal.ListWorkflow(ctx, listReq(q))
		if err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == wid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("triage not visible with %q: %v %v", q, resp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, d := p.do(t, "GET", "/api/v1/findings/"+byCVE["CVE-2020-28196"]["id"].(string), "", ""); code != http.StatusOK ||
		d["triage"].(map[string]any)["status"] != "proposed" {
		t.Fatalf("detail: %d %v", code, d)
	}

	// A decision that does not wait cannot be approved.
	if code, b := p.do(t, "POST", "/api/v1/findings/"+byCVE["CVE-2020-15999"]["id"].(string)+"/triage/approve", "", ""); code != http.StatusConflict {
		t.Fatalf("approve a valid finding: %d %v", code, b)
	}
	fp := byCVE["CVE-2020-28196"]["id"].(string)
	code, f := p.do(t, "POST", "/api/v1/findings/"+fp+"/triage/approve", "application/json", `{"comment": "backported"}`)
	if code != http.StatusOK || f["status"] != "false_positive" {
		t.Fatalf("approve: %d %v", code, f)
	}
	tr := f["triage"].(map[string]any)
	if tr["source"] != "analyst" || tr["status"] != "approved" || tr["decision"] != "false_positive" ||
		!strings.HasPrefix(tr["approved_by"].(string), "apikey:") {
		t.Fatalf("approved triage: %v", tr)
	}
	if code, b := p.do(t, "POST", "/api/v1/findings/"+fp+"/triage/approve", "", ""); code != http.StatusConflict {
		t.Fatalf("approve twice: %d %v", code, b)
	}
	sup := byCVE["CVE-2018-11771"]["id"].(string)
	code, f = p.do(t, "POST", "/api/v1/findings/"+sup+"/triage/reject", "", "")
	if code != http.StatusOK || f["status"] != byCVE["CVE-2018-11771"]["status"] || f["triage"].(map[string]any)["status"] != "rejected" {
		t.Fatalf("reject: %d %v", code, f)
	}
	// The finding's history has the analyst's status change.
	if code, d := p.do(t, "GET", "/api/v1/findings/"+fp, "", ""); code != http.StatusOK ||
		len(d["events"].([]any)) != 1 || d["events"].([]any)[0].(map[string]any)["to_status"] != "false_positive" {
		t.Fatalf("events: %d %v", code, d["events"])
	}

	// Nothing waits: the workflow ends.
	var res triage.Result
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.temporal.GetWorkflow(wctx, wid, "").Get(wctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Findings != 5 || res.Proposed != 2 || res.Approved != 1 || res.Rejected != 1 || res.Expired != 0 {
		t.Fatalf("result %+v", res)
	}
	recordHistory(t, p.temporal, wid, "../../workflows/triageflow/testdata/triage_approved.json")
	recordHistory(t, p.temporal, "scan/"+scanID, "../../workflows/scanflow/testdata/import_triage.json")

	// A second run (a reset, a re-run) decides again and adds no row: one
	// per finding and source.
	run, err := p.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: wid, TaskQueue: temporalx.QueueScans, WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, triage.WorkflowName, triage.Input{TenantID: p.tenant, ScanID: uuid.MustParse(scanID)})
	if err != nil {
		t.Fatal(err)
	}
	var again triage.Result
	if err := run.Get(wctx, &again); err != nil {
		t.Fatal(err)
	}
	// The approved false positive is closed now; the rejected one is still open.
	if again.Findings != 4 || again.Proposed != 0 {
		t.Fatalf("second run %+v", again)
	}
	super, err := pgx.Connect(ctx, p.superDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	var rows, distinct, analyst int
	if err := super.QueryRow(ctx, `SELECT count(*), count(DISTINCT (finding_id, source)), count(*) FILTER (WHERE source = 'analyst')
		FROM finding_triage`).Scan(&rows, &distinct, &analyst); err != nil || rows != 7 || distinct != 7 || analyst != 2 {
		t.Fatalf("finding_triage: %d rows, %d distinct, %d analyst, %v", rows, distinct, analyst, err)
	}
	var audited int
	if err := super.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action IN ('finding.triage_approved', 'finding.triage_rejected')`).Scan(&audited); err != nil || audited != 2 {
		t.Fatalf("audited verdicts: %d %v", audited, err)
	}
}
