package config

import (
	"net/netip"
	"strings"
	"testing"
)

// The scan policy follows the mode: production refuses loopback and private
// addresses unless SCAN_ALLOWED_CIDRS lists them; dev and test allow
// loopback only.
func TestScanPolicyFollowsMode(t *testing.T) {
	for _, k := range []string{"SECUREOPS_ENV", "SCAN_ALLOWED_CIDRS", "SCAN_CONCURRENCY", "API_RATE_LIMIT", "EMAIL_PROVIDER"} {
		t.Setenv(k, "")
	}
	check := func(c Config, addr string) bool {
		return c.ScanPolicy().Check(netip.MustParseAddr(addr)) == nil
	}
	prod, err := FromEnv(ModeProduction)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "127.0.0.1": false, "10.1.2.3": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "::1": false, "fd00::1": false, "2606:4700::1": true,
	} {
		if got := check(prod, addr); got != want {
			t.Errorf("production may scan %s: %v, want %v", addr, got, want)
		}
	}

	t.Setenv("SCAN_ALLOWED_CIDRS", "10.20.0.0/16@acme, 192.168.7.9/32@acme, 10.30.0.0/16@globex")
	allowed, err := FromEnv(ModeProduction)
	if err != nil {
		t.Fatal(err)
	}
	acme, globex := allowed.ScanPolicy().ForTenant("acme"), allowed.ScanPolicy().ForTenant("globex")
	for addr, want := range map[string][3]bool{ // acme, globex, any other tenant
		"10.20.3.4": {true, false, false}, "10.21.0.1": {false, false, false}, "192.168.7.9": {true, false, false},
		"10.30.0.1": {false, true, false}, "127.0.0.1": {false, false, false},
	} {
		a := netip.MustParseAddr(addr)
		got := [3]bool{acme.Check(a) == nil, globex.Check(a) == nil, check(allowed, addr)}
		if got != want {
			t.Errorf("SCAN_ALLOWED_CIDRS: %s may be scanned by acme, globex, others = %v, want %v", addr, got, want)
		}
	}
	// In production every range belongs to a tenant.
	t.Setenv("SCAN_ALLOWED_CIDRS", "10.20.0.0/16")
	if _, err := FromEnv(ModeProduction); err == nil || !strings.Contains(err.Error(), "@<tenant-slug>") {
		t.Errorf("a range for every tenant was accepted in production: %v", err)
	}

	t.Setenv("SCAN_ALLOWED_CIDRS", "")
	for _, mode := range []Mode{ModeDev, ModeTest} {
		t.Setenv("SECUREOPS_ENV", string(mode))
		c, err := FromEnv(ModeProduction)
		if err != nil {
			t.Fatal(err)
		}
		if c.Mode != mode {
			t.Fatalf("SECUREOPS_ENV=%s gave mode %s", mode, c.Mode)
		}
		for addr, want := range map[string]bool{"127.0.0.1": true, "::1": true, "93.184.215.14": false, "10.1.2.3": false} {
			if got := check(c, addr); got != want {
				t.Errorf("%s mode may scan %s: %v, want %v", mode, addr, got, want)
			}
		}
	}
}

func TestFromEnvRejectsBadValues(t *testing.T) {
	for _, tc := range []struct{ key, val, want string }{
		{"SECUREOPS_ENV", "staging", "SECUREOPS_ENV"},
		{"SCAN_ALLOWED_CIDRS", "10.0.0.0/33", "SCAN_ALLOWED_CIDRS"},
		{"API_RATE_LIMIT", "0", "API_RATE_LIMIT"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			for _, k := range []string{"SECUREOPS_ENV", "SCAN_ALLOWED_CIDRS", "API_RATE_LIMIT", "EMAIL_PROVIDER"} {
				t.Setenv(k, "")
			}
			t.Setenv(tc.key, tc.val)
			if _, err := FromEnv(ModeProduction); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s=%q: error %v, want one naming %s", tc.key, tc.val, err, tc.want)
			}
		})
	}
}

// KEV_URL and EPSS_URL: the public feeds by default in production, off in
// dev and test; "off" turns one off; anything but an http(s) URL is refused.
func TestIntelURLs(t *testing.T) {
	for _, k := range []string{"SECUREOPS_ENV", "SCAN_ALLOWED_CIDRS", "SCAN_CONCURRENCY", "API_RATE_LIMIT", "EMAIL_PROVIDER", "KEV_URL", "EPSS_URL"} {
		t.Setenv(k, "")
	}
	prod, err := FromEnv(ModeProduction)
	if err != nil || prod.KEVURL != DefaultKEVURL || prod.EPSSURL != DefaultEPSSURL {
		t.Fatalf("production: %q %q %v", prod.KEVURL, prod.EPSSURL, err)
	}
	dev, err := FromEnv(ModeDev)
	if err != nil || dev.KEVURL != "" || dev.EPSSURL != "" {
		t.Fatalf("dev: %q %q %v", dev.KEVURL, dev.EPSSURL, err)
	}
	t.Setenv("EPSS_URL", "off")
	t.Setenv("KEV_URL", "http://mirror.internal/kev.json")
	c, err := FromEnv(ModeProduction)
	if err != nil || c.EPSSURL != "" || c.KEVURL != "http://mirror.internal/kev.json" {
		t.Fatalf("overrides: %q %q %v", c.KEVURL, c.EPSSURL, err)
	}
	t.Setenv("KEV_URL", "ftp://x/kev.json")
	if _, err := FromEnv(ModeDev); err == nil || !strings.Contains(err.Error(), "KEV_URL") {
		t.Fatalf("ftp URL accepted: %v", err)
	}
}

// Issue 17 item 3: what the scanner workers have installed follows the
// *_PATH settings every process reads: nmap and nikto unless set to none,
// ZAP, Trivy and Nuclei when named, the built-in checks always.
func TestInstalledScanners(t *testing.T) {
	for k, v := range map[string]string{"NMAP_PATH": "", "NIKTO_PATH": "none", "ZAP_PATH": "", "TRIVY_PATH": "/usr/local/bin/trivy", "NUCLEI_PATH": ""} {
		t.Setenv(k, v)
	}
	c, err := FromEnv(ModeTest)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"secureops": true, "nmap": true, "nikto": false, "zap": false, "trivy": true, "nuclei": false}
	for s, w := range want {
		if got := c.InstalledScanners()[s]; got != w {
			t.Errorf("%s installed: %v, want %v", s, got, w)
		}
	}
	if c.NiktoPath != "" {
		t.Errorf("NIKTO_PATH=none left %q for the worker", c.NiktoPath)
	}
}

// Issue 17: Temporal Cloud (an API key over TLS) or a TLS frontend (mTLS
// files, a private CA); plain gRPC otherwise.
func TestTemporalTLS(t *testing.T) {
	for _, k := range []string{"TEMPORAL_TLS", "TEMPORAL_API_KEY", "TEMPORAL_API_KEY_FILE", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA", "TEMPORAL_TLS_SERVER_NAME"} {
		t.Setenv(k, "")
	}
	c, err := FromEnv(ModeTest)
	if err != nil {
		t.Fatal(err)
	}
	if tc, err := c.TemporalTLSConfig(); tc != nil || err != nil {
		t.Errorf("plain by default: %v %v", tc, err)
	}
	t.Setenv("TEMPORAL_API_KEY", "cloud-key")
	if c, err = FromEnv(ModeTest); err != nil {
		t.Fatal(err)
	}
	if tc, err := c.TemporalTLSConfig(); tc == nil || err != nil || c.TemporalAPIKey != "cloud-key" {
		t.Errorf("an API key without TLS: %v %v", tc, err)
	}
	t.Setenv("TEMPORAL_TLS_CERT", "/tls/client.pem")
	if _, err := FromEnv(ModeTest); err == nil {
		t.Error("a client certificate without its key was accepted")
	}
	t.Setenv("TEMPORAL_TLS_CERT", "")
	t.Setenv("TEMPORAL_TLS_CA", t.TempDir()+"/missing.pem")
	if c, err = FromEnv(ModeTest); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TemporalTLSConfig(); err == nil {
		t.Error("a missing CA file was accepted")
	}
}
