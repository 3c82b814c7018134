package targets

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// CheckName refuses a host name (already normalised: lower case, ASCII, no
// trailing dot) whose spelling alone says it reaches an address outside the
// policy, before anything is resolved. Resolution is checked again at connect
// time; this catches what a resolver or URL library would turn into such an
// address without asking DNS:
//   - numeric forms that inet_aton and browsers accept (127.1, 0x7f.1,
//     0177.0.0.1, 2130706433);
//   - names that embed an address, as wildcard DNS services answer them
//     (127.0.0.1.nip.io, 10-0-0-1.sslip.io, 7f000001.nip.io, --1.sslip.io);
//   - localhost and its variants, and cloud metadata names;
//   - in production, names that are not public: single labels (a resolver
//     tries search domains) and reserved or internal suffixes.
func (p Policy) CheckName(host string) error {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.Check(ip)
	}
	if ip, ok := inetAton(host); ok {
		return p.Check(ip)
	}
	if isLocalhostName(host) {
		return p.Check(netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	}
	for _, ip := range embeddedAddrs(host) {
		if err := p.Check(ip); err != nil {
			return fmt.Errorf("%w (the name %s embeds %s)", err, host, ip)
		}
	}
	if p.LoopbackOnly {
		return nil // the connect-time check decides; dev names are resolved then
	}
	if metadataNames[host] {
		return fmt.Errorf("%w: %s is a cloud metadata service name", ErrNotAllowed, host)
	}
	if !strings.Contains(host, ".") {
		return fmt.Errorf("%w: %s is a single-label name, which resolvers complete with local search domains", ErrNotAllowed, host)
	}
	for _, s := range internalSuffixes {
		if strings.HasSuffix(host, s) {
			return fmt.Errorf("%w: %s is a name for a private network (%s), not a public one", ErrNotAllowed, host, strings.TrimPrefix(s, "."))
		}
	}
	return nil
}

// metadataNames resolve to instance metadata services on the clouds'
// own resolvers.
var metadataNames = map[string]bool{
	"metadata.google.internal": true, "metadata.goog": true, "metadata": true,
	"instance-data": true, "instance-data.ec2.internal": true,
	"metadata.azure.internal": true, "metadata.tencentyun.com": true,
	"metadata.platformequinix.com": true,
}

// internalSuffixes are special-use or private-use name spaces (RFC 6761,
// 6762, 8375, ICANN's .internal) and cluster-internal domains.
var internalSuffixes = []string{
	".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".in-addr.arpa", ".ip6.arpa",
	".intranet", ".lan", ".corp", ".home", ".private", ".svc", ".cluster.local", ".test", ".invalid",
}

// loopbackDomains answer 127.0.0.1 for themselves and every sub-domain.
var loopbackDomains = []string{"localtest.me", "lvh.me", "vcap.me", "lacolhost.com", "localhost.direct"}

func isLocalhostName(host string) bool {
	switch host {
	case "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback":
		return true
	}
	if strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, d := range loopbackDomains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// inetAton parses the IPv4 spellings that C's inet_aton (and so curl, most
// HTTP clients and browsers) accepts: one to four parts, each decimal, octal
// (leading 0) or hexadecimal (0x), the last part filling the remaining bytes.
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := atonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var out uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		out |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	out |= last
	return netip.AddrFrom4([4]byte{byte(out >> 24), byte(out >> 16), byte(out >> 8), byte(out)}), true
}

func atonPart(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base := 10
	switch {
	case strings.HasPrefix(p, "0x"):
		p, base = p[2:], 16
		if p == "" {
			return 0, true // "0x" alone is 0 to inet_aton
		}
	case len(p) > 1 && p[0] == '0':
		p, base = p[1:], 8
	}
	v, err := strconv.ParseUint(p, base, 32)
	return v, err == nil
}

// embeddedAddrs finds addresses spelled inside a name the way wildcard DNS
// services read them: four numeric labels in a row (a.b.c.d.nip.io), a label
// holding a dashed IPv4 or IPv6 address (10-0-0-1, ip-10-0-0-1, --1), or a
// label of eight hex digits (7f000001.nip.io).
func embeddedAddrs(host string) []netip.Addr {
	labels := strings.Split(host, ".")
	var out []netip.Addr
	for i := 0; i+4 <= len(labels); i++ {
		if ip, err := netip.ParseAddr(strings.Join(labels[i:i+4], ".")); err == nil {
			out = append(out, ip)
		}
	}
	for _, l := range labels {
		if len(l) == 8 {
			if b, err := hex.DecodeString(l); err == nil {
				out = append(out, netip.AddrFrom4([4]byte(b)))
			}
		}
		if !strings.Contains(l, "-") {
			continue
		}
		// The address may follow a prefix (ip-10-0-0-1, app-10-0-0-1).
		fields := strings.Split(l, "-")
		for j := 0; j+4 <= len(fields); j++ {
			if ip, err := netip.ParseAddr(strings.Join(fields[j:j+4], ".")); err == nil {
				out = append(out, ip)
			}
		}
		if ip, err := netip.ParseAddr(strings.ReplaceAll(l, "-", ":")); err == nil && ip.Is6() {
			out = append(out, ip)
		}
	}
	return out
}
