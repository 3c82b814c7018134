package targets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// The ownership proof: a DNS TXT record at DNSPrefix+host, or a file at
// WellKnownPath, holding the target's token. The API shows it to the tenant;
// the ownership activities look for it.

// DNSPrefix is the label the TXT record lives under.
const DNSPrefix = "_secureops-challenge."

// WellKnownPath is where the verification file is served.
const WellKnownPath = "/.well-known/secureops-verification.txt"

// TXTValue is what the TXT record (or the file) must contain.
func TXTValue(token string) string { return "secureops-verification=" + token }

// WellKnownURLs lists where the file may be, in the order they are tried:
// the URL's own origin, or for a name or address HTTPS then HTTP on each
// listed port in turn (the default ports when none is listed).
func (t Target) WellKnownURLs() []string {
	if t.Kind == KindURL {
		u, err := url.Parse(t.URL)
		if err != nil {
			return nil
		}
		return []string{u.Scheme + "://" + u.Host + WellKnownPath}
	}
	host := t.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if len(t.Ports) == 0 {
		return []string{"https://" + host + WellKnownPath, "http://" + host + WellKnownPath}
	}
	out := make([]string, 0, 2*len(t.Ports))
	for _, p := range t.Ports {
		hp := host + ":" + strconv.Itoa(p)
		out = append(out, "https://"+hp+WellKnownPath, "http://"+hp+WellKnownPath)
	}
	return out
}

// TXTResolver is the part of net.Resolver the DNS proof needs.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// ProofMatches reports whether a TXT string or a line of the file is the
// token (bare, or as TXTValue).
func ProofMatches(s, token string) bool {
	s = strings.TrimSpace(s)
	return s == token || s == TXTValue(token)
}

// CheckTXT looks for the token in the TXT records at DNSPrefix+name (r nil:
// the system resolver); when absent, it says why. The same proof shows that
// a tenant owns a target's name and an email domain (single sign-on).
func CheckTXT(ctx context.Context, r TXTResolver, name, token string) (bool, string) {
	if r == nil {
		r = net.DefaultResolver
	}
	at := DNSPrefix + name
	recs, err := r.LookupTXT(ctx, at)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return false, "no TXT record at " + at
		}
		return false, "TXT lookup of " + at + " failed: " + err.Error()
	}
	for _, rec := range recs {
		if ProofMatches(rec, token) {
			return true, ""
		}
	}
	return false, fmt.Sprintf("TXT record at %s does not contain %s", at, TXTValue(token))
}
