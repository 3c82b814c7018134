package targets

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParse(t *testing.T) {
	ok := map[string]string{
		"127.0.0.1:8000":              "127.0.0.1:8000",
		" Example.COM. ":              "example.com",
		"bücher.example":              "xn--bcher-kva.example",
		"[::1]:443":                   "[::1]:443",
		"::1":                         "::1",
		"https://Example.com":         "https://example.com/",
		"http://127.0.0.1:8080/app#x": "http://127.0.0.1:8080/app",
		"localhost:9000":              "localhost:9000",
		"::ffff:127.0.0.1":            "127.0.0.1",
	}
	for in, want := range ok {
		got, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got.String() != want {
			t.Errorf("Parse(%q) = %q, want %q", in, got.String(), want)
		}
	}
	for _, in := range []string{"", "   ", "host", "127.0.0.1:0", "127.0.0.1:70000", "ftp://example.com",
		"https://user:pw@example.com", "exa mple.com", "fe80::1%eth0", "a/b.example"} {
		if _, err := Parse(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q): err %v, want ErrInvalid", in, err)
		}
	}
}

func TestPolicy(t *testing.T) {
	prod := Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}}
	dev := Policy{LoopbackOnly: true}
	cases := []struct {
		addr      string
		prod, dev bool
	}{
		{"93.184.216.34", true, false},
		{"127.0.0.1", false, true},
		{"::1", false, true},
		{"10.0.0.5", false, false},
		{"10.20.3.4", true, false}, // allowed by SCAN_ALLOWED_CIDRS
		{"192.168.1.1", false, false},
		{"172.16.0.1", false, false},
		{"169.254.169.254", false, false},
		{"100.64.0.1", false, false},
		{"224.0.0.1", false, false},
		{"fd00::1", false, false},
		{"fe80::1", false, false},
		{"fd00:ec2::254", false, false},
		{"2606:4700::1111", true, false},
		{"::ffff:10.0.0.1", false, false},
	}
	for _, c := range cases {
		a := netip.MustParseAddr(c.addr)
		if err := prod.Check(a); (err == nil) != c.prod {
			t.Errorf("production %s: err=%v, want allowed=%v", c.addr, err, c.prod)
		} else if err != nil && !errors.Is(err, ErrNotAllowed) {
			t.Errorf("production %s: %v is not ErrNotAllowed", c.addr, err)
		}
		if err := dev.Check(a); (err == nil) != c.dev {
			t.Errorf("dev %s: err=%v, want allowed=%v", c.addr, err, c.dev)
		}
	}
}
