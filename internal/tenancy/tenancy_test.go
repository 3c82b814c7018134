package tenancy

import (
	"testing"
	"time"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/domainerr"
)

func TestCanGrant(t *testing.T) {
	cases := []struct {
		actor, role auth.Role
		want        bool
	}{
		{auth.RoleClientOwner, auth.RoleClientOwner, true},
		{auth.RolePlatformAdmin, auth.RoleClientOwner, true},
		{auth.RoleClientAdmin, auth.RoleClientOwner, false},
		{auth.RoleClientAdmin, auth.RoleClientAnalyst, true},
		{auth.RoleClientAnalyst, auth.RoleClientReadonly, false},
		{auth.RoleClientOwner, auth.RolePlatformAdmin, false},
	}
	for _, c := range cases {
		if got := CanGrant(c.actor, c.role); got != c.want {
			t.Errorf("CanGrant(%s, %s) = %v, want %v", c.actor, c.role, got, c.want)
		}
	}
}

func TestInviteValidate(t *testing.T) {
	in := Invite{Email: "Ana@Example.com"}
	if err := in.Validate(auth.RoleClientAdmin); err != nil || in.Email != "ana@example.com" || in.Role != auth.RoleClientAnalyst {
		t.Fatalf("defaults: %+v %v", in, err)
	}
	for _, c := range []struct {
		in    Invite
		actor auth.Role
		kind  domainerr.Kind
	}{
		{Invite{Email: "Ana <ana@example.com>"}, auth.RoleClientOwner, domainerr.Invalid},
		{Invite{Email: "ana@example.com", Role: "root"}, auth.RoleClientOwner, domainerr.Invalid},
		{Invite{Email: "ana@example.com", Role: auth.RoleClientOwner}, auth.RoleClientAdmin, domainerr.Forbidden},
	} {
		if err := c.in.Validate(c.actor); !domainerr.Is(err, c.kind) {
			t.Errorf("%+v by %s: %v, want kind %d", c.in, c.actor, err, c.kind)
		}
	}
}

func TestNewAPIKeyValidate(t *testing.T) {
	now := time.Now()
	k := NewAPIKey{Scopes: []string{}}
	if err := k.Validate(auth.RoleClientOwner, now); !domainerr.Is(err, domainerr.Invalid) {
		t.Fatalf("a client_api key without scopes: %v", err)
	}
	admin := NewAPIKey{Role: auth.RoleClientAdmin}
	if err := admin.Validate(auth.RoleClientAnalyst, now); !domainerr.Is(err, domainerr.Forbidden) {
		t.Fatalf("an admin key from an analyst: %v", err)
	}
	past := now.Add(-time.Hour)
	expired := NewAPIKey{Role: auth.RoleClientReadonly, ExpiresAt: &past}
	if err := expired.Validate(auth.RoleClientOwner, now); !domainerr.Is(err, domainerr.Invalid) {
		t.Fatalf("expiry in the past: %v", err)
	}
	ro := NewAPIKey{Role: auth.RoleClientReadonly}
	if err := ro.Validate(auth.RoleClientAdmin, now); err != nil || ro.Scopes == nil {
		t.Fatalf("readonly key: %+v %v", ro, err)
	}
}

func TestChildValidate(t *testing.T) {
	c := Child{Name: "  Acme EU  "}
	if err := c.Validate(); err != nil || c.Name != "Acme EU" || c.Slug == "" {
		t.Fatalf("child: %+v %v", c, err)
	}
	bad := Child{Name: "Acme", Slug: "Acme--EU"}
	if err := bad.Validate(); !domainerr.Is(err, domainerr.Invalid) {
		t.Fatalf("bad slug: %v", err)
	}
	if n, err := TeamName("  red  "); err != nil || n != "red" {
		t.Fatalf("team name: %q %v", n, err)
	}
}

func TestKeyExceeds(t *testing.T) {
	cases := []struct {
		key    auth.Role
		scopes []string
		member auth.Role
		want   bool
	}{
		{auth.RoleClientAnalyst, nil, auth.RoleClientReadonly, true},
		{auth.RoleClientReadonly, nil, auth.RoleClientReadonly, false},
		{auth.RoleClientAdmin, nil, auth.RoleClientAnalyst, true},
		{auth.RoleClientAnalyst, nil, auth.RoleClientAdmin, false},
		{auth.RoleClientAPI, []string{"findings:view"}, auth.RoleClientReadonly, false},
		{auth.RoleClientAPI, []string{"findings:view", "scans:start"}, auth.RoleClientReadonly, true},
		{auth.RoleClientAnalyst, []string{"findings:view"}, auth.RoleClientReadonly, false},
	}
	for _, c := range cases {
		if got := KeyExceeds(c.key, c.scopes, c.member); got != c.want {
			t.Errorf("KeyExceeds(%s %v, %s) = %v, want %v", c.key, c.scopes, c.member, got, c.want)
		}
	}
}
