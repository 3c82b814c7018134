package scanner

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/secureops/secureops/internal/targets"
)

// endpoint is one web server the web scanners (nikto, zap, the native
// checks) look at: a port on the vetted address, spoken to over TLS or not,
// under a base path.
type endpoint struct {
	Port int
	TLS  bool
	Path string // unescaped, "/" at least
}

// probeTimeout bounds the TCP connect and TLS handshake of one probe.
const probeTimeout = 5 * time.Second

// webEndpoints decides where the web scanners go:
//   - a url target: its port, TLS for https, its path;
//   - a host or domain with ports: each of them, TLS when a TLS handshake
//     there gets an answer (ports are used for anything, so the number says
//     little, and nikto cannot tell a TLS port that answers plain HTTP with
//     a 400);
//   - without ports: 443 and 80, each with TLS as the probe finds it.
//
// Ports that refuse the connection are left out: nothing listens there, so
// there is nothing to scan, as for nmap's closed ports. The result keeps
// the target's port order.
func webEndpoints(ctx context.Context, j job) []endpoint {
	if j.t.Kind == targets.KindURL {
		u, err := url.Parse(j.t.URL)
		if err == nil {
			if !portOpen(ctx, j.addr, j.t.Port) {
				return nil
			}
			return []endpoint{{Port: j.t.Port, TLS: u.Scheme == "https", Path: u.Path}}
		}
	}
	ports := []int{443, 80}
	if len(j.t.Ports) > 0 {
		ports = j.t.Ports
	}
	sni := ""
	if !j.t.IsIP() {
		sni = j.t.Host
	}
	// Probed in parallel: a filtered port costs a whole probeTimeout, and a
	// target may list up to targets.MaxPorts of them.
	found := make([]*endpoint, len(ports))
	sem := make(chan struct{}, probeParallel)
	var wg sync.WaitGroup
	for i, p := range ports {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if open, isTLS := probe(ctx, j.addr, p, sni); open {
				found[i] = &endpoint{Port: p, TLS: isTLS, Path: "/"}
			}
		}()
	}
	wg.Wait()
	var out []endpoint
	for _, ep := range found {
		if ep != nil {
			out = append(out, *ep)
		}
	}
	return out
}

// probeParallel bounds the probes in flight against one target.
const probeParallel = 16

func portOpen(ctx context.Context, addr netip.Addr, port int) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, uint16(port)).String())
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// probe reports whether addr:port accepts connections and whether it speaks
// TLS.
func probe(ctx context.Context, addr netip.Addr, port int, sni string) (open, isTLS bool) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, uint16(port)).String())
	if err != nil {
		return false, false
	}
	defer c.Close()
	// Not verifying: this only asks whether the port speaks TLS; the
	// scanners judge the certificate.
	tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS10}) //nolint:gosec
	return true, spokeTLS(tc.HandshakeContext(ctx))
}

// spokeTLS tells a TLS server that refused our handshake from a server that
// does not speak TLS. A server offering only versions or ciphers Go's client
// refuses still speaks TLS (and the checks exist to report exactly that): it
// answers with an alert, or with a ServerHello Go objects to. A plain HTTP
// server answers with something that is not a TLS record, or times out or
// hangs up.
func spokeTLS(err error) bool {
	if err == nil {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return true
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return false
	}
	return strings.HasPrefix(err.Error(), "tls: ")
}
