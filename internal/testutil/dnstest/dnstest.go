// Package dnstest is a real, tiny DNS server on loopback UDP for tests: the
// Go resolver speaks the wire protocol to it, as it would to a tenant's name
// server, so ownership checks and scan-time resolution run unmodified.
package dnstest

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers A and TXT questions from its maps; every other name is
// NXDOMAIN. Names are lower case without the trailing dot.
type Server struct {
	mu  sync.Mutex
	TXT map[string][]string
	A   map[string]netip.Addr
}

// SetA points a name at an address (or, with an invalid one, removes it)
// while the server runs.
func (s *Server) SetA(name string, a netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.A == nil {
		s.A = map[string]netip.Addr{}
	}
	if !a.IsValid() {
		delete(s.A, name)
		return
	}
	s.A[name] = a
}

// SetTXT publishes (or replaces) a TXT record while the server runs.
func (s *Server) SetTXT(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.TXT == nil {
		s.TXT = map[string][]string{}
	}
	s.TXT[name] = values
}

// Start serves until the test ends and returns a resolver that asks only
// this server.
func (s *Server) Start(t testing.TB) *net.Resolver {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, err := s.answer(buf[:n]); err == nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func (s *Server) answer(req []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")
	s.mu.Lock()
	txt, hasTXT := s.TXT[name]
	a, hasA := s.A[name]
	s.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeNameError}
	if hasTXT || hasA {
		rh.RCode = dnsmessage.RCodeSuccess
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	rrh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	switch {
	case q.Type == dnsmessage.TypeTXT && hasTXT:
		for _, v := range txt { // one record per value, as zones usually hold them
			if err := b.TXTResource(rrh, dnsmessage.TXTResource{TXT: []string{v}}); err != nil {
				return nil, err
			}
		}
	case q.Type == dnsmessage.TypeA && hasA && a.Is4():
		if err := b.AResource(rrh, dnsmessage.AResource{A: a.As4()}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}
