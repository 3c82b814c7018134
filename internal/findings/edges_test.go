package findings

import "testing"

// FIRST's CVSS v3 bands, at and around each edge.
func TestSeverityFromCVSSBandEdges(t *testing.T) {
	for score, want := range map[float64]Severity{
		0: SeverityInfo, 0.1: SeverityLow, 3.9: SeverityLow,
		4.0: SeverityMedium, 6.9: SeverityMedium,
		7.0: SeverityHigh, 8.9: SeverityHigh,
		9.0: SeverityCritical, 10.0: SeverityCritical,
	} {
		if got := SeverityFromCVSS(score); got != want {
			t.Errorf("SeverityFromCVSS(%v) = %s, want %s", score, got, want)
		}
	}
}

// The host is part of where a finding is: the same rule on two hosts (or
// two ports) is two findings, and case does not make a third.
func TestFingerprintTellsHostsApart(t *testing.T) {
	base := Finding{Title: "Open port 22/tcp", Scanner: "nmap", RuleID: "open-port", Host: "a.example.com", Port: 22, Protocol: "tcp"}
	other := base
	other.Host = "b.example.com"
	port := base
	port.Port = 2222
	upper := base
	upper.Host = "A.EXAMPLE.COM"
	fp := base.ComputeFingerprint()
	if fp == other.ComputeFingerprint() {
		t.Error("two hosts share a fingerprint")
	}
	if fp == port.ComputeFingerprint() {
		t.Error("two ports share a fingerprint")
	}
	if fp != upper.ComputeFingerprint() {
		t.Error("the host's case changes the fingerprint")
	}
	cve := Finding{Title: "x", Scanner: "trivy", CVEs: []string{"CVE-2024-1"}, Component: "openssl", Host: "a.example.com", Port: 443}
	cveOther := cve
	cveOther.Host = "b.example.com"
	if cve.ComputeFingerprint() == cveOther.ComputeFingerprint() {
		t.Error("the same CVE on two hosts shares a fingerprint")
	}
}
