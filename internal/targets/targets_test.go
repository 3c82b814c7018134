package targets

import (
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	ok := map[string]string{
		"127.0.0.1:8000":              "127.0.0.1:8000",
		" Example.COM. ":              "example.com",
		"bücher.example":              "xn--bcher-kva.example",
		"[::1]:443":                   "[::1]:443",
		"::1":                         "::1",
		"[::1]":                       "::1",
		"https://Example.com":         "https://example.com/",
		"http://127.0.0.1:8080/app#x": "http://127.0.0.1:8080/app",
		"localhost:9000":              "localhost:9000",
		"::ffff:127.0.0.1":            "127.0.0.1",
		"example.com:443,80":          "example.com:80,443",
		"[2001:db8::1]:443,80":        "[2001:db8::1]:80,443",
		"image:nginx":                 "image:docker.io/library/nginx:latest",
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
		"https://user:pw@example.com", "exa mple.com", "fe80::1%eth0", "a/b.example", "example.com:",
		"https://example.com:80,443/", "http://[fe80::1%25eth0]/"} {
		if _, err := Parse(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q): err %v, want ErrInvalid", in, err)
		}
	}
}

func TestParseAs(t *testing.T) {
	cases := []struct {
		kind Kind
		in   string
		want Target // zero: the input is refused
	}{
		// Domains: a bare DNS name.
		{KindDomain, "Example.COM.", Target{Kind: KindDomain, Host: "example.com"}},
		{KindDomain, "bücher.example", Target{Kind: KindDomain, Host: "xn--bcher-kva.example"}},
		{KindDomain, "example.com:443", Target{}},
		{KindDomain, "example.com:80,443", Target{}},
		{KindDomain, "203.0.113.7", Target{}},
		{KindDomain, "[2001:db8::1]", Target{}},
		{KindDomain, "https://example.com/", Target{}},
		{KindDomain, "image:nginx", Target{}},

		// Hosts: an address or name, with no, one or several ports.
		{KindHost, "203.0.113.7", Target{Kind: KindHost, Host: "203.0.113.7"}},
		{KindHost, "example.com:8080", Target{Kind: KindHost, Host: "example.com", Ports: []int{8080}}},
		{KindHost, "example.com:443,80", Target{Kind: KindHost, Host: "example.com", Ports: []int{80, 443}}},
		{KindHost, "example.com:80, 443", Target{Kind: KindHost, Host: "example.com", Ports: []int{80, 443}}},
		{KindHost, "example.com:443,80,443,0080", Target{Kind: KindHost, Host: "example.com", Ports: []int{80, 443}}},
		{KindHost, "[2001:db8::1]:443,80", Target{Kind: KindHost, Host: "2001:db8::1", Ports: []int{80, 443}}},
		{KindHost, "example.com:1,65535", Target{Kind: KindHost, Host: "example.com", Ports: []int{1, 65535}}},
		{KindHost, "example.com:0", Target{}},
		{KindHost, "example.com:80,0", Target{}},
		{KindHost, "example.com:65536", Target{}},
		{KindHost, "example.com:x", Target{}},
		{KindHost, "example.com:+80", Target{}},
		{KindHost, "example.com:-1", Target{}},
		{KindHost, "example.com:80,,443", Target{}},
		{KindHost, "example.com:80,443,", Target{}},
		{KindHost, "example.com:80-90", Target{}},
		{KindHost, "https://example.com/", Target{}},

		// URLs: http or https only; the scheme's default port is left out.
		{KindURL, "HTTPS://Bücher.Example./Shop?q=1#top", Target{Kind: KindURL, Host: "xn--bcher-kva.example", Port: 443, URL: "https://xn--bcher-kva.example/Shop?q=1"}},
		{KindURL, "http://example.com:8080", Target{Kind: KindURL, Host: "example.com", Port: 8080, URL: "http://example.com:8080/"}},
		{KindURL, "http://[::1]:8080/x", Target{Kind: KindURL, Host: "::1", Port: 8080, URL: "http://[::1]:8080/x"}},
		{KindURL, "example.com", Target{}},
		{KindURL, "ftp://example.com/", Target{}},
		{KindURL, "https://example.com:0/", Target{}},
		{KindURL, "https://example.com:65536/", Target{}},

		// Images: normalised as docker does, digests kept.
		{KindImage, "nginx", Target{Kind: KindImage, Image: "docker.io/library/nginx:latest"}},
		{KindImage, "image:nginx:1.27", Target{Kind: KindImage, Image: "docker.io/library/nginx:1.27"}},
		{KindImage, "bitnami/redis", Target{Kind: KindImage, Image: "docker.io/bitnami/redis:latest"}},
		{KindImage, "ghcr.io/acme/app:v2", Target{Kind: KindImage, Image: "ghcr.io/acme/app:v2"}},
		{KindImage, "alpine@sha256:" + strings.Repeat("a", 64), Target{Kind: KindImage, Image: "docker.io/library/alpine@sha256:" + strings.Repeat("a", 64)}},
		{KindImage, "", Target{}},
		{KindImage, "NGINX", Target{}},

		{"", "example.com:80,443", Target{Kind: KindHost, Host: "example.com", Ports: []int{80, 443}}},
		{"", "https://example.com", Target{Kind: KindURL, Host: "example.com", Port: 443, URL: "https://example.com/"}},
	}
	for _, c := range cases {
		got, err := ParseAs(c.kind, c.in)
		if c.want.Kind == "" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseAs(%s, %q) = %+v, %v; want ErrInvalid", c.kind, c.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAs(%s, %q): %v", c.kind, c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseAs(%s, %q) = %+v, want %+v", c.kind, c.in, got, c.want)
		}
		// The canonical form is what scans and stored targets carry: it
		// must read back as the same target. (A domain's string reads as a
		// host without its kind, so it is re-read as its own kind.)
		back, err := ParseAs(c.want.Kind, got.String())
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("ParseAs(%s, %q) = %+v, %v; want %+v", c.want.Kind, got.String(), back, err, got)
		}
		if c.want.Kind != KindDomain {
			if back, err := Parse(got.String()); err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", got.String(), back, err, got)
			}
		}
	}
	if _, err := ParseAs("ftp", "example.com"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "unknown target kind") {
		t.Errorf("unknown kind: %v", err)
	}
}

// Values stored before port lists existed must read and print unchanged.
func TestSinglePortUnchanged(t *testing.T) {
	for _, s := range []string{"app.example.com:8080", "127.0.0.1:8000", "[::1]:443", "localhost:9000", "example.com",
		"https://example.com/", "http://example.com:8080/app", "image:docker.io/library/nginx:1.27"} {
		got, err := Parse(s)
		if err != nil || got.String() != s {
			t.Errorf("Parse(%q) = %q, %v", s, got.String(), err)
		}
	}
}

func TestPortLimit(t *testing.T) {
	list := func(n int) string {
		ps := make([]string, n)
		for i := range ps {
			ps[i] = strconv.Itoa(1000 + i)
		}
		return strings.Join(ps, ",")
	}
	got, err := Parse("example.com:" + list(MaxPorts))
	if err != nil || len(got.Ports) != MaxPorts {
		t.Fatalf("%d ports: %d, %v", MaxPorts, len(got.Ports), err)
	}
	if back, err := Parse(got.String()); err != nil || !reflect.DeepEqual(back, got) {
		t.Errorf("round trip of %d ports: %v", MaxPorts, err)
	}
	if _, err := Parse("example.com:" + list(MaxPorts+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("%d ports: %v, want ErrInvalid", MaxPorts+1, err)
	}
	// Repeats count once.
	if got, err := Parse("example.com:" + list(MaxPorts) + ",1000,1001"); err != nil || len(got.Ports) != MaxPorts {
		t.Errorf("%d distinct ports with repeats: %v", MaxPorts, err)
	}
}

// A URL's port is read as a number: the scheme's default, spelt or not,
// is one target.
func TestURLDefaultPort(t *testing.T) {
	cases := []struct {
		in, want string
		port     int
	}{
		{"https://example.com:443/", "https://example.com/", 443},
		{"https://example.com/", "https://example.com/", 443},
		{"https://example.com", "https://example.com/", 443},
		{"https://example.com:0443/", "https://example.com/", 443},
		{"https://EXAMPLE.com.:443", "https://example.com/", 443},
		{"http://example.com:80/a?b=c", "http://example.com/a?b=c", 80},
		{"http://example.com:080/", "http://example.com/", 80},
		{"http://example.com:443/", "http://example.com:443/", 443},
		{"https://example.com:80/", "https://example.com:80/", 80},
		{"https://example.com:08443/x", "https://example.com:8443/x", 8443},
		{"https://[2001:db8::1]:443/", "https://[2001:db8::1]/", 443},
		{"https://[::ffff:127.0.0.1]:443/", "https://127.0.0.1/", 443},
		{"https://bücher.example:443/", "https://xn--bcher-kva.example/", 443},
	}
	for _, c := range cases {
		got, err := ParseAs(KindURL, c.in)
		if err != nil {
			t.Errorf("ParseAs(url, %q): %v", c.in, err)
			continue
		}
		if got.URL != c.want || got.Port != c.port {
			t.Errorf("ParseAs(url, %q) = %q port %d, want %q port %d", c.in, got.URL, got.Port, c.want, c.port)
		}
	}
	a, _ := Parse("https://example.com:443/")
	b, _ := Parse("https://example.com/")
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%+v != %+v", a, b)
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
		{"::", false, false},
		{"10.0.0.5", false, false},
		{"10.20.3.4", true, false}, // allowed by SCAN_ALLOWED_CIDRS
		{"192.168.1.1", false, false},
		{"172.16.0.1", false, false},
		{"169.254.169.254", false, false},
		{"100.64.0.1", false, false},
		{"224.0.0.1", false, false},
		{"fd00::1", false, false},
		{"fe80::1", false, false},
		{"ff02::1", false, false},
		{"ff0e::1", false, false},
		{"fd00:ec2::254", false, false},
		{"2606:4700::1111", true, false},
		// IPv4-mapped: judged as the IPv4 address.
		{"::ffff:10.0.0.1", false, false},
		{"::ffff:127.0.0.1", false, true},
		{"::ffff:169.254.169.254", false, false},
		{"::ffff:93.184.216.34", true, false},
		{"::ffff:10.20.3.4", true, false},
		// IPv4-compatible (deprecated), whatever the IPv4 part.
		{"::127.0.0.1", false, false},
		{"::10.0.0.1", false, false},
		{"::93.184.216.34", false, false},
		// NAT64, well-known and local-use prefixes.
		{"64:ff9b::7f00:1", false, false},
		{"64:ff9b::5db8:d822", false, false},
		{"64:ff9b:1::a00:1", false, false},
		{"64:ff9b:1:ffff::1", false, false},
		{"64:ff9b:2::1", true, false}, // outside both prefixes
		{"2002:7f00:1::1", false, false},
		{"2001:0:4136:e378::1", false, false},
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
	// :: and ::1 keep their own names inside ::/96.
	for addr, why := range map[string]string{"::": "unspecified", "::1": "loopback", "::7f00:1": "IPv4-compatible", "64:ff9b:1::1": "NAT64"} {
		if err := prod.Check(netip.MustParseAddr(addr)); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want it called %s", addr, err, why)
		}
	}
	// SCAN_ALLOWED_CIDRS still overrides, in either spelling of IPv4.
	for _, allowed := range []string{"::/96", "64:ff9b::/96", "64:ff9b:1::/48", "::ffff:10.0.0.0/104"} {
		p := Policy{Allowed: []netip.Prefix{netip.MustParsePrefix(allowed)}}
		addr := map[string]string{"::/96": "::10.0.0.1", "64:ff9b::/96": "64:ff9b::a00:1",
			"64:ff9b:1::/48": "64:ff9b:1::a00:1", "::ffff:10.0.0.0/104": "10.1.2.3"}[allowed]
		if err := p.Check(netip.MustParseAddr(addr)); err != nil {
			t.Errorf("%s allowed by %s: %v", addr, allowed, err)
		}
	}
}
