// Package targets parses what a tenant asks us to scan and decides whether we
// may scan it. The same checks run in the API (fast feedback) and inside the
// scanner activity on the address actually handed to the scanner (the only
// place that matters: names are resolved there, once, so DNS cannot rebind).
package targets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"golang.org/x/net/idna"
)

// Kind of a target.
type Kind string

const (
	KindDomain Kind = "domain" // a DNS name the tenant owns, scanned on its default ports
	KindHost   Kind = "host"   // an IP address or host name, optionally with ports
	KindURL    Kind = "url"    // http(s)://…
	KindImage  Kind = "image"  // a container image reference, scanned without network access to the tenant
)

// Kinds lists the target kinds in the order the API documents them.
var Kinds = []Kind{KindDomain, KindHost, KindURL, KindImage}

// Target is a parsed, normalised scan target.
type Target struct {
	Kind Kind   `json:"kind"`
	Host string `json:"host,omitempty"` // lower-case ASCII (punycode) name or IP literal, no brackets
	// Ports of a host target, ascending and distinct; empty: the scanner's
	// default port set.
	Ports []int `json:"ports,omitempty"`
	// Port of a url target: the URL's own, or its scheme's default.
	Port  int    `json:"port,omitempty"`
	URL   string `json:"url,omitempty"`
	Image string `json:"image,omitempty"` // fully qualified: docker.io/library/nginx:latest
}

// MaxPorts bounds a host target's port list: each port is probed and
// scanned, and the canonical string must stay well under the 2048 limit.
const MaxPorts = 100

// ImagePrefix marks an image in the one-string form of a target that scans
// and search attributes carry ("image:docker.io/library/nginx:1.27").
const ImagePrefix = "image:"

// String is the canonical form stored on a scan and used as a search attribute.
func (t Target) String() string {
	switch t.Kind {
	case KindURL:
		return t.URL
	case KindImage:
		return ImagePrefix + t.Image
	}
	if len(t.Ports) > 0 {
		return net.JoinHostPort(t.Host, FormatPorts(t.Ports))
	}
	return t.Host
}

// FormatPorts writes ports as a list ("80,443"), the form nmap's -p takes.
func FormatPorts(ports []int) string {
	var b strings.Builder
	for i, p := range ports {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(p))
	}
	return b.String()
}

// ErrInvalid marks a target that cannot be parsed.
var ErrInvalid = errors.New("invalid target")

// ParseAs parses s as a target of the given kind; an empty kind is inferred
// (see Parse). A domain is a bare name: no port, no IP literal.
func ParseAs(kind Kind, s string) (Target, error) {
	switch kind {
	case "":
		return Parse(s)
	case KindImage:
		return parseImage(strings.TrimPrefix(strings.TrimSpace(s), ImagePrefix))
	case KindDomain:
		t, err := Parse(s)
		if err != nil {
			return t, err
		}
		if t.Kind != KindHost || len(t.Ports) != 0 || t.IsIP() {
			return Target{}, fmt.Errorf("%w: a domain is a DNS name without port or scheme, such as example.com", ErrInvalid)
		}
		t.Kind = KindDomain
		return t, nil
	case KindHost, KindURL:
		t, err := Parse(s)
		if err != nil {
			return t, err
		}
		if t.Kind != kind {
			if kind == KindURL {
				return Target{}, fmt.Errorf("%w: a url target starts with http:// or https://", ErrInvalid)
			}
			return Target{}, fmt.Errorf("%w: a host target is an IP address or name with optional ports, not a URL", ErrInvalid)
		}
		return t, nil
	}
	return Target{}, fmt.Errorf("%w: unknown target kind %q (domain, host, url or image)", ErrInvalid, kind)
}

// parseImage normalises a container image reference the way docker does
// ("nginx" is docker.io/library/nginx:latest); digests are kept.
func parseImage(s string) (Target, error) {
	if s == "" {
		return Target{}, fmt.Errorf("%w: image reference is empty", ErrInvalid)
	}
	if len(s) > 1024 {
		return Target{}, fmt.Errorf("%w: image reference longer than 1024 characters", ErrInvalid)
	}
	ref, err := reference.ParseDockerRef(s)
	if err != nil {
		return Target{}, fmt.Errorf("%w: image reference %q: %v", ErrInvalid, s, err)
	}
	return Target{Kind: KindImage, Image: ref.String()}, nil
}

// Parse validates and normalises a target string: "127.0.0.1:8000",
// "example.com", "example.com:80,443", "[::1]:443",
// "https://example.com/app", and
// "image:nginx:1.27" for container images.
func Parse(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, fmt.Errorf("%w: target is empty", ErrInvalid)
	}
	if len(s) > 2048 {
		return Target{}, fmt.Errorf("%w: target longer than 2048 characters", ErrInvalid)
	}
	if strings.HasPrefix(s, ImagePrefix) {
		return parseImage(s[len(ImagePrefix):])
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return Target{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return Target{}, fmt.Errorf("%w: only http and https URLs can be scanned", ErrInvalid)
		}
		if u.User != nil {
			return Target{}, fmt.Errorf("%w: URLs with credentials are not accepted", ErrInvalid)
		}
		host, err := normaliseHost(u.Hostname())
		if err != nil {
			return Target{}, err
		}
		def := 80
		if u.Scheme == "https" {
			def = 443
		}
		port := def
		if p := u.Port(); p != "" {
			if port, err = parsePort(p); err != nil {
				return Target{}, err
			}
		}
		// The port is re-printed as a number and the scheme's default left
		// out, so ":443", ":0443" and no port are one target.
		u.Host = host
		if strings.Contains(host, ":") {
			u.Host = "[" + host + "]"
		}
		if port != def {
			u.Host += ":" + strconv.Itoa(port)
		}
		u.Fragment = ""
		if u.Path == "" {
			u.Path = "/"
		}
		return Target{Kind: KindURL, Host: host, Port: port, URL: u.String()}, nil
	}
	host, portStr, hasPort := s, "", false
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, portStr, hasPort = h, p, true
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if strings.ContainsAny(host, "/ \t@?#") {
		return Target{}, fmt.Errorf("%w: %q is not a host name, IP address or URL", ErrInvalid, s)
	}
	h, err := normaliseHost(host)
	if err != nil {
		return Target{}, err
	}
	t := Target{Kind: KindHost, Host: h}
	if hasPort {
		if t.Ports, err = parsePorts(portStr); err != nil {
			return Target{}, err
		}
	}
	return t, nil
}

// parsePorts reads a comma-separated port list and returns it sorted and
// without duplicates, so every spelling of a set has one canonical form.
func parsePorts(list string) ([]int, error) {
	var ports []int
	for _, p := range strings.Split(list, ",") {
		n, err := parsePort(strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		ports = append(ports, n)
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	if len(ports) > MaxPorts {
		return nil, fmt.Errorf("%w: %d ports, at most %d", ErrInvalid, len(ports), MaxPorts)
	}
	return ports, nil
}

// parsePort accepts decimal digits only (no sign, no spaces); leading zeros
// are harmless and dropped.
func parsePort(p string) (int, error) {
	if p == "" || strings.Trim(p, "0123456789") != "" {
		return 0, fmt.Errorf("%w: port %q is not a number from 1 to 65535", ErrInvalid, p)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%w: port %q out of range 1-65535", ErrInvalid, p)
	}
	return n, nil
}

func normaliseHost(h string) (string, error) {
	h = strings.TrimSuffix(strings.TrimSpace(h), ".")
	if h == "" {
		return "", fmt.Errorf("%w: host is empty", ErrInvalid)
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "", fmt.Errorf("%w: zoned IPv6 addresses are not accepted", ErrInvalid)
		}
		return ip.Unmap().String(), nil
	}
	ascii, err := idna.Lookup.ToASCII(h)
	if err != nil {
		return "", fmt.Errorf("%w: host %q: %v", ErrInvalid, h, err)
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > 253 || !strings.Contains(ascii, ".") && ascii != "localhost" {
		return "", fmt.Errorf("%w: host %q is not a fully qualified domain name", ErrInvalid, h)
	}
	for _, l := range strings.Split(ascii, ".") {
		if !validLabel(l) {
			return "", fmt.Errorf("%w: host %q has an empty or invalid label (%q); labels are 1 to 63 letters, digits and inner hyphens", ErrInvalid, h, l)
		}
	}
	return ascii, nil
}

// IsIP reports whether the target names an address rather than a host name.
func (t Target) IsIP() bool {
	_, err := netip.ParseAddr(t.Host)
	return err == nil
}

// Resolver is the part of net.Resolver the policy needs (replaceable in tests).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Resolve returns the address the scanner must be given: the IP literal
// itself, or the first address the name resolves to.
func Resolve(ctx context.Context, r Resolver, t Target) (netip.Addr, error) {
	addrs, err := ResolveAll(ctx, r, t)
	if err != nil {
		return netip.Addr{}, err
	}
	// Prefer IPv4: scanners and the targets users register mostly speak it.
	for _, a := range addrs {
		if a.Is4() {
			return a, nil
		}
	}
	return addrs[0], nil
}

// ResolveChecked resolves t once and returns the address to scan, refusing
// the target when any address the name has is outside the policy: a name
// that answers with one public and one internal address must not be scanned
// through whichever answer comes first.
func ResolveChecked(ctx context.Context, r Resolver, p Policy, t Target) (netip.Addr, error) {
	if t.Kind == KindImage {
		return netip.Addr{}, fmt.Errorf("%w: an image has no network address", ErrInvalid)
	}
	addrs, err := ResolveAll(ctx, r, t)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if err := p.Check(a); err != nil {
			if !t.IsIP() {
				return netip.Addr{}, fmt.Errorf("%w (%s resolves to it)", err, t.Host)
			}
			return netip.Addr{}, err
		}
	}
	for _, a := range addrs {
		if a.Is4() {
			return a, nil
		}
	}
	return addrs[0], nil
}

// ResolveAll returns every address of the target (the literal itself for IPs).
func ResolveAll(ctx context.Context, r Resolver, t Target) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(t.Host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", t.Host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", t.Host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", t.Host)
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = a.Unmap()
	}
	return out, nil
}

// validLabel reports whether l is a DNS host label: 1 to 63 letters, digits,
// and hyphens (not at either end).
func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
