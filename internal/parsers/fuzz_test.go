package parsers

import (
	"errors"
	"slices"
	"testing"
)

// addSeeds seeds a fuzzer with the fixture reports of one scanner plus
// small hand-written reports that reach the branches the fixtures do not.
func addSeeds(f *testing.F, scanner string, extra ...string) {
	f.Helper()
	dir, rows := readExpected(f)
	for _, fx := range rows {
		if fx.scanner == scanner {
			f.Add(readFixture(f, dir, fx.path))
		}
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// fuzzParse asserts the contract for any input: no panic, an error is a
// *MalformedError, and a success yields valid findings, identically on a
// second run.
func fuzzParse(t *testing.T, scanner string, data []byte) {
	out, err := Parse(scanner, data)
	if err != nil {
		var me *MalformedError
		if !errors.As(err, &me) {
			t.Fatalf("error is not a *MalformedError: %#v", err)
		}
		if me.Scanner != scanner || me.Error() == "" {
			t.Fatalf("bad MalformedError %#v", me)
		}
		return
	}
	for i := range out {
		if err := checkFinding(&out[i], scanner); err != nil {
			t.Fatalf("finding %d %+v: %v", i, out[i], err)
		}
	}
	again, err := Parse(scanner, data)
	if err != nil || !slices.Equal(fingerprints(out), fingerprints(again)) {
		t.Fatalf("second parse differs: %v", err)
	}
}

func FuzzParseNmap(f *testing.F) {
	addSeeds(f, "nmap",
		``,
		`<nmaprun/>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><nmaprun><host><address addr="h" addrtype="ipv6"/><ports><port protocol="udp" portid="x"><state state="open"/></port></ports></host></nmaprun>`,
		`<nmaprun><host><hostnames><hostname name="n"/></hostnames><ports><port protocol="tcp" portid="0022"><state state="open"/><service name="ssh"/>`+
			`<script id="vulners"><table key="cpe:2.3:a:v:p:1.0:*"><table><elem key="ID">CVE-1</elem><elem key="cvss">NaN</elem></table><table><elem key="type">cve</elem></table></table></script></port></ports></host></nmaprun>`,
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, "nmap", data) })
}

func FuzzParseNikto(f *testing.F) {
	addSeeds(f, "nikto",
		``,
		`<niktoscan><scandetails><item osvdbid="1"><description>A. B</description></item></scandetails></niktoscan>`,
		`<niktoscan><niktoscan><scandetails><item><iplink>[::1]:8080</iplink></item></scandetails></niktoscan></niktoscan>`,
		`{"host":"h","port":80,"vulnerabilities":[{"msg":null,"OSVDB":0},{"msg":"x","references":["r"]},1]}`,
		`[{"host":"a","vulnerabilities":[]},{"host":"b","vulnerabilities":null}]`,
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, "nikto", data) })
}

func FuzzParseZAP(f *testing.F) {
	addSeeds(f, "zap",
		``,
		`<OWASPZAPReport><site host="h" port="99999"><alerts><alertitem><riskcode>9</riskcode><riskdesc>High (Low)</riskdesc><cweid>12</cweid><desc>&lt;li&gt;a&amp;nbsp;b</desc></alertitem></alerts></site></OWASPZAPReport>`,
		`<OWASPZAPReport><site><alerts><alertitem><alert></alert><name></name><instances><instance><uri>&amp;lt;x</uri></instance></instances></alertitem></alerts></site></OWASPZAPReport>`,
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, "zap", data) })
}

func FuzzParseTrivy(f *testing.F) {
	addSeeds(f, "trivy",
		``,
		`null`,
		`[{"Target":null,"Vulnerabilities":[{"PkgName":null,"Severity":"HIGH","CweIDs":"CWE-1","CVSS":{"x":1}}]}]`,
		`{"SchemaVersion":2.0,"Results":[{"Target":"t","Vulnerabilities":[{"PkgName":"p","SeveritySource":"nvd","CVSS":{"nvd":{"V2Score":"abc"}}}],"Secrets":[{"StartLine":3}],"Licenses":[{}]}]}`,
		`{"ClusterName":"","Vulnerabilities":[{"Results":[{"Target":"t","Misconfigurations":[{"CauseMetadata":{"Code":{"Lines":[{"Number":1,"Content":"x"}]}}}]}]}],"Resources":[{"Name":"n"}]}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, "trivy", data) })
}

func FuzzParseNuclei(f *testing.F) {
	addSeeds(f, "nuclei",
		``,
		`[]`,
		`{"template-id":"a","info":{"severity":"crit","classification":{"cve-id":"cve-1,cve-2","cwe-id":null,"cvss-score":"11"}},"matched-at":"[::1"}`,
		`{"templateID":null,"matched":null,"matcher_name":"m","info":{"name":"n","reference":null,"tags":"a,b"}}`+"\n"+`{"info":{}}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, "nuclei", data) })
}

func FuzzParseGeneric(f *testing.F) {
	addSeeds(f, "generic",
		``,
		`{}`,
		`{"findings":[{"title":"t","severity":"Info","description":"d","endpoints":["h:1",{"protocol":"https","host":"x","port":"70000"},7],"vulnerability_ids":[1,{"vulnerability_id":"CVE-1"}],"cwe":"CWE-79"}]}`,
		`{"type":"T","findings":[{"title":"t","severity":"LOW","description":null,"cvssv3_score":"x","line":"a","tool":"  "}]}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, "generic", data) })
}

func FuzzParseSecureOps(f *testing.F) {
	addSeeds(f, "secureops",
		``,
		`[]`,
		`null`,
		`[{}]`,
		`[null,{"title":"t","severity":"high","scanner":"secureops","port":443,"host":"h","cvss_score":9.8,"cves":["cve-1"],"cwes":[79]}]`,
		`[{"title":"x\n\ty","severity":"nope","port":70000,"cvss_score":-1,"url":"https://h/p?q#f","references":["", "r", "r"]}] `,
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, "secureops", data) })
}
