// Package clientip finds the address of the client behind a request: the
// socket's peer, unless that peer is one of the operator's own proxies
// (TRUSTED_PROXIES), in which case the rightmost X-Forwarded-For entry that is
// not a trusted proxy. Rate limits and audit entries key on it, so a header
// sent by anyone else is never believed.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/realclientip/realclientip-go"
)

// Resolver finds client addresses.
type Resolver struct {
	trusted []netip.Prefix
	header  realclientip.Strategy
}

// Parse reads TRUSTED_PROXIES: comma- or space-separated addresses and CIDR
// ranges. Empty means no proxy is trusted.
func Parse(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not an address or CIDR range", s)
			}
			s = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String()
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not an address or CIDR range", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// New trusts the given proxies.
func New(trusted []netip.Prefix) (*Resolver, error) {
	r := &Resolver{trusted: trusted}
	if len(trusted) == 0 {
		return r, nil
	}
	nets := make([]net.IPNet, len(trusted))
	for i, p := range trusted {
		nets[i] = net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
	}
	s, err := realclientip.NewRightmostTrustedRangeStrategy("X-Forwarded-For", nets)
	if err != nil {
		return nil, err
	}
	r.header = s
	return r, nil
}

// Addr is the client's address ("" only for a request without a peer).
func (r *Resolver) Addr(req *http.Request) string {
	peer := realclientip.RemoteAddrStrategy{}.ClientIP(nil, req.RemoteAddr)
	if r == nil || r.header == nil || peer == "" || !r.isTrusted(peer) {
		return peer
	}
	if ip := r.header.ClientIP(req.Header, req.RemoteAddr); ip != "" {
		return ip
	}
	return peer
}

func (r *Resolver) isTrusted(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
