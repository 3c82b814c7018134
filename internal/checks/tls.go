package checks

// What crypto/tls in Go 1.26 can and cannot probe, and why the probes below
// look the way they do:
//
//   - Versions. The client default minimum is TLS 1.2, but an explicit
//     Config.MinVersion of VersionTLS10/VersionTLS11 still enables them; only
//     the server side needs GODEBUG tls10server=1, and only for its default.
//     Pinning MinVersion == MaxVersion makes a handshake succeed exactly when
//     the server accepts that version. SSL 3.0 was removed from crypto/tls in
//     Go 1.14 and cannot be offered at all, so it is not probed.
//   - Cipher suites. The GODEBUG settings tlsrsakex (Go 1.22) and tls3des
//     (Go 1.23) only govern the *default* list: Config.cipherSuites keeps every
//     implemented suite the caller lists explicitly, so RC4, 3DES and static
//     RSA key exchange suites are offered when named in Config.CipherSuites,
//     whatever GODEBUG says (tls.InsecureCipherSuites lists them). Each weak
//     suite is offered alone, capped at TLS 1.2 (TLS 1.3 suites are fixed and
//     all strong), so a completed handshake proves the server accepts it.
//   - Not probeable from Go: suites crypto/tls never implemented (EXPORT,
//     NULL, anonymous DH, single DES, IDEA, SEED, Camellia, ARIA) and every
//     finite-field DHE suite, so weak DH parameters (Logjam) cannot be tested;
//     a server that accepts TLS 1.0/1.1 only with DHE suites therefore goes
//     unreported too. Probing those needs hand-built ClientHellos, which this
//     package does not do rather than guess.
//   - ECDHE with AES-CBC-SHA1 is accepted by most servers, including Go's own
//     default configuration; it is not reported, since flagging it would
//     bury the findings above in noise.
//   - In FIPS 140-3 mode (GODEBUG fips140=only, or crypto/tls/fipsonly) the
//     client refuses non-approved versions and suites, so the legacy probes
//     find nothing; the certificate checks still work.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/secureops/secureops/internal/findings"
)

// allSuites is every TLS 1.0–1.2 suite crypto/tls implements, insecure ones
// included: the certificate and version probes must reach old servers whose
// only suites Go no longer offers by default.
func allSuites() []uint16 {
	var ids []uint16
	for _, cs := range tls.CipherSuites() {
		ids = append(ids, cs.ID)
	}
	for _, cs := range tls.InsecureCipherSuites() {
		ids = append(ids, cs.ID)
	}
	return ids
}

// tlsConfig is the permissive client configuration every handshake starts
// from. Verification is skipped here and done by checkCertificate, which can
// tell the failure reasons apart.
func (s *scan) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName:         s.sni,
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS10,
		MaxVersion:         tls.VersionTLS13,
		CipherSuites:       allSuites(),
		NextProtos:         []string{"http/1.1"},
	}
}

// handshake dials the vetted address and completes a TLS handshake with cfg.
func (s *scan) handshake(ctx context.Context, cfg *tls.Config) (tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", s.in.Addr.String())
	if err != nil {
		return tls.ConnectionState{}, err
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, err
	}
	return conn.ConnectionState(), nil
}

func (s *scan) checkCertificate(ctx context.Context) error {
	st, err := s.handshake(ctx, s.tlsConfig())
	if err != nil {
		return fmt.Errorf("TLS handshake with %s (%s): %w", s.in.Host, s.in.Addr, err)
	}
	if len(st.PeerCertificates) == 0 {
		return fmt.Errorf("TLS handshake with %s (%s): server sent no certificate", s.in.Host, s.in.Addr)
	}
	leaf := st.PeerCertificates[0]
	ev := certEvidence(leaf)

	switch {
	case s.now.After(leaf.NotAfter):
		s.add(RuleTLSExpired, "", fmt.Sprintf("expired %s ago\n%s", s.now.Sub(leaf.NotAfter).Round(time.Minute), ev), "")
	case s.now.Before(leaf.NotBefore):
		s.add(RuleTLSNotYetValid, "", fmt.Sprintf("valid only in %s\n%s", leaf.NotBefore.Sub(s.now).Round(time.Minute), ev), "")
	case leaf.NotAfter.Sub(s.now) < expiryWarning:
		s.add(RuleTLSExpiringSoon, "", fmt.Sprintf("expires in %s\n%s", leaf.NotAfter.Sub(s.now).Round(time.Minute), ev), "")
	}

	if err := leaf.VerifyHostname(s.in.Host); err != nil {
		s.add(RuleTLSHostnameMismatch, "", fmt.Sprintf("host: %s\n%s", s.in.Host, ev), "")
	}

	if ruleID, detail := s.verifyChain(st.PeerCertificates); ruleID != "" {
		s.add(ruleID, "", detail+"\n"+ev, "")
	}
	return nil
}

// verifyChain judges trust apart from the leaf's own dates (reported by their
// own rules) and host name: it returns the rule that applies, if any.
func (s *scan) verifyChain(certs []*x509.Certificate) (ruleID, detail string) {
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{
		Roots:         s.roots,
		Intermediates: inter,
		CurrentTime:   s.now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	_, err := leaf.Verify(opts)
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired && (s.now.After(leaf.NotAfter) || s.now.Before(leaf.NotBefore)) {
		// The leaf's dates are already a finding; ask whether the chain would
		// be trusted while the leaf is valid, so an expired certificate from a
		// good CA is not also called untrusted.
		opts.CurrentTime = leaf.NotAfter
		if s.now.Before(leaf.NotBefore) {
			opts.CurrentTime = leaf.NotBefore
		}
		_, err = leaf.Verify(opts)
	}
	if err == nil {
		return "", ""
	}
	var noRoots x509.SystemRootsError
	if errors.As(err, &noRoots) {
		// Without trust anchors nothing can be judged; saying "untrusted" for
		// every certificate would be a false positive on this machine's
		// configuration, not the target's.
		return "", ""
	}
	if isSelfSigned(leaf) {
		return RuleTLSSelfSigned, "the leaf certificate is signed by its own key and is not a trusted root"
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		issuer := leaf.Issuer.String()
		if top := certs[len(certs)-1]; top != leaf {
			issuer = top.Issuer.String()
		}
		return RuleTLSUntrustedIssuer, fmt.Sprintf("chain of %d certificate(s) does not lead to a trusted root; untrusted issuer: %s", len(certs), issuer)
	}
	return RuleTLSInvalidChain, "chain validation failed: " + err.Error()
}

// isSelfSigned reports whether the certificate names itself as issuer and its
// signature verifies with its own key. CheckSignature is used rather than
// CheckSignatureFrom, which insists the signer be a CA and would miss the
// common self-signed leaf without basic constraints.
func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func certEvidence(c *x509.Certificate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "subject: %s\nissuer: %s\n", c.Subject, c.Issuer)
	if len(c.DNSNames) > 0 {
		fmt.Fprintf(&b, "DNS names: %s\n", strings.Join(c.DNSNames, ", "))
	}
	if len(c.IPAddresses) > 0 {
		ips := make([]string, len(c.IPAddresses))
		for i, ip := range c.IPAddresses {
			ips[i] = ip.String()
		}
		fmt.Fprintf(&b, "IP addresses: %s\n", strings.Join(ips, ", "))
	}
	sum := sha256.Sum256(c.Raw)
	fmt.Fprintf(&b, "not before: %s\nnot after: %s\nserial: %s\nSHA-256: %s",
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339),
		c.SerialNumber.Text(16), hex.EncodeToString(sum[:]))
	return b.String()
}

func (s *scan) checkVersions(ctx context.Context) error {
	for _, v := range []struct {
		version uint16
		ruleID  string
	}{
		{tls.VersionTLS10, RuleTLS10},
		{tls.VersionTLS11, RuleTLS11},
	} {
		if err := ctx.Err(); err != nil {
			return err
		}
		cfg := s.tlsConfig()
		cfg.MinVersion, cfg.MaxVersion = v.version, v.version
		// Any failure counts as refusal, a timeout included: a finding needs
		// a completed handshake as proof.
		st, err := s.handshake(ctx, cfg)
		if err != nil || st.Version != v.version {
			continue
		}
		s.add(v.ruleID, "", fmt.Sprintf("handshake completed with %s using %s",
			tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)), "")
	}
	return ctx.Err()
}

// weakSuites are the weak suites Go can still offer, with why each is weak.
var weakSuites = []struct {
	id       uint16
	why      string
	severity findings.Severity
}{
	{tls.TLS_RSA_WITH_RC4_128_SHA, "RC4", findings.SeverityHigh},
	{tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "RC4", findings.SeverityHigh},
	{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "RC4", findings.SeverityHigh},
	{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "3DES, 64-bit block (Sweet32)", findings.SeverityMedium},
	{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "3DES, 64-bit block (Sweet32)", findings.SeverityMedium},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA, "static RSA key exchange, no forward secrecy", findings.SeverityLow},
	{tls.TLS_RSA_WITH_AES_256_CBC_SHA, "static RSA key exchange, no forward secrecy", findings.SeverityLow},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "static RSA key exchange, no forward secrecy", findings.SeverityLow},
	{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "static RSA key exchange, no forward secrecy", findings.SeverityLow},
	{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "static RSA key exchange, no forward secrecy", findings.SeverityLow},
}

func (s *scan) checkCiphers(ctx context.Context) error {
	var accepted []string
	var worst findings.Severity = findings.SeverityInfo
	for _, ws := range weakSuites {
		if err := ctx.Err(); err != nil {
			return err
		}
		cfg := s.tlsConfig()
		cfg.MaxVersion = tls.VersionTLS12
		cfg.CipherSuites = []uint16{ws.id}
		st, err := s.handshake(ctx, cfg)
		if err != nil || st.CipherSuite != ws.id {
			continue
		}
		accepted = append(accepted, fmt.Sprintf("%s (%s, %s)", tls.CipherSuiteName(ws.id), ws.why, tls.VersionName(st.Version)))
		if ws.severity.Rank() > worst.Rank() {
			worst = ws.severity
		}
	}
	if len(accepted) > 0 {
		s.add(RuleTLSWeakCipher, "", "accepted when offered alone:\n"+strings.Join(accepted, "\n"), worst)
	}
	return ctx.Err()
}
