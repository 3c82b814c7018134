package targets

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckNameRefusesSpellingsOfForbiddenAddresses(t *testing.T) {
	prod := Policy{}
	for _, host := range []string{
		"localhost", "LOCALHOST.", "app.localhost", "localhost.localdomain", "ip6-localhost",
		"127.1", "0x7f.1", "0177.0.0.1", "2130706433", "0x7f000001", "017700000001", "127.0.1", "0",
		"10.1", "0xa.0.0.1", "3232235521", // 192.168.0.1
		"169.254.169.254.nip.io", "127.0.0.1.nip.io", "app.10.0.0.1.sslip.io", "10-0-0-1.sslip.io",
		"ip-172-16-0-9.example.com", "7f000001.nip.io", "a9fea9fe.nip.io", "--1.sslip.io", "fd00--1.sslip.io",
		"localtest.me", "x.lvh.me",
		"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
		"db", "printer.local", "api.svc", "kubernetes.default.svc.cluster.local", "host.internal",
		"router.home.arpa", "1.0.0.127.in-addr.arpa",
	} {
		if err := prod.CheckName(host); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("production CheckName(%q) = %v, want refused", host, err)
		}
	}
	for _, host := range []string{
		"example.com", "scanme.example.org", "ec2-54-1-2-3.compute-1.amazonaws.com", "8.8.8.8",
		"deadbeef.example.com", "my-app.example.com", "1.example.com", "a.b.c.d.example.com",
	} {
		if err := prod.CheckName(host); err != nil {
			t.Errorf("production CheckName(%q) = %v, want allowed", host, err)
		}
	}
}

func TestCheckNameInDevModeAllowsOnlyLoopbackSpellings(t *testing.T) {
	dev := Policy{LoopbackOnly: true}
	for _, host := range []string{"localhost", "127.1", "0x7f.0.0.1", "127.0.0.1.nip.io", "example.com"} {
		if err := dev.CheckName(host); err != nil {
			t.Errorf("dev CheckName(%q) = %v, want allowed (names are checked again when resolved)", host, err)
		}
	}
	for _, host := range []string{"10.1", "10.0.0.1.nip.io", "169.254.169.254"} {
		if err := dev.CheckName(host); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("dev CheckName(%q) = %v, want refused", host, err)
		}
	}
}

func TestCheckNameHonoursAllowedRanges(t *testing.T) {
	p := Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	if err := p.CheckName("10.1"); err != nil {
		t.Errorf("10.1 in an allowed range: %v", err)
	}
	if err := p.CheckName("127.1"); err == nil {
		t.Error("127.1 outside the allowed range was accepted")
	}
}

func TestInetAton(t *testing.T) {
	for in, want := range map[string]string{
		"127.1": "127.0.0.1", "0x7f.1": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "2130706433": "127.0.0.1",
		"1.2.3": "1.2.0.3", "0x0a.0x00.0x00.0x01": "10.0.0.1", "255.255.255.255": "255.255.255.255",
	} {
		got, ok := inetAton(in)
		if !ok || got.String() != want {
			t.Errorf("inetAton(%q) = %v %v, want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"256.1.1.1", "1.2.3.4.5", "1.2.65536", "08.1.1.1", "example.com", "1..2", "4294967296"} {
		if got, ok := inetAton(in); ok {
			t.Errorf("inetAton(%q) = %v, want not an address", in, got)
		}
	}
}

func TestHostLabels(t *testing.T) {
	for _, bad := range []string{"a..b.example", ".example.com", "-a.example.com", "a-.example.com", "a b.example.com", strings.Repeat("a", 64) + ".example.com"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted a host with a bad label", bad)
		}
	}
	for _, good := range []string{"a.b.example", "xn--bcher-kva.example", "a-b.example.com", "Bücher.example"} {
		if _, err := Parse(good); err != nil {
			t.Errorf("Parse(%q): %v", good, err)
		}
	}
}
