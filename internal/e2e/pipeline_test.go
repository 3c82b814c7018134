package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/testutil/dnstest"
)

func (p *platform) waitScan(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		code, sc := p.do(t, "GET", "/api/v1/scans/"+id, "", "")
		if code != http.StatusOK {
			t.Fatalf("get scan: %d %v", code, sc)
		}
		if s := sc["status"]; s == "completed" || s == "failed" || s == "cancelled" {
			return sc
		}
		if time.Now().After(deadline) {
			t.Fatalf("scan did not finish: %v", sc)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// upload posts a multipart import; fields in order, then the file.
func (p *platform) upload(t *testing.T, fields map[string]string, file []byte) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("file", "report")
		_, _ = fw.Write(file)
	}
	_ = mw.Close()
	return p.do(t, "POST", "/api/v1/scans/import", mw.FormDataContentType(), buf.String())
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	// Copies of the shared fixtures (DefectDojo's unit-test reports), kept in
	// the module so the import tests run wherever the module is checked out.
	b, err := os.ReadFile("testdata/reports/" + filepath.Base(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A tenant registers a host by name, proves ownership with the well-known
// file (through DNS the test controls), and only then may scan it; the scan
// resolves the name itself and scans the resolved loopback address.
func TestTargetVerificationThenScan(t *testing.T) {
	dns := &dnstest.Server{A: map[string]netip.Addr{"shop.acme.test": netip.MustParseAddr("127.0.0.1")}}
	p := startWith(t, options{resolver: dns.Start(t)})
	var token string
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == targets.WellKnownPath && token != "" {
			fmt.Fprintln(w, token)
			return
		}
		w.Header().Set("Server", "nginx/1.22.1")
		_, _ = w.Write([]byte("<html><title>shop</title></html>"))
	}))
	defer web.Close()
	port := web.Listener.Addr().(*net.TCPAddr).Port
	value := fmt.Sprintf("shop.acme.test:%d", port)

	code, tg := p.do(t, "POST", "/api/v1/targets", "application/json", fmt.Sprintf(`{"kind":"host","value":%q,"name":"Shop"}`, "Shop.ACME.test.:"+fmt.Sprint(port)))
	if code != http.StatusCreated {
		t.Fatalf("create target: %d %v", code, tg)
	}
	if tg["value"] != value {
		t.Errorf("value %v, want normalised %s", tg["value"], value)
	}
	id := tg["id"].(string)
	ver := tg["verification"].(map[string]any)
	inst := tg["instructions"].(map[string]any)
	if ver["status"] != "unverified" || inst["dns"] == nil || inst["http"] == nil {
		t.Fatalf("new target %v", tg)
	}
	token = inst["http"].(map[string]any)["content"].(string)
	if code, again := p.do(t, "POST", "/api/v1/targets", "application/json", fmt.Sprintf(`{"value":%q}`, value)); code != http.StatusOK || again["id"] != id {
		t.Errorf("registering again: %d %v, want 200 with the same id", code, again)
	}

	// Not verified yet: the API refuses to scan it.
	code, body := p.do(t, "POST", "/api/v1/scans", "application/json", fmt.Sprintf(`{"target_id":%q}`, id))
	if code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(body["detail"]), "not verified") {
		t.Fatalf("scan of unverified target: %d %v", code, body)
	}

	code, body = p.do(t, "POST", "/api/v1/targets/"+id+"/verify", "", "")
	if code != http.StatusAccepted {
		t.Fatalf("verify: %d %v", code, body)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, tg = p.do(t, "GET", "/api/v1/targets/"+id, "", "")
		v := tg["verification"].(map[string]any)
		if v["status"] == "verified" {
			if v["method"] != "http" {
				t.Errorf("verified by %v, want http", v["method"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target not verified: %v", tg)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The verification is an operator-visible workflow.
	ctx := context.Background()
	if _, err := p.temporal.DescribeWorkflowExecution(ctx, "verify/"+id, ""); err != nil {
		t.Errorf("verify workflow: %v", err)
	}

	code, body = p.do(t, "POST", "/api/v1/scans", "application/json", fmt.Sprintf(`{"target_id":%q,"scanners":["nmap","secureops"]}`, id))
	if code != http.StatusAccepted {
		t.Fatalf("scan: %d %v", code, body)
	}
	sc := p.waitScan(t, body["id"].(string))
	if sc["status"] != "completed" || sc["target_id"] != id {
		t.Fatalf("scan %v", sc)
	}
	if d := sc["diff"].(map[string]any); d["new"].(float64) < 2 {
		t.Errorf("diff %v, want new findings from nmap and the native checks", d)
	}
	code, page := p.do(t, "GET", "/api/v1/findings?target_id="+id+"&scanner=secureops", "", "")
	if code != http.StatusOK || len(page["items"].([]any)) == 0 {
		t.Fatalf("native findings of the target: %d %v", code, page)
	}
	code, page = p.do(t, "GET", "/api/v1/findings?target="+url.QueryEscape(value)+"&scanner=nmap", "", "")
	if code != http.StatusOK || len(page["items"].([]any)) != 1 {
		t.Fatalf("nmap findings of the target: %d %v", code, page)
	}
}

// The ownership rule lives in the workflow: a scan started around the API
// (as a bug or an operator might) of an unverified target is refused there.
func TestWorkflowRefusesUnverifiedTarget(t *testing.T) {
	p := start(t)
	ctx := context.Background()
	id := uuid.New()
	var target dbq.TargetCreateRow
	err := p.db.InTx(ctx, db.TenantScope(p.tenant), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		target, err = db.Q.TargetCreate(ctx, tx, dbq.TargetCreateParams{TenantID: p.tenant, Kind: "domain", Value: "unproven.example.com",
			Host: "unproven.example.com", VerificationToken: "tok", VerificationStatus: "unverified"})
		if err != nil {
			return err
		}
		_, err = db.Q.ScanCreate(ctx, tx, dbq.ScanCreateParams{ID: id, TenantID: p.tenant, Target: target.Value, Scanners: []string{"nmap"},
			WorkflowID: scan.WorkflowID(id), TargetID: uuid.NullUUID{UUID: target.ID, Valid: true}, Source: "scan", Complete: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := p.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: scan.WorkflowID(id), TaskQueue: temporalx.QueueScans,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, scan.WorkflowName, scan.Input{TenantID: p.tenant, ScanID: id, Target: target.Value, Scanners: []string{"nmap"}})
	if err != nil {
		t.Fatal(err)
	}
	err = run.Get(ctx, nil)
	var app *temporal.ApplicationError
	if err == nil || !asApp(err, &app) || app.Type() != "TargetNotVerified" {
		t.Fatalf("workflow result %v, want TargetNotVerified", err)
	}
	sc := p.waitScan(t, id.String())
	if sc["status"] != "failed" || !strings.Contains(fmt.Sprint(sc["error"]), "not verified") {
		t.Errorf("scan %v", sc)
	}
}

// Reports from a tenant's own tools go through the same workflow and ingest;
// three imports of one target walk the finding lifecycle, and the findings
// API filters, pages and triages them.
func TestImportLifecycleAndFindingsAPI(t *testing.T) {
	p := start(t)
	full := fixture(t, "trivy/scheme_2_many_vulns.json")
	const image = "registry.acme.test/shop:1.0"

	code, body := p.upload(t, map[string]string{"scanner": "trivy", "target": "image:" + image}, full)
	if code != http.StatusAccepted || body["findings_in_report"] != float64(5) {
		t.Fatalf("import: %d %v", code, body)
	}
	first := p.waitScan(t, body["id"].(string))
	if first["status"] != "completed" || first["source"] != "import" {
		t.Fatalf("import scan %v", first)
	}
	total := int(first["findings_total"].(float64))
	if d := first["diff"].(map[string]any); int(d["new"].(float64)) != total || total == 0 {
		t.Fatalf("first import diff %v, total %d", d, total)
	}
	targetID := first["target_id"].(string)

	// Every finding once across pages of 2, sorted by severity.
	seen := map[string]bool{}
	cursor := ""
	lastRank := 5
	rank := map[string]int{"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
	for pages := 0; ; pages++ {
		path := "/api/v1/findings?limit=2&sort=-severity&target_id=" + targetID
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		code, page := p.do(t, "GET", path, "", "")
		if code != http.StatusOK {
			t.Fatalf("list: %d %v", code, page)
		}
		for _, it := range page["items"].([]any) {
			f := it.(map[string]any)
			if seen[f["id"].(string)] {
				t.Fatalf("finding %v served twice", f["id"])
			}
			seen[f["id"].(string)] = true
			if r := rank[f["severity"].(string)]; r > lastRank {
				t.Errorf("severity order broken at %v", f["severity"])
			} else {
				lastRank = r
			}
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != total {
		t.Errorf("paged through %d findings, want %d", len(seen), total)
	}

	// Filters.
	var anyCVE, anyID string
	_, page := p.do(t, "GET", "/api/v1/findings?target_id="+targetID, "", "")
	for _, it := range page["items"].([]any) {
		f := it.(map[string]any)
		if cves := f["cves"].([]any); len(cves) > 0 && anyCVE == "" {
			anyCVE, anyID = cves[0].(string), f["id"].(string)
		}
	}
	if anyCVE == "" {
		t.Fatal("no CVE in the trivy findings")
	}
	_, page = p.do(t, "GET", "/api/v1/findings?cve="+strings.ToLower(anyCVE), "", "")
	if items := page["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != anyID {
		t.Errorf("cve filter %s: %v", anyCVE, items)
	}
	_, page = p.do(t, "GET", "/api/v1/findings?status=fixed", "", "")
	if n := len(page["items"].([]any)); n != 0 {
		t.Errorf("%d fixed findings after one import", n)
	}
	for _, bad := range []string{"severity=urgent", "status=gone", "sort=name", "cursor=zzz", "limit=0"} {
		if code, _ := p.do(t, "GET", "/api/v1/findings?"+bad, "", ""); code != http.StatusBadRequest {
			t.Errorf("?%s: %d, want 400", bad, code)
		}
	}

	// Triage one finding, then see it in its history.
	code, f := p.do(t, "PATCH", "/api/v1/findings/"+anyID, "application/json", `{"status":"accepted_risk","comment":"behind the WAF"}`)
	if code != http.StatusOK || f["status"] != "accepted_risk" {
		t.Fatalf("patch: %d %v", code, f)
	}
	if code, _ := p.do(t, "PATCH", "/api/v1/findings/"+anyID, "application/json", `{"status":"new"}`); code != http.StatusBadRequest {
		t.Errorf("setting status new by hand: %d, want 400", code)
	}
	_, detail := p.do(t, "GET", "/api/v1/findings/"+anyID, "", "")
	evs := detail["events"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["comment"] != "behind the WAF" || len(detail["occurrences"].([]any)) != 1 {
		t.Errorf("detail %v", detail)
	}

	// Second import, same report: nothing new, everything still open.
	_, body = p.upload(t, map[string]string{"scanner": "trivy", "target_id": targetID}, full)
	second := p.waitScan(t, body["id"].(string))
	if d := second["diff"].(map[string]any); d["new"] != float64(0) || int(d["open"].(float64)) != total || d["fixed"] != float64(0) {
		t.Errorf("second import diff %v", d)
	}

	// Third import: an empty report for the same image fixes all but the
	// accepted risk; the scanner's name is taken in any case.
	_, body = p.upload(t, map[string]string{"scanner": " Trivy", "target_id": targetID}, fixture(t, "trivy/legacy_no_vuln.json"))
	third := p.waitScan(t, body["id"].(string))
	if sc := third["scanners"].([]any); len(sc) != 1 || sc[0] != "trivy" {
		t.Errorf("import named \" Trivy\" stored scanners %v, want [trivy]", sc)
	}
	if d := third["diff"].(map[string]any); int(d["fixed"].(float64)) != total-1 {
		t.Errorf("third import diff %v, want %d fixed", d, total-1)
	}
	_, page = p.do(t, "GET", "/api/v1/scans/"+third["id"].(string)+"/findings?change=fixed", "", "")
	if n := len(page["items"].([]any)); n != total-1 {
		t.Errorf("scan lists %d fixed findings, want %d", n, total-1)
	}

	// Bulk triage is all or nothing.
	ids := []string{}
	for id := range seen {
		ids = append(ids, id)
	}
	b, _ := json.Marshal(map[string]any{"ids": append(ids, uuid.NewString()), "status": "open"})
	if code, _ := p.do(t, "PATCH", "/api/v1/findings", "application/json", string(b)); code != http.StatusNotFound {
		t.Errorf("bulk with an unknown id: %d, want 404", code)
	}
	_, page = p.do(t, "GET", "/api/v1/findings?status=open&target_id="+targetID, "", "")
	if n := len(page["items"].([]any)); n != 0 {
		t.Errorf("a failed bulk update changed %d findings", n)
	}
	b, _ = json.Marshal(map[string]any{"ids": ids, "status": "false_positive", "comment": "test image"})
	if code, res := p.do(t, "PATCH", "/api/v1/findings", "application/json", string(b)); code != http.StatusOK || res["updated"] != float64(total) {
		t.Errorf("bulk: %d %v", code, res)
	}
	// Again: nothing moves, and the answer says so.
	if code, res := p.do(t, "PATCH", "/api/v1/findings", "application/json", string(b)); code != http.StatusOK ||
		res["updated"] != float64(0) || res["unchanged"] != float64(total) {
		t.Errorf("repeated bulk: %d %v, want 0 updated, %d unchanged", code, res, total)
	}
}

func TestImportBadInput(t *testing.T) {
	p := startWith(t, options{noWorkers: true})
	cases := []struct {
		name   string
		fields map[string]string
		file   []byte
		code   int
		detail string
	}{
		{"unknown format", map[string]string{"scanner": "nessus", "target": "127.0.0.1"}, []byte("x"), 422, "unknown report format"},
		{"malformed", map[string]string{"scanner": "trivy", "target": "image:app"}, []byte(`{"Results": [`), 422, "trivy"},
		{"wrong format", map[string]string{"scanner": "nmap", "target": "127.0.0.1"}, fixture(t, "trivy/scheme_2_many_vulns.json"), 422, "nmap"},
		{"no file", map[string]string{"scanner": "nmap", "target": "127.0.0.1"}, nil, 400, "file"},
		{"no target", map[string]string{"scanner": "nmap"}, []byte("<nmaprun/>"), 400, "target"},
		{"bad target", map[string]string{"scanner": "nmap", "target": "http://"}, fixture(t, "nmap/nmap_1port.xml"), 400, "target"},
		{"unknown field", map[string]string{"scanner": "nmap", "target": "127.0.0.1", "x": "1"}, nil, 400, "unknown field"},
	}
	for _, c := range cases {
		code, body := p.upload(t, c.fields, c.file)
		if code != c.code || !strings.Contains(strings.ToLower(fmt.Sprint(body["detail"])), c.detail) {
			t.Errorf("%s: %d %v, want %d mentioning %q", c.name, code, body, c.code, c.detail)
		}
	}
	if code, _ := p.do(t, "POST", "/api/v1/scans/import", "application/json", `{}`); code != http.StatusUnsupportedMediaType {
		t.Errorf("JSON body: %d, want 415", code)
	}
	// Over 100 MB: refused while streaming, without buffering it all.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		_ = mw.WriteField("scanner", "trivy")
		_ = mw.WriteField("target", "image:app")
		fw, _ := mw.CreateFormFile("file", "big.json")
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for i := 0; i < 101; i++ {
			if _, err := fw.Write(chunk); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		_ = mw.Close()
		_ = pw.Close()
	}()
	req, _ := http.NewRequest("POST", p.api.URL+"/api/v1/scans/import", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("101 MB report: %d, want 413", resp.StatusCode)
	}
	// Nothing of the refused uploads was stored.
	var n int
	_ = p.db.InTx(context.Background(), db.TenantScope(p.tenant), func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM scans").Scan(&n)
	})
	if n != 0 {
		t.Errorf("%d scans stored from refused uploads", n)
	}
}

func asApp(err error, target **temporal.ApplicationError) bool { return errors.As(err, target) }
