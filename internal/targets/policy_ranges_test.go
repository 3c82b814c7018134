package targets

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"testing"
)

// Every forbidden range is refused at its first, middle and last address, in
// every spelling a resolver, a URL library or inet_aton accepts; the address
// just outside each range is judged on its own.
func TestEveryForbiddenRangeInEverySpelling(t *testing.T) {
	prod := Policy{}
	want := []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "::/96", "fc00::/7", "fe80::/10", "ff00::/8", "fd00:ec2::254/128",
		"64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32",
	}
	have := map[string]bool{}
	for _, f := range forbidden {
		have[f.prefix.String()] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("range %s is not forbidden", w)
		}
	}
	for _, f := range forbidden {
		for _, a := range sample(f.prefix) {
			for _, s := range spellings(a) {
				if err := prod.CheckName(s); !errors.Is(err, ErrNotAllowed) {
					t.Errorf("%s (%s, in %s) accepted: %v", s, a, f.prefix, err)
				}
			}
			if err := prod.Check(a); !errors.Is(err, ErrNotAllowed) {
				t.Errorf("Check(%s) in %s accepted", a, f.prefix)
			}
		}
	}
	// Public neighbours of forbidden ranges are scannable.
	for _, s := range []string{"9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255", "128.0.0.0",
		"169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0", "192.0.1.0", "192.167.255.255", "192.169.0.0",
		"198.17.255.255", "198.20.0.0", "223.255.255.255", "2001:1::1", "2003::1", "2606:4700::1111", "1.1.1.1"} {
		if err := prod.CheckName(s); err != nil {
			t.Errorf("public address %s refused: %v", s, err)
		}
	}
}

// sample returns the first, a middle and the last address of p.
func sample(p netip.Prefix) []netip.Addr {
	p = p.Masked()
	first := p.Addr()
	bits := first.BitLen()
	n := new(big.Int).SetBytes(first.AsSlice())
	size := new(big.Int).Lsh(big.NewInt(1), uint(bits-p.Bits()))
	last := new(big.Int).Add(n, new(big.Int).Sub(size, big.NewInt(1)))
	mid := new(big.Int).Add(n, new(big.Int).Rsh(size, 1))
	out := []netip.Addr{first}
	for _, v := range []*big.Int{mid, last} {
		b := v.FillBytes(make([]byte, bits/8))
		a, _ := netip.AddrFromSlice(b)
		if a != out[len(out)-1] {
			out = append(out, a)
		}
	}
	return out
}

func spellings(a netip.Addr) []string {
	if a.Is6() {
		full := a.StringExpanded()
		return []string{a.String(), full, strings.ToUpper(full), strings.ReplaceAll(a.String(), ":", "-") + ".sslip.io"}
	}
	b := a.As4()
	u := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return []string{
		a.String(),
		"::ffff:" + a.String(),
		fmt.Sprint(u),          // 2130706433
		fmt.Sprintf("0x%x", u), // 0x7f000001
		fmt.Sprintf("0%o", u),  // 017700000001
		fmt.Sprintf("0x%x.0x%x.0x%x.0x%x", b[0], b[1], b[2], b[3]),
		fmt.Sprintf("0%o.0%o.0%o.0%o", b[0], b[1], b[2], b[3]),
		fmt.Sprintf("%d.%d", b[0], uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])), // 127.1
		fmt.Sprintf("%d.%d.%d", b[0], b[1], uint32(b[2])<<8|uint32(b[3])),
		a.String() + ".nip.io",
		strings.ReplaceAll(a.String(), ".", "-") + ".sslip.io",
		fmt.Sprintf("%08x.nip.io", u),
	}
}
