package webhookwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/secureops/secureops/internal/targets"
)

// CheckURL validates a webhook URL the way the scan policy validates a scan
// target, and returns its normalised form. Production (a policy that is not
// LoopbackOnly) requires https: the body carries findings and the signature
// does not hide them. Dev and test modes accept http, and only loopback.
// A literal address or a name that spells one is checked here; every name is
// checked again each time it is resolved for a delivery (Client.Send), since
// its answers may change.
func CheckURL(raw string, p targets.Policy) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("%w: the url is empty", targets.ErrInvalid)
	}
	if len(raw) > 2048 {
		return "", fmt.Errorf("%w: the url is longer than 2048 characters", targets.ErrInvalid)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %v", targets.ErrInvalid, err)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.LoopbackOnly:
	case u.Scheme == "http":
		return "", fmt.Errorf("%w: webhook urls must use https", targets.ErrInvalid)
	default:
		return "", fmt.Errorf("%w: a webhook url starts with https://", targets.ErrInvalid)
	}
	if u.Fragment != "" {
		return "", fmt.Errorf("%w: a webhook url has no #fragment", targets.ErrInvalid)
	}
	t, err := targets.ParseAs(targets.KindURL, raw)
	if err != nil {
		return "", err
	}
	// Every spelling of a forbidden address (127.1, 0x7f.1, localhost,
	// 127.0.0.1.nip.io, metadata names) is refused before anything resolves.
	if err := p.CheckName(t.Host); err != nil {
		return "", err
	}
	return t.URL, nil
}

// Client sends deliveries. Every request resolves the host once, refuses it
// when any of its addresses is outside the policy, and dials the checked
// address: the receiver's DNS cannot point a delivery at an internal service
// between the check and the connection. Redirects are not followed for the
// same reason, and no proxy from the environment is used.
type Client struct {
	Policy   targets.Policy
	Resolver targets.Resolver // nil: the system resolver
	Timeout  time.Duration    // whole request, default 10 s
}

// Response is what the receiver answered.
type Response struct {
	StatusCode int
	// RetryAfter is the receiver's Retry-After (429, 503), 0 when absent.
	RetryAfter time.Duration
}

// Send signs ev with secret at now and POSTs it to rawURL. A URL the policy
// refuses returns an error wrapping targets.ErrNotAllowed or
// targets.ErrInvalid; any HTTP answer, whatever its status, is a Response
// with a nil error.
func (c *Client) Send(ctx context.Context, rawURL, secret string, ev Event, now time.Time) (Response, error) {
	u, err := CheckURL(rawURL, c.Policy)
	if err != nil {
		return Response{}, err
	}
	t, err := targets.ParseAs(targets.KindURL, u)
	if err != nil {
		return Response{}, err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr, err := targets.ResolveChecked(ctx, c.Resolver, c.Policy, t)
	if err != nil {
		return Response{}, err
	}
	body, err := ev.Body()
	if err != nil {
		return Response{}, err
	}
	dialTo := netip.AddrPortFrom(addr, uint16(t.Port)).String()
	d := &net.Dialer{Timeout: timeout}
	hc := &http.Client{
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, dialTo)
			},
			// TLS still verifies the certificate against the URL's host name:
			// only the address lookup is ours.
			TLSHandshakeTimeout: timeout,
			DisableKeepAlives:   true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderEventType, ev.Type)
	req.Header.Set(HeaderSignature, Sign(secret, now, body))
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Response{}, err
	}
	defer resp.Body.Close()
	// Read a little so the receiver is not cut off mid-write; the answer's
	// content means nothing to us.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return Response{StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}, nil
}

func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
