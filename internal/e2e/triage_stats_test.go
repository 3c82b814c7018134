package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
)

// GET /api/v1/triage/stats after the import → triage → approve/reject flow
// of TestTriageEndToEnd: the decisions per source, rule and decision, and
// how often the rules (and a model, whose rows are written here: no model
// runs in e2e) matched the analysts' verdicts.
func TestTriageStats(t *testing.T) {
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

	// Nothing triaged yet.
	code, st := p.do(t, "GET", "/api/v1/triage/stats", "", "")
	if code != http.StatusOK || len(st["decisions"].([]any)) != 0 ||
		st["agreement"].(map[string]any)["rules"].(map[string]any)["reviewed"] != float64(0) {
		t.Fatalf("empty stats: %d %v", code, st)
	}

	for _, r := range []string{
		`{"name": "old compress", "scanner": "trivy", "rule_id": "CVE-2018-*", "action": "suppress", "position": 10}`,
		`{"name": "infinite loop is real", "cve": "CVE-2018-1324", "action": "set_decision", "decision": "valid", "position": 20}`,
		`{"name": "krb5 patched", "cve": "CVE-2020-28196", "action": "set_decision", "decision": "false_positive", "position": 30}`,
	} {
		if code, body := admin.do(t, "POST", "/api/v1/triage/rules", "application/json", r); code != http.StatusCreated {
			t.Fatalf("create rule: %d %v", code, body)
		}
	}
	code, body := p.upload(t, map[string]string{"scanner": "trivy", "target": "image:registry.acme.test/app:1"}, fixture(t, "trivy/scheme_2_many_vulns.json"))
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	scanID := body["id"].(string)
	if sc := p.waitScan(t, scanID); sc["status"] != "completed" {
		t.Fatalf("import: %v", sc)
	}
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
	fp, sup := byCVE["CVE-2020-28196"]["id"].(string), byCVE["CVE-2018-11771"]["id"].(string)
	if code, f := p.do(t, "POST", "/api/v1/findings/"+fp+"/triage/approve", "", ""); code != http.StatusOK {
		t.Fatalf("approve: %d %v", code, f)
	}
	if code, f := p.do(t, "POST", "/api/v1/findings/"+sup+"/triage/reject", "", ""); code != http.StatusOK {
		t.Fatalf("reject: %d %v", code, f)
	}
	// A model's answers on the two judged findings: valid on the approved
	// false positive (disagrees), valid on the rejected suppression (agrees).
	super, err := pgx.Connect(ctx, p.superDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	for _, id := range []string{fp, sup} {
		if _, err := super.Exec(ctx, `INSERT INTO finding_triage (tenant_id, finding_id, scan_id, source, model, decision, status)
			VALUES ($1, $2, $3, 'llm', 'fake', 'valid', 'approved')`, p.tenant, id, scanID); err != nil {
			t.Fatal(err)
		}
	}

	code, st = p.do(t, "GET", "/api/v1/triage/stats", "", "")
	if code != http.StatusOK {
		t.Fatalf("stats: %d %v", code, st)
	}
	got := map[string]float64{}
	for _, it := range st["decisions"].([]any) {
		d := it.(map[string]any)
		got[fmt.Sprintf("%s|%v|%s|%s", d["source"], d["rule_name"], d["decision"], d["status"])] += d["count"].(float64)
		if (d["rule_name"] == nil) != (d["rule_id"] == nil) {
			t.Errorf("rule id and name: %v", d)
		}
	}
	want := map[string]float64{
		"rules|<nil>|valid|approved":                   2, // KEV, critical with a CVE
		"rules|old compress|suppress|proposed":         1,
		"rules|infinite loop is real|valid|approved":   1,
		"rules|krb5 patched|false_positive|proposed":   1,
		"analyst|krb5 patched|false_positive|approved": 1,
		"analyst|old compress|suppress|rejected":       1,
		"llm|<nil>|valid|approved":                     2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("decisions\n got %v\nwant %v", got, want)
	}
	ag := st["agreement"].(map[string]any)
	check := func(what string, g map[string]any, reviewed, agreed, rate float64) {
		t.Helper()
		if g["reviewed"] != reviewed || g["agreed"] != agreed || g["rate"] != rate {
			t.Errorf("%s agreement %v, want %v/%v (%v)", what, g, agreed, reviewed, rate)
		}
	}
	check("rules", ag["rules"].(map[string]any), 2, 1, 0.5)
	check("llm", ag["llm"].(map[string]any), 2, 1, 0.5)
	byRule := map[string]map[string]any{}
	for _, it := range ag["by_rule"].([]any) {
		g := it.(map[string]any)
		byRule[fmt.Sprintf("%s|%v", g["source"], g["rule_name"])] = g
	}
	if len(byRule) != 3 {
		t.Fatalf("by rule: %v", ag["by_rule"])
	}
	check("krb5 patched", byRule["rules|krb5 patched"], 1, 1, 1)
	check("old compress", byRule["rules|old compress"], 1, 0, 0)
	check("model", byRule["llm|<nil>"], 2, 1, 0.5)
}
