package checks

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// testKey is shared by every test certificate: RSA key generation dominates
// the run time otherwise, and RSA (not ECDSA) is needed for the RSA key
// exchange and ECDHE-RSA suites the weak-cipher probes offer.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var serial int64 = 1000
var serialMu sync.Mutex

type certSpec struct {
	cn        string
	dns       []string
	ips       []net.IP
	notBefore time.Time
	notAfter  time.Time
	isCA      bool
}

// issue signs spec with parent (self-signed when parent is nil).
func issue(t *testing.T, spec certSpec, parent *x509.Certificate) *x509.Certificate {
	t.Helper()
	serialMu.Lock()
	serial++
	sn := big.NewInt(serial)
	serialMu.Unlock()
	if spec.notBefore.IsZero() {
		spec.notBefore = time.Now().Add(-time.Hour)
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: spec.cn, Organization: []string{"SecureOps test"}},
		DNSNames:     spec.dns,
		IPAddresses:  spec.ips,
		NotBefore:    spec.notBefore,
		NotAfter:     spec.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if spec.isCA {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = nil
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &testKey().PublicKey, testKey())
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pki is a test CA the checks are told to trust, and one they are not.
type pki struct {
	ca, otherCA *x509.Certificate
	pool        *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	// Roots predate every leaf, as real ones do, so an expired leaf was
	// once validly issued.
	from := time.Now().Add(-5 * 365 * 24 * time.Hour)
	until := time.Now().Add(10 * 365 * 24 * time.Hour)
	p := &pki{
		ca:      issue(t, certSpec{cn: "SecureOps Test Root", isCA: true, notBefore: from, notAfter: until}, nil),
		otherCA: issue(t, certSpec{cn: "Unknown Test Root", isCA: true, notBefore: from, notAfter: until}, nil),
		pool:    x509.NewCertPool(),
	}
	p.pool.AddCert(p.ca)
	return p
}

func chain(certs ...*x509.Certificate) tls.Certificate {
	tc := tls.Certificate{PrivateKey: testKey(), Leaf: certs[0]}
	for _, c := range certs {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc
}

// serve starts h on 127.0.0.1, over TLS when cert is non-nil, and returns
// the address to dial.
func serve(t *testing.T, h http.Handler, cert *tls.Certificate, tune func(*tls.Config)) netip.AddrPort {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	// The probes provoke handshake failures on purpose; keep them out of the
	// test log.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if cert != nil {
		s.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		if tune != nil {
			tune(s.TLS)
		}
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return netip.MustParseAddrPort(s.Listener.Addr().String())
}

// hardened sets every header the checks look for, so a scenario's findings
// come only from what it is about.
func hardened(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	h.Set("Content-Security-Policy", "default-src 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

// site serves a hardened home page at / (with a well-flagged cookie), the
// given extra paths, and a plain 404 for everything else.
func site(extra map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hardened(w)
		if body, ok := extra[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, body)
			return
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s3cr3t", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><html><head><title>Home</title></head><body>hello</body></html>")
	})
}
