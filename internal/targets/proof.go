package targets

import (
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
