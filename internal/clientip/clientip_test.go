package clientip

import (
	"net/http/httptest"
	"testing"
)

func TestAddr(t *testing.T) {
	trusted, err := Parse("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(trusted)
	if err != nil {
		t.Fatal(err)
	}
	none, _ := New(nil)
	for _, c := range []struct {
		name, remote, xff, want, wantNone string
	}{
		{"direct client, no header", "203.0.113.9:5000", "", "203.0.113.9", "203.0.113.9"},
		{"direct client spoofing the header", "203.0.113.9:5000", "1.2.3.4", "203.0.113.9", "203.0.113.9"},
		{"behind the load balancer", "10.1.2.3:443", "198.51.100.4", "198.51.100.4", "10.1.2.3"},
		{"spoofed entry left of the real one", "10.1.2.3:443", "1.2.3.4, 198.51.100.4", "198.51.100.4", "10.1.2.3"},
		{"two trusted hops", "10.1.2.3:443", "198.51.100.4, 192.0.2.7", "198.51.100.4", "10.1.2.3"},
		{"trusted peer without header", "10.1.2.3:443", "", "10.1.2.3", "10.1.2.3"},
		{"IPv6 client", "10.1.2.3:443", "2001:db8::1", "2001:db8::1", "10.1.2.3"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = c.remote
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := r.Addr(req); got != c.want {
			t.Errorf("%s: Addr = %q, want %q", c.name, got, c.want)
		}
		if got := none.Addr(req); got != c.wantNone {
			t.Errorf("%s without TRUSTED_PROXIES: Addr = %q, want %q", c.name, got, c.wantNone)
		}
	}
	if _, err := Parse("10.0.0.0/8,nonsense"); err == nil {
		t.Error("a bad TRUSTED_PROXIES entry was accepted")
	}
}
