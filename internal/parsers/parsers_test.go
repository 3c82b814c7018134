package parsers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/secureops/secureops/internal/findings"
)

// fixturesDir is the in-module copy of the scanner reports, so a checkout
// without the shared folder fails rather than skipping.
func fixturesDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("testdata", "scans")
	if _, err := os.Stat(filepath.Join(dir, "EXPECTED.tsv")); err != nil {
		t.Fatalf("scanner fixtures missing: %v", err)
	}
	return dir
}

// The copy must not drift from the shared fixtures it was taken from.
func TestFixturesMatchShared(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "fixtures", "scans")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("shared fixtures not present: %v", err)
	}
	a, b := treeFiles(t, shared), treeFiles(t, fixturesDir(t))
	for rel, data := range a {
		if other, ok := b[rel]; !ok {
			t.Errorf("%s: in the shared fixtures, not in testdata/scans", rel)
		} else if !bytes.Equal(data, other) {
			t.Errorf("%s: testdata/scans copy differs from the shared one", rel)
		}
	}
	for rel := range b {
		if _, ok := a[rel]; !ok {
			t.Errorf("%s: in testdata/scans, not in the shared fixtures", rel)
		}
	}
}

func treeFiles(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type fixture struct {
	path    string // relative to the fixtures dir, e.g. "nmap/nmap_1port.xml"
	scanner string
	want    int
}

func readExpected(t testing.TB) (string, []fixture) {
	t.Helper()
	dir := fixturesDir(t)
	f, err := os.Open(filepath.Join(dir, "EXPECTED.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fixture
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || line == 1 && strings.HasPrefix(text, "file\t") {
			continue
		}
		cols := strings.Split(text, "\t")
		if len(cols) != 2 {
			t.Fatalf("EXPECTED.tsv line %d: %q", line, text)
		}
		n, err := strconv.Atoi(cols[1])
		if err != nil {
			t.Fatalf("EXPECTED.tsv line %d: %v", line, err)
		}
		scanner, _, _ := strings.Cut(cols[0], "/")
		out = append(out, fixture{path: cols[0], scanner: scanner, want: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("EXPECTED.tsv has no rows")
	}
	return dir, out
}

func readFixture(t testing.TB, dir, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkFinding states what every parsed finding must satisfy; the fuzz
// tests use it too.
func checkFinding(f *findings.Finding, scanner string) error {
	switch {
	case strings.TrimSpace(f.Title) == "" || f.Title != strings.TrimSpace(f.Title):
		return fmt.Errorf("title %q is empty or untrimmed", f.Title)
	case strings.ContainsAny(f.Title, "\r\n"):
		return fmt.Errorf("title %q spans lines", f.Title)
	case utf8.RuneCountInString(f.Title) > maxTitleRunes:
		return fmt.Errorf("title has %d runes", utf8.RuneCountInString(f.Title))
	case !utf8.ValidString(f.Title):
		return fmt.Errorf("title %q is not UTF-8", f.Title)
	case !f.Severity.Valid():
		return fmt.Errorf("severity %q", f.Severity)
	case f.Scanner == "":
		return errors.New("no scanner")
	case scanner != "generic" && f.Scanner != scanner:
		return fmt.Errorf("scanner %q, want %q", f.Scanner, scanner)
	case len(f.Fingerprint) != 64 || f.Fingerprint != f.ComputeFingerprint():
		return fmt.Errorf("fingerprint %q is not the computed one", f.Fingerprint)
	case f.Port < 0 || f.Port > 65535:
		return fmt.Errorf("port %d", f.Port)
	case f.CVSSScore < 0 || f.CVSSScore > 10 || f.CVSSScore != f.CVSSScore:
		return fmt.Errorf("cvss %v", f.CVSSScore)
	case len(f.Description) > maxTextBytes+32 || len(f.Evidence) > maxTextBytes+32:
		return errors.New("description or evidence over the cap")
	}
	for _, c := range f.CVEs {
		if c == "" || c != strings.ToUpper(strings.TrimSpace(c)) {
			return fmt.Errorf("cve %q not normalised", c)
		}
	}
	for _, c := range f.CWEs {
		if c <= 0 {
			return fmt.Errorf("cwe %d", c)
		}
	}
	return nil
}

func mustParse(t *testing.T, scanner string, data []byte) []findings.Finding {
	t.Helper()
	out, err := Parse(scanner, data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", scanner, err)
	}
	for i := range out {
		if err := checkFinding(&out[i], scanner); err != nil {
			t.Fatalf("finding %d (%q): %v", i, out[i].Title, err)
		}
	}
	return out
}

func TestFixtureCounts(t *testing.T) {
	dir, rows := readExpected(t)
	for _, fx := range rows {
		t.Run(fx.path, func(t *testing.T) {
			out := mustParse(t, fx.scanner, readFixture(t, dir, fx.path))
			if len(out) != fx.want {
				t.Errorf("%d findings, DefectDojo finds %d", len(out), fx.want)
			}
		})
	}
}

func TestDetectFixtures(t *testing.T) {
	dir, rows := readExpected(t)
	for _, fx := range rows {
		t.Run(fx.path, func(t *testing.T) {
			data := readFixture(t, dir, fx.path)
			want := fx.scanner
			if len(bytes.TrimSpace(data)) == 0 {
				// An empty nuclei run writes an empty file: nothing to
				// recognise, and Parse("nuclei") still accepts it.
				want = ""
			}
			if got := Detect(data); got != want {
				t.Errorf("Detect = %q, want %q", got, want)
			}
		})
	}
}

func TestDetectSmall(t *testing.T) {
	cases := map[string]string{
		`{"findings":[]}`:                         "generic",
		`{"SchemaVersion":2,"Results":[]}`:        "trivy",
		`{"ClusterName":"c","Resources":[]}`:      "trivy",
		`[{"Target":"img","Vulnerabilities":[]}]`: "trivy",
		"null\n":                                    "trivy",
		`{"template-id":"x","info":{}}` + "\n":      "nuclei",
		`[{"templateID":"x","info":{}}]`:            "nuclei",
		`{"host":"h","vulnerabilities":[]}`:         "nikto",
		`[{"host":"h","vulnerabilities":[]}]`:       "nikto",
		"\ufeff<?xml version=\"1.0\"?>\n<nmaprun/>": "nmap",
		`<!DOCTYPE niktoscan><niktoscan/>`:          "nikto",
		`<OWASPZAPReport></OWASPZAPReport>`:         "zap",
		`<html/>`:                                   "",
		`{}`:                                        "",
		`[]`:                                        "",
		``:                                          "",
		`hello`:                                     "",
		`{"broken":`:                                "",
		`[{"fingerprint":"","title":"t","severity":"low","scanner":"secureops"}]`: "secureops",
	}
	for in, want := range cases {
		if got := Detect([]byte(in)); got != want {
			t.Errorf("Detect(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFixtureFields(t *testing.T) {
	dir := fixturesDir(t)
	type want struct {
		file      string
		index     int
		title     string
		severity  findings.Severity
		host      string
		port      int
		protocol  string
		url       string
		cves      []string
		cwes      []int
		component string
		version   string
		rule      string
		inDesc    string
		inEvid    string
	}
	cases := []want{
		// nmap: vulners entries come before the port's own finding, as in
		// DefectDojo.
		{file: "nmap/nmap_script_vulners.xml", index: 0, title: "CVE-2018-15919: OpenSSH 7.4", severity: findings.SeverityMedium,
			host: "192.168.0.1", port: 5022, protocol: "tcp", cves: []string{"CVE-2018-15919"}, component: "OpenSSH", version: "7.4",
			rule: "CVE-2018-15919", inDesc: "cpe:/a:openbsd:openssh:7.4"},
		{file: "nmap/nmap_script_vulners.xml", index: 2, title: "Open port 5022/tcp: ssh", severity: findings.SeverityInfo,
			host: "192.168.0.1", port: 5022, protocol: "tcp", component: "OpenSSH", version: "7.4", rule: "open-port",
			inDesc: "Extra info: protocol 2.0", inEvid: "CVE-2017-15906"},
		{file: "nmap/nmap_multiple_port.xml", index: 0, title: "Open port 21/tcp: ftp", severity: findings.SeverityInfo,
			host: "198.38.82.159", port: 21, protocol: "tcp", component: "ftp", rule: "open-port", inDesc: "joaquinlp.me"},
		// nikto XML: title is the first sentence of the description.
		{file: "nikto/nikto-report-many-vuln.xml", index: 9, title: "Finding 4.4", severity: findings.SeverityMedium,
			host: "192.168.0.49", port: 443, url: "https://192.168.0.49:443/system/", inDesc: "OSVDB: 3092"},
		{file: "nikto/nikto-report-one-vuln.xml", index: 0, title: "CDATA[Finding 1.1", severity: findings.SeverityInfo,
			host: "192.168.0.24", port: 443, url: "https://192.168.0.24:443/"},
		// nikto JSON: one message for many URLs is one finding.
		{file: "nikto/juice-shop.json", index: 0, title: "Retrieved via header: 1.1 vegur", severity: findings.SeverityInfo,
			host: "juice-shop.herokuapp.com", port: 443, protocol: "tcp", inDesc: "Nikto test: 999986"},
		{file: "nikto/juice-shop.json", index: 8, title: "Potentially interesting backup/cert file found.", severity: findings.SeverityInfo,
			host: "juice-shop.herokuapp.com", port: 443, inDesc: "- HEAD juice-shop.herokuapp.com/dump.cer"},
		{file: "nikto/juice-shop.json", index: 9, title: "This might be interesting.", severity: findings.SeverityMedium,
			host: "juice-shop.herokuapp.com", port: 443, inDesc: "OSVDB: 3092"},
		// zap
		{file: "zap/0_zap_sample.xml", index: 0, title: "zap1: Cookie Without Secure Flag", severity: findings.SeverityLow,
			host: "mainsite.com", port: 443, url: "https://mainsite.com/dashboard", cwes: []int{614}, rule: "10011",
			inDesc: "WASC-13", inEvid: "Set-Cookie: opvc"},
		{file: "zap/some_2.9.0.xml", index: 0, title: "Cookie Without Secure Flag", severity: findings.SeverityLow,
			host: "mainsite.com", port: 443, url: "https://mainsite.com", cwes: []int{614}, rule: "10011",
			inDesc: "A cookie has been set without the secure flag"},
		// trivy
		{file: "trivy/misconfigurations_and_secrets.json", index: 0, title: "CVE-2021-33503 urllib3 1.26.3", severity: findings.SeverityHigh,
			cves: []string{"CVE-2021-33503"}, cwes: []int{400}, component: "urllib3", version: "1.26.3", rule: "CVE-2021-33503",
			inDesc: "Target: requirements.txt"},
		{file: "trivy/misconfigurations_and_secrets.json", index: 2, title: "DS002 - Image user should not be 'root'",
			severity: findings.SeverityHigh, component: "Dockerfile", rule: "DS002"},
		{file: "trivy/misconfigurations_and_secrets.json", index: 3, title: "Secret detected in Dockerfile - GitHub Personal Access Token",
			severity: findings.SeverityCritical, component: "Dockerfile", rule: "github-pat", inEvid: "Dockerfile:24"},
		{file: "trivy/kubernetes.json", index: 10, title: "KSV001 - Process can elevate its own privileges", severity: findings.SeverityMedium,
			component: "default / Deployment / redis-follower", rule: "KSV001"},
		{file: "trivy/kubernetes.json", index: 0, title: "CVE-2020-27350 apt 1.8.2.1", severity: findings.SeverityMedium,
			cves: []string{"CVE-2020-27350"}, component: "apt", version: "1.8.2.1", inDesc: "Service: default / Deployment / redis-follower"},
		// nuclei: v2 field names, then v3.
		{file: "nuclei/many_findings.json", index: 0, title: "OpenSSH 5.3 Detection", severity: findings.SeverityLow,
			host: "nuclei-example.com", port: 22, rule: "openssh5.3-detect"},
		{file: "nuclei/many_findings.json", index: 3, title: "Wappalyzer Technology Detection", severity: findings.SeverityInfo,
			host: "127.0.0.1", port: 8080, url: "http://127.0.0.1:8080/WebGoat", component: "animate.css", rule: "tech-detect:animate.css"},
		{file: "nuclei/multiple_v3.json", index: 0, title: "DNS SaaS Service Detection", severity: findings.SeverityInfo,
			host: "www.asdf.de", component: "wix", rule: "dns-saas-service-detection:wix", inDesc: "pointing.wixdns.net"},
		{file: "nuclei/multiple_v3.json", index: 4, title: "TLS Version - Detect", severity: findings.SeverityInfo,
			host: "www.asdf.de", port: 443, rule: "tls-version"},
	}
	cache := map[string][]findings.Finding{}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s#%d", c.file, c.index), func(t *testing.T) {
			out, ok := cache[c.file]
			if !ok {
				scanner, _, _ := strings.Cut(c.file, "/")
				out = mustParse(t, scanner, readFixture(t, dir, c.file))
				cache[c.file] = out
			}
			if c.index >= len(out) {
				t.Fatalf("only %d findings", len(out))
			}
			f := out[c.index]
			check := func(name string, got, want any) {
				t.Helper()
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			check("title", f.Title, c.title)
			check("severity", f.Severity, c.severity)
			check("host", f.Host, c.host)
			check("port", f.Port, c.port)
			check("url", f.URL, c.url)
			check("cves", f.CVEs, c.cves)
			check("component", f.Component, c.component)
			check("version", f.ComponentVersion, c.version)
			if c.protocol != "" {
				check("protocol", f.Protocol, c.protocol)
			}
			if c.cwes != nil {
				check("cwes", f.CWEs, c.cwes)
			}
			if c.rule != "" {
				check("rule", f.RuleID, c.rule)
			}
			if !strings.Contains(f.Description, c.inDesc) {
				t.Errorf("description lacks %q:\n%s", c.inDesc, f.Description)
			}
			if !strings.Contains(f.Evidence, c.inEvid) {
				t.Errorf("evidence lacks %q:\n%s", c.inEvid, f.Evidence)
			}
		})
	}
}

func TestFingerprintsStable(t *testing.T) {
	dir, rows := readExpected(t)
	for _, fx := range rows {
		data := readFixture(t, dir, fx.path)
		a, errA := Parse(fx.scanner, data)
		b, errB := Parse(fx.scanner, bytes.Clone(data))
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v / %v", fx.path, errA, errB)
		}
		fa, fb := fingerprints(a), fingerprints(b)
		if !slices.Equal(fa, fb) {
			t.Errorf("%s: fingerprints differ between two parses", fx.path)
		}
	}
}

func fingerprints(fs []findings.Finding) []string {
	out := make([]string, len(fs))
	for i := range fs {
		out[i] = fs[i].Fingerprint
	}
	return out
}

// The same CVE in the same package reported by Trivy and imported through
// the generic format is one issue, so both must fingerprint alike.
func TestFingerprintCVEAcrossScanners(t *testing.T) {
	trivy := []byte(`{"SchemaVersion":2,"ArtifactName":"app","Results":[{"Target":"requirements.txt","Class":"lang-pkgs","Type":"pip",
		"Vulnerabilities":[{"VulnerabilityID":"CVE-2021-33503","PkgName":"urllib3","InstalledVersion":"1.26.3","Severity":"HIGH"}]}]}`)
	generic := []byte(`{"name":"inventory","findings":[{"title":"urllib3 ReDoS","severity":"High","description":"d",
		"cve":"cve-2021-33503","component_name":"urllib3","component_version":"1.26.3","file_path":"requirements.txt"},
		{"title":"other package","severity":"High","description":"d","cve":"CVE-2021-33503","component_name":"requests"}]}`)
	tf := mustParse(t, "trivy", trivy)
	gf := mustParse(t, "generic", generic)
	if len(tf) != 1 || len(gf) != 2 {
		t.Fatalf("got %d trivy and %d generic findings", len(tf), len(gf))
	}
	if gf[0].Scanner != "inventory" {
		t.Errorf("generic scanner = %q, want the report's tool name", gf[0].Scanner)
	}
	if tf[0].Fingerprint != gf[0].Fingerprint {
		t.Errorf("same CVE and component: trivy %s != generic %s", tf[0].Fingerprint, gf[0].Fingerprint)
	}
	if tf[0].Fingerprint == gf[1].Fingerprint {
		t.Error("a different component shares the fingerprint")
	}
	// The same CVE in the same package of another artifact is another issue.
	other := tf[0]
	other.Fingerprint, other.Target = "", "other-image:1.0"
	if other.ComputeFingerprint() == tf[0].Fingerprint {
		t.Error("the same CVE in another artifact shares the fingerprint")
	}
}

func TestUnknownScanner(t *testing.T) {
	for _, s := range []string{"", "nessus", "nmapx"} {
		_, err := Parse(s, []byte("<nmaprun/>"))
		if !errors.Is(err, ErrUnknownScanner) {
			t.Errorf("Parse(%q): %v, want ErrUnknownScanner", s, err)
		}
		var me *MalformedError
		if errors.As(err, &me) {
			t.Errorf("Parse(%q): unknown scanner reported as malformed", s)
		}
	}
	if _, err := Parse(" NMAP ", []byte("<nmaprun></nmaprun>")); err != nil {
		t.Errorf("scanner names are case-insensitive: %v", err)
	}
	if len(Scanners) != 7 {
		t.Errorf("Scanners = %v", Scanners)
	}
}

func TestMalformed(t *testing.T) {
	cases := []struct{ scanner, in string }{
		{"nmap", ""},
		{"nmap", "   \n"},
		{"nmap", "not xml"},
		{"nmap", `<nmaprun><host><ports><port protocol="tcp" portid="22"><state state="open"/>`},
		{"nmap", `<niktoscan></niktoscan>`},
		{"nmap", `<nmaprun></nmaprun><nmaprun></nmaprun>`},
		{"nmap", `<?xml version="1.0" encoding="EBCDIC"?><nmaprun/>`},
		{"nmap", `{"nmaprun":{}}`},
		{"nikto", ""},
		{"nikto", `<niktoscan><scandetails><item>`},
		{"nikto", `<nmaprun/>`},
		{"nikto", `{"host":"h","vulnerabilities":[{"msg":"x"}`},
		{"nikto", `"just a string"`},
		{"nikto", `[1]`},
		{"nikto", `{"vulnerabilities":{"a":1}}`},
		{"zap", ""},
		{"zap", `<OWASPZAPReport><site><alerts><alertitem><alert>x</alert>`},
		{"zap", `<report/>`},
		{"zap", `<OWASPZAPReport>&unknown;</OWASPZAPReport>`},
		{"trivy", ""},
		{"trivy", `{"SchemaVersion":2,"Results":[{"Target":"x",`},
		{"trivy", `"string"`},
		{"trivy", `42`},
		{"trivy", `{}`},
		{"trivy", `{"SchemaVersion":2,"Results":{"Target":"x"}}`},
		{"trivy", `nul`},
		{"nuclei", `[{"template-id":"x","info":{"name":"n","severity":"low"}}`},
		{"nuclei", `{"template-id":"x","info":{"name":"n"}}` + "\n" + `{"template-id":`},
		{"nuclei", `"string"`},
		{"nuclei", `[1,2]`},
		{"nuclei", `{"template-id":"x"}`},
		{"nuclei", `garbage`},
		{"generic", ""},
		{"generic", `{"findings":[`},
		{"generic", `[]`},
		{"generic", `{"findings":{}}`},
		{"generic", `{"findings":[{"title":"t","severity":"High"}]}`},
		{"generic", `{"findings":[{"title":"t","severity":"Urgent","description":"d"}]}`},
		{"generic", `{"findings":[{"title":"","severity":"Low","description":"d"}]}`},
		{"generic", `{"findings":["x"]}`},
		{"secureops", ""},
		{"secureops", "null"},
		{"secureops", `{"title":"t"}`},
		{"secureops", `[{"title":"t"}`},
		{"secureops", `[{"title":"t"}] [`},
		{"secureops", `[1]`},
		{"secureops", `[{"port":"443"}]`},
	}
	for _, c := range cases {
		_, err := Parse(c.scanner, []byte(c.in))
		var me *MalformedError
		if !errors.As(err, &me) {
			t.Errorf("Parse(%s, %q) = %v, want *MalformedError", c.scanner, c.in, err)
			continue
		}
		if me.Scanner != c.scanner || me.Error() == "" || me.Reason == "" {
			t.Errorf("Parse(%s, %q): unhelpful error %+v", c.scanner, c.in, me)
		}
	}
}

// Every fixture cut short must fail as a whole: a truncated upload must
// not be imported as if it were the complete report.
func TestTruncatedFixtures(t *testing.T) {
	dir, rows := readExpected(t)
	for _, fx := range rows {
		data := readFixture(t, dir, fx.path)
		if len(bytes.TrimSpace(data)) < 16 {
			continue
		}
		for _, frac := range []int{2, 3} {
			cut := data[:len(data)*(frac-1)/frac]
			// Never end on a record boundary: a JSON Lines report cut
			// right after a line is a shorter but valid report.
			for len(cut) > 0 && bytes.IndexByte([]byte("}]> \t\r\n"), cut[len(cut)-1]) >= 0 {
				cut = cut[:len(cut)-1]
			}
			_, err := Parse(fx.scanner, cut)
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Errorf("%s cut to %d bytes: %v, want *MalformedError", fx.path, len(cut), err)
			}
		}
	}
}

func TestMalformedErrorUnwrap(t *testing.T) {
	_, err := Parse("trivy", []byte(`{"SchemaVersion":`))
	var me *MalformedError
	if !errors.As(err, &me) || me.Err == nil || errors.Unwrap(err) != me.Err {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "trivy") || !strings.Contains(err.Error(), "invalid JSON") {
		t.Errorf("message %q", err)
	}
}

func TestEmptyButValid(t *testing.T) {
	cases := []struct{ scanner, in string }{
		{"nmap", `<?xml version="1.0"?><nmaprun scanner="nmap"><runstats/></nmaprun>`},
		{"nikto", `<niktoscan></niktoscan>`},
		{"nikto", `{"host":"h","port":"80","vulnerabilities":[]}`},
		{"nikto", `[]`},
		{"zap", `<OWASPZAPReport version="2.9.0"></OWASPZAPReport>`},
		{"trivy", `null`},
		{"trivy", `[]`},
		{"trivy", `{"SchemaVersion":2,"Results":null}`},
		{"trivy", `{"ClusterName":"prod"}`},
		{"nuclei", ``},
		{"nuclei", "\n\n"},
		{"nuclei", `[]`},
		{"generic", `{}`},
		{"generic", `{"findings":[]}`},
		{"secureops", `[]`},
		{"secureops", " [ ]\n"},
	}
	for _, c := range cases {
		out, err := Parse(c.scanner, []byte(c.in))
		if err != nil || len(out) != 0 {
			t.Errorf("Parse(%s, %q) = %d findings, %v; want none, no error", c.scanner, c.in, len(out), err)
		}
	}
}

// The tests below pin DefectDojo semantics that the fixtures do not
// exercise, so unseen reports keep agreeing on counts.

func TestNmapSemantics(t *testing.T) {
	in := `<?xml version="1.0"?>
<nmaprun start="1">
<host><address addr="10.0.0.1" addrtype="ipv4"/><hostnames><hostname name="a.example" type="PTR"/></hostnames>
<ports>
<port protocol="tcp" portid="80"><state state="open"/><service name="http" product="nginx" version="1.18.0"/></port>
<port protocol="tcp" portid="81"><state state="filtered"/></port>
<port protocol="udp" portid="53"><state state="open|filtered"/></port>
<port protocol="tcp" portid="22"><state state="open"/><service name="ssh" product="OpenSSH" version="8.2p1"/>
<script id="vulners" output="..."><table key="cpe:/a:openbsd:openssh:8.2p1">
<table><elem key="id">CVE-2020-15778</elem><elem key="cvss">6.8</elem><elem key="type">cve</elem></table>
<table><elem key="id">EDB-ID:12345</elem><elem key="cvss">9.8</elem><elem key="type">exploitdb</elem><elem key="is_exploit">true</elem></table>
</table></script></port>
</ports></host>
<host><address addr="fe80::1" addrtype="ipv6"/>
<ports><port protocol="tcp" portid="80"><state state="open"/><service name="http"/></port>
<port protocol="tcp" portid="22"><state state="open"/>
<script id="vulners"><table key="cpe:/a:openbsd:openssh:8.2p1">
<table><elem key="id">CVE-2020-15778</elem><elem key="cvss">6.8</elem><elem key="type">cve</elem></table>
</table></script></port></ports></host>
</nmaprun>`
	out := mustParse(t, "nmap", []byte(in))
	var titles []string
	for _, f := range out {
		titles = append(titles, f.Title)
	}
	// Port 80 open on two hosts is one finding (DefectDojo keys on the
	// port number); CVE-2020-15778 on two hosts is one finding.
	want := []string{"Open port 80/tcp: http", "CVE-2020-15778: OpenSSH 8.2p1", "EDB-ID:12345: OpenSSH 8.2p1", "Open port 22/tcp: ssh"}
	if !slices.Equal(titles, want) {
		t.Fatalf("titles = %q, want %q", titles, want)
	}
	if out[0].Host != "10.0.0.1" || !strings.Contains(out[0].Description, "a.example") || !strings.Contains(out[0].Description, "- fe80::1:80/tcp") {
		t.Errorf("merged port finding: host %q, description %q", out[0].Host, out[0].Description)
	}
	if out[1].Severity != findings.SeverityMedium || !slices.Equal(out[1].CVEs, []string{"CVE-2020-15778"}) || out[1].CVSSScore != 6.8 {
		t.Errorf("vulners CVE: %+v", out[1])
	}
	if out[2].Severity != findings.SeverityCritical || out[2].CVEs != nil {
		t.Errorf("vulners exploit entry: %+v", out[2])
	}
}

func TestNiktoSemantics(t *testing.T) {
	// Old layout: DefectDojo reads only the first <scandetails>.
	old := `<niktoscan><scandetails targetip="1.2.3.4" targetport="80">
<item id="1" osvdbid="0" method="GET"><description>Server leaks inodes via ETags. See e.g. the docs.</description><uri>/</uri><iplink>http://1.2.3.4:80/</iplink></item>
<item id="1" osvdbid="0" method="GET"><description>Server leaks inodes via ETags. See e.g. the docs.</description><uri>/</uri><iplink>http://1.2.3.4:80/</iplink></item>
<item id="2" osvdbid="0" method="GET"><description>Server leaks inodes via ETags. See e.g. the docs.</description><uri>/x</uri><iplink>http://1.2.3.4:80/x</iplink></item>
<item id="3" osvdbid="877" method="TRACE"><description>HTTP TRACE method is active, suggesting the host is vulnerable to XST.</description><iplink>http://1.2.3.4:80/</iplink></item>
</scandetails><scandetails><item><description>ignored</description></item></scandetails></niktoscan>`
	out := mustParse(t, "nikto", []byte(old))
	if len(out) != 3 {
		t.Fatalf("%d findings, want 3", len(out))
	}
	if out[0].Title != "Server leaks inodes via ETags." || out[2].Severity != findings.SeverityMedium || out[2].Title != "HTTP TRACE method is active, suggesting the host is vulnerable to XST." {
		t.Errorf("titles/severity: %q %q %s", out[0].Title, out[2].Title, out[2].Severity)
	}
	if got := firstSentence("Mr. Smith uses e.g. this. Then more."); got != "Mr. Smith uses e.g. this." {
		t.Errorf("firstSentence = %q", got)
	}

	// JSON: de-duplicated on severity + message across URLs.
	js := `[{"host":"h.example","ip":"1.2.3.4","port":"8080","vulnerabilities":[
{"id":"1","OSVDB":"0","method":"GET","url":"/a","msg":"Header missing"},
{"id":"1","OSVDB":"0","method":"GET","url":"/b","msg":"Header missing"},
{"id":"2","OSVDB":"3233","method":"GET","url":"/icons/","msg":"Header missing"},
{"id":"3","method":"GET","url":"/c","msg":"Other"}]}]`
	out = mustParse(t, "nikto", []byte(js))
	if len(out) != 3 {
		t.Fatalf("%d findings, want 3", len(out))
	}
	if out[0].Host != "h.example" || out[0].Port != 8080 || !strings.Contains(out[0].Description, "- GET h.example/b") {
		t.Errorf("merged finding %+v", out[0])
	}
	if out[1].Severity != findings.SeverityMedium || !slices.Contains(out[1].References, "OSVDB-3233") {
		t.Errorf("OSVDB finding %+v", out[1])
	}
}

func TestZAPSemantics(t *testing.T) {
	in := `<OWASPZAPReport version="2.11.1">
<site name="http://a.example" host="a.example" port="8080" ssl="false"><alerts>
<alertitem><pluginid>1</pluginid><alert>A</alert><riskcode>3</riskcode><cweid>-1</cweid><wascid>0</wascid>
<desc>&lt;p&gt;x &amp;amp; y&lt;/p&gt;</desc><instances><instance><uri>http://a.example:8080/p?q=1&amp;r=2</uri><method>POST</method></instance></instances></alertitem>
<alertitem><pluginid>2</pluginid><alert>A</alert><riskcode>0</riskcode></alertitem>
</alerts></site>
<site name="https://b.example" host="b.example" port="443"><alerts>
<alertitem><pluginid>1</pluginid><alert>A</alert><riskcode>2</riskcode><uri>https://b.example/old</uri></alertitem>
</alerts></site></OWASPZAPReport>`
	out := mustParse(t, "zap", []byte(in))
	if len(out) != 3 {
		t.Fatalf("%d findings, want 3 (one per alertitem, no de-duplication)", len(out))
	}
	if out[0].Severity != findings.SeverityHigh || out[0].URL != "http://a.example:8080/p?q=1&r=2" || out[0].Port != 8080 || out[0].CWEs != nil {
		t.Errorf("first alert %+v", out[0])
	}
	if out[0].Description == "" || strings.Contains(out[0].Description, "<p>") {
		t.Errorf("description not converted from HTML: %q", out[0].Description)
	}
	if out[1].Severity != findings.SeverityInfo || out[1].Host != "a.example" || out[1].URL != "" {
		t.Errorf("instance-less alert %+v", out[1])
	}
	if out[2].URL != "https://b.example/old" || out[2].Severity != findings.SeverityMedium {
		t.Errorf("pre-2.5 alert %+v", out[2])
	}
}

func TestTrivySemantics(t *testing.T) {
	in := `{"ClusterName":"prod","Resources":[{"Namespace":"ns","Kind":"Pod","Name":"web","Results":[
{"Target":"nginx:1.21 (debian 11)","Class":"os-pkgs","Type":"debian","Vulnerabilities":[
 {"VulnerabilityID":"CVE-2022-1","PkgName":"libc6","InstalledVersion":"2.31","Severity":"NEGLIGIBLE"},
 {"VulnerabilityID":"CVE-2022-2","InstalledVersion":"1","Severity":"HIGH"},
 {"VulnerabilityID":"CVE-2022-3","PkgName":"zlib","InstalledVersion":"1.2","Severity":"LOW","SeveritySource":"nvd",
  "CVSS":{"nvd":{"V3Score":9.8,"V3Vector":"CVSS:3.1/AV:N"}},"CweIDs":["NVD-CWE-Other","CWE-787"]},
 {"VulnerabilityID":"GHSA-xxxx","PkgName":"lodash","InstalledVersion":"4.17.20","Severity":"MEDIUM"},
 "not an object"],
 "Misconfigurations":null,"Secrets":[],"Licenses":[{"Severity":"HIGH","Name":"GPL-3.0","PkgName":"bash"}]},
{"Class":"config","Misconfigurations":[{"ID":"KSV001","Severity":"MEDIUM"}]}]}]}`
	out := mustParse(t, "trivy", []byte(in))
	var titles []string
	for _, f := range out {
		titles = append(titles, f.Title)
	}
	// An unknown Trivy severity and a missing PkgName are skipped, as in
	// DefectDojo; a result without Target is ignored.
	want := []string{"CVE-2022-3 zlib 1.2", "GHSA-xxxx lodash 4.17.20", "License detected in nginx:1.21 (debian 11) - GPL-3.0"}
	if !slices.Equal(titles, want) {
		t.Fatalf("titles = %q, want %q", titles, want)
	}
	if out[0].Severity != findings.SeverityCritical || out[0].CVSSScore != 9.8 || !slices.Equal(out[0].CWEs, []int{787}) {
		t.Errorf("severity from the SeveritySource CVSS: %+v", out[0])
	}
	if out[1].CVEs != nil || out[1].RuleID != "GHSA-xxxx" {
		t.Errorf("non-CVE id: %+v", out[1])
	}
	if !strings.Contains(out[0].Description, "ns / Pod / web") {
		t.Errorf("service missing: %q", out[0].Description)
	}
	legacy := `[{"Target":"alpine:3.10","Vulnerabilities":[{"VulnerabilityID":"CVE-2019-1","PkgName":"musl","InstalledVersion":"1.1","Severity":"UNKNOWN"}]},{"NoTarget":true}]`
	out = mustParse(t, "trivy", []byte(legacy))
	if len(out) != 1 || out[0].Severity != findings.SeverityInfo {
		t.Errorf("legacy: %+v", out)
	}
}

func TestNucleiSemantics(t *testing.T) {
	in := `{"template-id":"x","type":"http","host":"https://a.example","matched-at":"https://a.example/one","info":{"name":"X","severity":"HIGH","classification":{"cve-id":["cve-2021-1"],"cwe-id":["cwe-22"],"cvss-score":7.5,"cvss-metrics":"CVSS:3.1/AV:N"},"reference":"https://r1\nhttps://r2"}}
{"template-id":"x","type":"http","host":"https://a.example","matched-at":"https://a.example:8443/two","info":{"name":"X","severity":"high"}}
{"template-id":"x","type":"http","host":"https://b.example","matched-at":"https://b.example/one","info":{"name":"X","severity":"high"}}
{"template-id":"x","type":"http","matcher-name":"m","matched-at":"https://a.example/one","info":{"name":"X","severity":"unknown"}}

{"templateID":"y","type":"network","matched":"a.example:22","info":{"name":"","severity":"info","reference":["https://r3"]}}
`
	out := mustParse(t, "nuclei", []byte(in))
	if len(out) != 4 {
		t.Fatalf("%d findings, want 4", len(out))
	}
	f := out[0]
	if f.Severity != findings.SeverityHigh || !slices.Equal(f.CVEs, []string{"CVE-2021-1"}) || !slices.Equal(f.CWEs, []int{22}) ||
		f.CVSSScore != 7.5 || !slices.Equal(f.References, []string{"https://r1", "https://r2"}) || !strings.Contains(f.Description, "- https://a.example:8443/two") {
		t.Errorf("first: %+v", f)
	}
	if out[2].Severity != findings.SeverityLow || out[2].RuleID != "x:m" {
		t.Errorf("unknown severity is Low in DefectDojo: %+v", out[2])
	}
	if out[3].Title != "y" || out[3].Host != "a.example" || out[3].Port != 22 {
		t.Errorf("network result: %+v", out[3])
	}
	arr := `[{"template-id":"x","type":"http","matched-at":"https://a.example/","info":{"name":"X","severity":"low"}},
	{"template-id":"x","type":"http","matched-at":"https://a.example/z","info":{"name":"X","severity":"low"}}]`
	if out := mustParse(t, "nuclei", []byte(arr)); len(out) != 1 {
		t.Errorf("array form: %d findings, want 1", len(out))
	}
}

func TestGenericSemantics(t *testing.T) {
	in := `{"name":"","type":"Custom Scanner","findings":[
{"title":"SQLi","severity":"CRITICAL","description":"d","cwe":89,"cvssv3":"CVSS:3.1/AV:N","cvssv3_score":9.1,
 "endpoints":[{"protocol":"https","host":"app.example","port":8443,"path":"login"},"db.example:5432"],
 "references":"https://a\nhttps://b","mitigation":"Use prepared statements.","vuln_id_from_tool":"SQL-001",
 "file_path":"src/db.go","line":42,"vulnerability_ids":[{"vulnerability_id":"CVE-2024-1"},"GHSA-aaaa"]},
{"title":"Open admin","severity":"info","description":"","endpoints":["https://admin.example/"],"tool":"manual"}]}`
	out := mustParse(t, "generic", []byte(in))
	if len(out) != 2 {
		t.Fatalf("%d findings", len(out))
	}
	f := out[0]
	if f.Scanner != "Custom Scanner" || f.Severity != findings.SeverityCritical || f.URL != "https://app.example:8443/login" ||
		f.Port != 8443 || !slices.Equal(f.CWEs, []int{89}) || f.CVSSScore != 9.1 || !slices.Equal(f.CVEs, []string{"CVE-2024-1"}) ||
		f.RuleID != "SQL-001" || !slices.Equal(f.References, []string{"https://a", "https://b"}) || !strings.Contains(f.Evidence, "src/db.go:42") ||
		!strings.Contains(f.Description, "db.example:5432") || !strings.Contains(f.Description, "GHSA-aaaa") {
		t.Errorf("first: %+v", f)
	}
	if out[1].Scanner != "manual" || out[1].Host != "admin.example" || out[1].Port != 443 {
		t.Errorf("second: %+v", out[1])
	}
	out = mustParse(t, "generic", []byte(`{"findings":[{"title":"t","severity":"Low","description":"d"}]}`))
	if out[0].Scanner != "generic" {
		t.Errorf("default scanner %q", out[0].Scanner)
	}
}

func TestXMLEncodings(t *testing.T) {
	in := []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><niktoscan><scandetails><item method=\"GET\"><description>Caf\xe9 found.</description><iplink>http://h/</iplink></item></scandetails></niktoscan>")
	out := mustParse(t, "nikto", in)
	if len(out) != 1 || out[0].Title != "Café found." {
		t.Fatalf("%+v", out)
	}
}

// Hostile nesting must be an error, not a stack overflow or a hang.
func TestDeepNesting(t *testing.T) {
	const depth = 200000
	xmlDoc := `<nmaprun><host><ports><port portid="1" protocol="tcp"><state state="open"/><script id="vulners">` +
		strings.Repeat("<table>", depth) + strings.Repeat("</table>", depth) + `</script></port></ports></host></nmaprun>`
	if _, err := Parse("nmap", []byte(xmlDoc)); err == nil {
		t.Error("nmap: deep nesting accepted")
	}
	jsonDoc := `{"findings":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	for _, s := range []string{"generic", "trivy", "nuclei", "nikto"} {
		if _, err := Parse(s, []byte(jsonDoc)); err == nil {
			t.Errorf("%s: deep nesting accepted", s)
		}
	}
}

// The native scanner's report is its findings as json.Marshal writes them;
// reading one back gives the same findings, and what a report claims about
// identity (scanner, fingerprint) is recomputed rather than believed.
func TestSecureOpsRoundTrip(t *testing.T) {
	in := []findings.Finding{
		{Title: "Certificate expires in 12 days", Severity: findings.SeverityMedium, Host: "app.example.com", Port: 443,
			Protocol: "tcp", Scanner: "secureops", RuleID: "tls-cert-expiring", CWEs: []int{298}, Evidence: "notAfter=2026-12-05"},
		{Title: "Missing Content-Security-Policy", Severity: findings.SeverityLow, URL: "https://app.example.com/",
			Scanner: "secureops", RuleID: "http-missing-csp", References: []string{"https://developer.mozilla.org/en-US/docs/Web/HTTP/CSP"}},
	}
	for i := range in {
		in[i].Normalize()
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := Detect(data); got != "secureops" {
		t.Errorf("Detect = %q", got)
	}
	out := mustParse(t, "secureops", data)
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip changed the findings:\n got %+v\nwant %+v", out, in)
	}

	forged := `[{"fingerprint":"x","title":"  a\nb ","severity":"URGENT","scanner":"nmap","rule_id":"r","cvss_score":42,"cves":["cve-2024-1"],"cwes":[-1,79]}]`
	f := mustParse(t, "secureops", []byte(forged))[0]
	if f.Scanner != "secureops" || f.Fingerprint == "x" || f.Title != "a b" || f.Severity != findings.SeverityCritical ||
		f.CVSSScore != 0 || !slices.Equal(f.CVEs, []string{"CVE-2024-1"}) || !slices.Equal(f.CWEs, []int{79}) {
		t.Errorf("forged finding not normalised: %+v", f)
	}
}
