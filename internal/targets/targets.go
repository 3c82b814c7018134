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
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Kind of a target.
type Kind string

const (
	KindHost Kind = "host" // an IP address or host name, optionally with a port
	KindURL  Kind = "url"  // http(s)://…
)

// Target is a parsed, normalised scan target.
type Target struct {
	Kind Kind   `json:"kind"`
	Host string `json:"host"`           // lower-case ASCII (punycode) name or IP literal, no brackets
	Port int    `json:"port,omitempty"` // 0: the scanner's default port set
	URL  string `json:"url,omitempty"`
}

// String is the canonical form stored on a scan and used as a search attribute.
func (t Target) String() string {
	if t.Kind == KindURL {
		return t.URL
	}
	if t.Port > 0 {
		return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	}
	return t.Host
}

// ErrInvalid marks a target that cannot be parsed.
var ErrInvalid = errors.New("invalid target")

// Parse validates and normalises a target string: "127.0.0.1:8000",
// "example.com", "[::1]:443", "https://example.com/app".
func Parse(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, fmt.Errorf("%w: target is empty", ErrInvalid)
	}
	if len(s) > 2048 {
		return Target{}, fmt.Errorf("%w: target longer than 2048 characters", ErrInvalid)
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
		port := 0
		if p := u.Port(); p != "" {
			if port, err = parsePort(p); err != nil {
				return Target{}, err
			}
		} else if u.Scheme == "https" {
			port = 443
		} else {
			port = 80
		}
		hostPort := host
		if strings.Contains(host, ":") {
			hostPort = "[" + host + "]"
		}
		if u.Port() != "" {
			hostPort += ":" + u.Port()
		}
		u.Host = hostPort
		u.Fragment = ""
		if u.Path == "" {
			u.Path = "/"
		}
		return Target{Kind: KindURL, Host: host, Port: port, URL: u.String()}, nil
	}
	host, portStr := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, portStr = h, p
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
	if portStr != "" {
		if t.Port, err = parsePort(portStr); err != nil {
			return Target{}, err
		}
	}
	return t, nil
}

func parsePort(p string) (int, error) {
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
	if ip, err := netip.ParseAddr(t.Host); err == nil {
		return ip.Unmap(), nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", t.Host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", t.Host, err)
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("resolve %s: no addresses", t.Host)
	}
	// Prefer IPv4: scanners and the targets users register mostly speak it.
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return addrs[0].Unmap(), nil
}
