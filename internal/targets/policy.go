package targets

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrNotAllowed marks an address the platform refuses to scan.
var ErrNotAllowed = errors.New("target not allowed")

// Policy decides which resolved addresses may be scanned.
type Policy struct {
	// LoopbackOnly is dev and test mode: only this machine may be scanned.
	LoopbackOnly bool
	// Allowed lists ranges production may scan even though they are private.
	Allowed []netip.Prefix
	// TenantAllowed lists, by tenant slug, private ranges that tenant (and
	// its sub-tenants, through ForTenant) may scan: a lab network opened for
	// one customer is not opened for every other.
	TenantAllowed map[string][]netip.Prefix
	// ImageRegistries lists the registries image targets may name
	// (IMAGE_REGISTRIES); nil means DefaultImageRegistries.
	ImageRegistries []string
}

var forbidden = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	// After :: and ::1, which have their own names.
	{netip.MustParsePrefix("::/96"), "IPv4-compatible IPv6 (embeds an IPv4 address)"},
	{netip.MustParsePrefix("fc00::/7"), "unique local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 (may embed private IPv4)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 (may embed private IPv4)"},
	{netip.MustParsePrefix("2002::/16"), "6to4 (embeds an IPv4 address)"},
	{netip.MustParsePrefix("2001::/32"), "Teredo (embeds an IPv4 address)"},
}

// Check refuses addresses outside the policy, saying why. An IPv4-mapped
// address (::ffff:a.b.c.d) is judged as the IPv4 address it reaches.
func (p Policy) Check(addr netip.Addr) error {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return fmt.Errorf("%w: no address", ErrNotAllowed)
	}
	if p.LoopbackOnly {
		if addr.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%w: %s is not a loopback address; dev and test modes scan only this machine", ErrNotAllowed, addr)
	}
	for _, a := range p.Allowed {
		if unmapPrefix(a).Contains(addr) {
			return nil
		}
	}
	for _, f := range forbidden {
		if f.prefix.Contains(addr) {
			return fmt.Errorf("%w: %s is a %s address", ErrNotAllowed, addr, f.why)
		}
	}
	return nil
}

// ForTenant is the policy for scans of the tenant whose slug, and whose
// ancestors' slugs, are given: the platform's ranges plus theirs.
func (p Policy) ForTenant(slugs ...string) Policy {
	out := p
	out.Allowed = append([]netip.Prefix(nil), p.Allowed...)
	for _, s := range slugs {
		out.Allowed = append(out.Allowed, p.TenantAllowed[s]...)
	}
	out.TenantAllowed = nil
	return out
}

// AutoVerifies reports whether t needs no ownership proof under this policy:
// in dev and test modes, this machine (a loopback address or "localhost")
// is the tenant's by definition.
func (p Policy) AutoVerifies(t Target) bool {
	if !p.LoopbackOnly || t.Kind == KindImage {
		return false
	}
	if t.Host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(t.Host)
	return err == nil && ip.IsLoopback()
}

// unmapPrefix turns an IPv4-mapped range (::ffff:10.0.0.0/104) into the
// IPv4 range it means, since Check compares unmapped addresses.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.Addr().Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
}

// CheckTarget refuses, before anything is resolved, a target the policy
// forbids by its spelling alone: an address, or a name that means one
// (CheckName), outside the policy; an image from a registry that may not be
// pulled from (CheckImage). Names are checked again where they are resolved,
// inside the scan. It answers when a target is registered or a scan asked for.
func (p Policy) CheckTarget(t Target) error {
	if t.Kind == KindImage {
		return p.CheckImage(t)
	}
	return p.CheckName(t.Host)
}
