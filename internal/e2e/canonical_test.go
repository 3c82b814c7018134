package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"github.com/secureops/secureops/internal/config"
)

type reportedFinding struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Status    string `json:"status"`
	Severity  string `json:"severity"`
	Reporters []struct {
		Scanner string `json:"scanner"`
		RuleID  string `json:"rule_id"`
		Title   string `json:"title"`
		Gone    bool   `json:"gone"`
	} `json:"reporters"`
}

// reported lists the tenant's findings (one page: a few dozen at most).
func (p *platform) reported(t *testing.T, query string) []reportedFinding {
	t.Helper()
	req, _ := http.NewRequest("GET", p.api.URL+"/api/v1/findings?limit=200&"+query, nil)
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Items []reportedFinding `json:"items"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("findings?%s: %d", query, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Items
}

// byReporterRule picks the finding one of whose reporters has the rule or title.
func byReporterRule(fs []reportedFinding, scanner, rule string) []reportedFinding {
	var out []reportedFinding
	for _, f := range fs {
		for _, r := range f.Reporters {
			if r.Scanner == scanner && (r.RuleID == rule || r.Title == rule) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// The end to end: a loopback server without X-Frame-Options that
// serves /.git/, scanned by real nikto and the native checks, gives one
// clickjacking finding and one exposed-repository finding, each with both
// scanners as reporters. A second scan by nikto alone, after the server was
// fixed, does not fix them (the native checks did not look); a third by the
// native checks alone then does.
func TestSharedChecksAreOneFindingAcrossScanners(t *testing.T) {
	if _, err := exec.LookPath("nikto"); err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal("nikto not installed")
		}
		t.Skip("nikto not installed")
	}
	p := startWith(t, options{configure: func(c *config.Config) { c.NiktoPath = "nikto" }})
	var fixed atomic.Bool
	files := map[string]string{
		"/.git/HEAD":   "ref: refs/heads/main\n",
		"/.git/config": "[core]\n\trepositoryformatversion = 0\n\tbare = false\n",
		"/.git/index":  "DIRC\x00\x00\x00\x02\x00\x00\x00\x01",
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fixed.Load() {
			w.Header().Set("X-Frame-Options", "DENY")
		}
		if r.URL.Path == "/" {
			_, _ = w.Write([]byte("<html><head><title>app</title></head><body>hello</body></html>"))
			return
		}
		if body, ok := files[r.URL.Path]; ok && !fixed.Load() {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write([]byte(body))
			return
		}
		http.NotFound(w, r)
	}))
	defer target.Close()
	u, _ := url.Parse(target.URL)
	scanOf := func(scanners string) map[string]any {
		t.Helper()
		code, body := p.do(t, "POST", "/api/v1/scans", "application/json",
			fmt.Sprintf(`{"target":"http://%s/","scanners":[%s]}`, u.Host, scanners))
		if code != http.StatusAccepted {
			t.Fatalf("create scan: %d %v", code, body)
		}
		sc := p.waitScan(t, body["id"].(string))
		if sc["status"] != "completed" {
			t.Fatalf("scan %v", sc)
		}
		return sc
	}

	first := scanOf(`"nikto","secureops"`)
	recordHistory(t, p.temporal, "scan/"+first["id"].(string), "../../workflows/scanflow/testdata/scan_two_scanners.json")
	all := p.reported(t, "")
	xfo := byReporterRule(all, "secureops", "http-missing-x-frame-options")
	git := byReporterRule(all, "secureops", "exposed-git")
	if len(xfo) != 1 || len(git) != 1 {
		t.Fatalf("clickjacking %d, exposed repository %d findings; want one each:\n%+v", len(xfo), len(git), all)
	}
	for _, f := range []reportedFinding{xfo[0], git[0]} {
		names := map[string]bool{}
		for _, r := range f.Reporters {
			names[r.Scanner] = true
		}
		if len(f.Reporters) != 2 || !names["nikto"] || !names["secureops"] {
			t.Errorf("%s: reporters %+v, want nikto and secureops", f.Title, f.Reporters)
		}
		if f.Status != "new" {
			t.Errorf("%s: status %s", f.Title, f.Status)
		}
	}
	// No other finding on the port is nikto's clickjacking or git report
	// on its own.
	if n := len(byReporterRule(all, "nikto", "The anti-clickjacking X-Frame-Options header is not present.")); n != 1 {
		t.Errorf("nikto's clickjacking report is in %d findings", n)
	}
	// scanner= matches any reporter.
	for _, s := range []string{"nikto", "secureops"} {
		if got := byReporterRule(p.reported(t, "scanner="+s), "secureops", "exposed-git"); len(got) != 1 {
			t.Errorf("scanner=%s lists the exposed repository %d times", s, len(got))
		}
	}
	// The scan and the dashboard count the merged findings once (the tenant
	// has only this scan's findings; nikto reports some on port 80 whatever
	// the port).
	if got := int(first["findings_total"].(float64)); got != len(all) {
		t.Errorf("scan counts %d findings, the list has %d: %+v", got, len(all), all)
	}
	if code, dash := p.do(t, "GET", "/api/v1/dashboard", "", ""); code != http.StatusOK {
		t.Errorf("dashboard: %d %v", code, dash)
	} else if open := dash["open_findings"].(map[string]any); int(open["total"].(float64)) != len(all) {
		t.Errorf("dashboard counts %v open findings, the list has %d", open["total"], len(all))
	}

	// The server is fixed; nikto alone no longer sees either. The native
	// checks reported them too and did not run: they stay open.
	fixed.Store(true)
	second := scanOf(`"nikto"`)
	after := p.reported(t, "")
	// What nikto alone reported is fixed by it; nothing the native checks
	// also reported is.
	fixedNow := 0
	for _, f := range after {
		if f.Status == "fixed" {
			fixedNow++
			if len(f.Reporters) != 1 || f.Reporters[0].Scanner != "nikto" {
				t.Errorf("the nikto-only scan fixed %s, reported by %+v", f.Title, f.Reporters)
			}
		}
	}
	if diff := second["diff"].(map[string]any); int(diff["fixed"].(float64)) != fixedNow {
		t.Errorf("the nikto-only scan's diff says %v fixed, the list %d", diff["fixed"], fixedNow)
	}
	for _, rule := range []string{"http-missing-x-frame-options", "exposed-git"} {
		fs := byReporterRule(after, "secureops", rule)
		if len(fs) != 1 || fs[0].Status == "fixed" {
			t.Fatalf("%s after the nikto-only scan: %+v", rule, fs)
		}
		for _, r := range fs[0].Reporters {
			if r.Gone != (r.Scanner == "nikto") {
				t.Errorf("%s: reporter %s gone=%v", rule, r.Scanner, r.Gone)
			}
		}
	}

	// The native checks alone now: every reporter is gone, both are fixed.
	scanOf(`"secureops"`)
	final := p.reported(t, "")
	for _, rule := range []string{"http-missing-x-frame-options", "exposed-git"} {
		if fs := byReporterRule(final, "secureops", rule); len(fs) != 1 || fs[0].Status != "fixed" {
			t.Errorf("%s after the native scan: %+v", rule, fs)
		}
	}
}
