package targets

import (
	"testing"
	"time"

	"github.com/secureops/secureops/internal/domainerr"
)

func TestInitialVerification(t *testing.T) {
	dev := Policy{LoopbackOnly: true}
	now := time.Now()
	img, _ := Parse("image:nginx:1.27")
	loop, _ := Parse("127.0.0.1:8080")
	name, _ := Parse("example.com")
	if s, _, _ := dev.InitialVerification(img, now); s != StatusNotRequired {
		t.Errorf("image: %s", s)
	}
	if s, m, at := dev.InitialVerification(loop, now); s != StatusVerified || m != "auto" || at == nil {
		t.Errorf("loopback in dev: %s %s %v", s, m, at)
	}
	if s, _, _ := dev.InitialVerification(name, now); s != StatusUnverified || s.Proven() {
		t.Errorf("name: %s", s)
	}
	if s, _, _ := (Policy{}).InitialVerification(loop, now); s != StatusUnverified {
		t.Errorf("loopback in production: %s", s)
	}
}

func TestRequireProven(t *testing.T) {
	r := Registered{Value: "example.com", Verification: Verification{Status: StatusPending}}
	if err := r.RequireProven(); !domainerr.Is(err, domainerr.NotVerified) {
		t.Fatalf("pending: %v", err)
	}
	for _, s := range []VerificationStatus{StatusVerified, StatusNotRequired} {
		r.Verification.Status = s
		if err := r.RequireProven(); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestNewRegistration(t *testing.T) {
	if _, _, err := NewRegistration("planet", "x", ""); !domainerr.Is(err, domainerr.Invalid) {
		t.Fatalf("unknown kind: %v", err)
	} else if de, _ := domainerr.As(err); de.Fields[0].Field != "kind" {
		t.Fatalf("unknown kind names %s", de.Fields[0].Field)
	}
	if _, name, err := NewRegistration("domain", "example.com", "  site "); err != nil || name != "site" {
		t.Fatalf("domain: %q %v", name, err)
	}
}
