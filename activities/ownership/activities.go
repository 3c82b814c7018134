// Package ownership checks that a tenant controls a target before it may be
// scanned actively: a DNS TXT record at _secureops-challenge.<name> or a file
// at /.well-known/secureops-verification.txt, both holding the target's token
// (the proof's format is in internal/contract/verify, which the API shows).
package ownership

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/contract/verify"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/temporalx"
)

// Activities checks ownership proofs.
type Activities struct {
	DB       *db.DB
	Policy   targets.Policy
	Resolver targets.Resolver
	TXT      targets.TXTResolver
	// Timeout bounds each DNS or HTTP attempt (default 10 s).
	Timeout time.Duration
}

// Check looks for the proof once and records the outcome on the target.
// Network and DNS failures are outcomes here, not errors: the workflow
// decides when to look again. Only database trouble is retried.
func (a *Activities) Check(ctx context.Context, in verify.CheckInput) (verify.CheckResult, error) {
	var t dbq.Target
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		t, err = db.Q.TargetGet(ctx, tx, in.TargetID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return verify.CheckResult{Status: "gone", Detail: "the target was deleted"}, nil
	}
	if err != nil {
		return verify.CheckResult{}, err
	}
	if t.VerificationStatus != "pending" {
		return verify.CheckResult{Status: statusOf(t.VerificationStatus), Method: t.VerificationMethod}, nil
	}
	pol, err := a.policyFor(ctx, in.TenantID)
	if err != nil {
		return verify.CheckResult{}, err
	}
	method, detail, addrs := a.probe(ctx, pol, t)
	status := "pending"
	switch {
	case method != "":
		status = "verified"
	case in.Final:
		status = "failed"
	}
	var res verify.CheckResult
	err = a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		row, err := db.Q.TargetVerificationChecked(ctx, tx, dbq.TargetVerificationCheckedParams{
			ID: t.ID, Status: status, Method: method, Error: truncate(detail, 1000), Addrs: addrs,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			res = verify.CheckResult{Status: "gone", Detail: "the target is no longer pending verification"}
			return nil
		}
		if err != nil {
			return err
		}
		res = verify.CheckResult{Status: row.VerificationStatus, Method: row.VerificationMethod, Detail: row.VerificationError}
		return nil
	})
	return res, err
}

func statusOf(s string) string {
	switch s {
	case "verified", "not_required":
		return "verified"
	case "failed":
		return "failed"
	}
	return "gone"
}

// probe tries every method the target allows and returns the one that
// proved ownership with the addresses the proof covers (pinned on the
// target: a scan goes only there), or why none did.
func (a *Activities) probe(ctx context.Context, pol targets.Policy, row dbq.Target) (method, detail string, addrs []string) {
	t, err := targets.ParseAs(targets.Kind(row.Kind), row.Value)
	if err != nil {
		return "", "the stored target no longer parses: " + err.Error(), nil
	}
	want := row.VerificationToken
	var reasons []string
	if !t.IsIP() && t.Host != "" {
		ok, why := a.checkDNS(ctx, t.Host, want)
		if ok {
			// The record proves the name; the addresses it has now are the
			// ones the proof covers.
			all, err := targets.ResolveAll(ctx, a.Resolver, t)
			if err == nil {
				for _, ad := range all {
					if pol.Check(ad) == nil {
						addrs = append(addrs, ad.String())
					}
				}
			}
			return "dns", "", addrs
		}
		reasons = append(reasons, why)
	}
	// The name is resolved once and every address checked against the scan
	// policy: verification must not become a way to reach internal services.
	addr, err := targets.ResolveChecked(ctx, a.Resolver, pol, t)
	if err != nil {
		return "", strings.Join(append(reasons, "well-known file: "+err.Error()), "; "), nil
	}
	ok, why := a.checkWellKnown(ctx, t, addr, want)
	if ok {
		return "http", "", []string{addr.String()}
	}
	return "", strings.Join(append(reasons, why...), "; "), nil
}

// policyFor is the scan policy of a tenant: the platform's plus the ranges
// opened to it or an ancestor.
func (a *Activities) policyFor(ctx context.Context, tenant uuid.UUID) (targets.Policy, error) {
	return a.DB.TenantPolicy(ctx, a.Policy, tenant)
}

// wellKnownBudget bounds the whole well-known-file phase, inside the check's
// one-minute activity timeout (after DNS), however many ports are listed.
const wellKnownBudget = 40 * time.Second

// wellKnownParallel bounds the fetches in flight against one target.
const wellKnownParallel = 32

// checkWellKnown looks for the token at addr on every port that will be
// scanned: a target with a port list must serve it (over https or http) on
// each listed port, so proving one web server does not open the others to
// scanning; a bare name or address serves it on 443 or 80, a URL at its
// origin. The fetches run at once, a bounded number at a time, and a port
// is done at its first success: a port that accepts and never answers costs
// its own timeout, not everyone's. The reasons come back in URL order, so the
// message is the same from one check to the next.
func (a *Activities) checkWellKnown(ctx context.Context, t targets.Target, addr netip.Addr, token string) (bool, []string) {
	urls := t.WellKnownURLs()
	group := func(u string) int {
		if t.Kind == targets.KindURL || len(t.Ports) == 0 {
			return 0
		}
		return urlPort(u)
	}
	ctx, cancel := context.WithTimeout(ctx, wellKnownBudget)
	defer cancel()
	reasons := make([]string, len(urls))
	var mu sync.Mutex
	proven := map[int]bool{}
	need := map[int]bool{}
	for _, u := range urls {
		need[group(u)] = true
	}
	sem := make(chan struct{}, wellKnownParallel)
	var wg sync.WaitGroup
	for i, u := range urls {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			reasons[i] = u + ": not tried, time ran out"
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			mu.Lock()
			done := proven[group(u)]
			mu.Unlock()
			if done {
				return
			}
			ok, why := a.checkHTTP(ctx, t, addr, u, token)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				proven[group(u)] = true
				if len(proven) == len(need) {
					cancel()
				}
				return
			}
			reasons[i] = why
		})
	}
	wg.Wait()
	if len(proven) == len(need) {
		return true, nil
	}
	// Only the ports that failed explain the refusal.
	var out []string
	for i, u := range urls {
		if !proven[group(u)] && reasons[i] != "" {
			out = append(out, reasons[i])
		}
	}
	return false, out
}

// urlPort is the port a well-known URL is fetched from.
func urlPort(rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	if p := u.Port(); p != "" {
		return mustAtoi(p)
	}
	return map[string]int{"https": 443, "http": 80}[u.Scheme]
}

func (a *Activities) timeout() time.Duration {
	if a.Timeout > 0 {
		return a.Timeout
	}
	return 10 * time.Second
}

func (a *Activities) checkDNS(ctx context.Context, host, token string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout())
	defer cancel()
	return targets.CheckTXT(ctx, a.TXT, host, token)
}

// checkHTTP fetches rawURL from addr, the address probe resolved and the
// policy accepted, whatever the URL's host resolves to by now.
func (a *Activities) checkHTTP(ctx context.Context, t targets.Target, addr netip.Addr, rawURL, token string) (bool, string) {
	dialTo := netip.AddrPortFrom(addr, uint16(urlPort(rawURL))).String()
	d := &net.Dialer{Timeout: a.timeout()}
	client := &http.Client{
		Timeout: a.timeout(),
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, dialTo)
			},
			// The proof is the token served at an address the name resolves
			// to; a self-signed or expired certificate does not weaken it.
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: t.Host}, //nolint:gosec
			DisableKeepAlives: true,
		},
		// A redirect could lead anywhere, including past the policy.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return false, rawURL + ": " + err.Error()
	}
	req.Header.Set("User-Agent", "SecureOps-Verifier/1")
	resp, err := client.Do(req)
	if err != nil {
		return false, rawURL + ": " + shortNetErr(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("%s answered %d", rawURL, resp.StatusCode)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	for _, line := range strings.Split(string(body), "\n") {
		if targets.ProofMatches(line, token) {
			return true, ""
		}
	}
	return false, rawURL + " does not contain the verification token"
}

func shortNetErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Register binds the activities to their names in internal/contract/verify.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	verify.Check.Register(reg, a.Check)
	scan.ProveOwnership.Register(reg, a.Prove)
}
