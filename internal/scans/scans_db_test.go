package scans_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The rules over a real, tenant-scoped transaction: registration verifies
// loopback on sight in dev, a scan of an unproven target is refused by both
// Create (the API) and Authorize (the workflow), and the limit is the tier's.
func TestCreateAndAuthorize(t *testing.T) {
	d := pgtest.New(t)
	h := d.OpenApp(t)
	ctx := context.Background()
	tenant := uuid.New()
	if err := h.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.Q.TenantCreate(ctx, tx, dbq.TenantCreateParams{ID: tenant, Slug: "rules-co", Name: "Rules Co", Tier: "pro", Status: "active"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rules := scans.Rules{Policy: targets.Policy{LoopbackOnly: true}, Limits: scans.Limits{"pro": 10}}
	inTenant := func(fn func(ctx context.Context, tx pgx.Tx) error) error {
		return h.InTx(ctx, db.TenantScope(tenant), fn)
	}

	// By value: loopback is registered and verified on sight, then scanned.
	req, err := rules.NewRequest(nil, "127.0.0.1:8080", nil)
	if err != nil {
		t.Fatal(err)
	}
	scanID := uuid.New()
	var c scans.Created
	if err := inTenant(func(ctx context.Context, tx pgx.Tx) error {
		c, err = rules.Create(ctx, tx, tenant, scanID, "scan/"+scanID.String(), req)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if c.Gate.Limit != 10 || c.Gate.TenantID != tenant || !c.Target.Proven() || c.Scan.Status != "queued" || len(c.Scan.Scanners) != 1 || c.Scan.Scanners[0] != "nmap" {
		t.Fatalf("created %+v", c)
	}
	var auth scans.Authorization
	if err := inTenant(func(ctx context.Context, tx pgx.Tx) error {
		auth, err = scans.Authorize(ctx, tx, rules.Limits, tenant, scanID)
		return err
	}); err != nil || auth.Limit != 10 || auth.Tier != "pro" || !auth.RequestedAt.Equal(c.Scan.CreatedAt) {
		t.Fatalf("authorize: %+v %v", auth, err)
	}

	// A name: registered unverified; Create and Authorize refuse it alike.
	name, _ := targets.Parse("example.com")
	var reg targets.Registered
	var created bool
	if err := inTenant(func(ctx context.Context, tx pgx.Tx) error {
		reg, created, err = targets.Register(ctx, tx, rules.Policy, tenant, name, "site")
		return err
	}); err != nil || !created || reg.Verification.Status != targets.StatusUnverified {
		t.Fatalf("register: %+v %v %v", reg, created, err)
	}
	err = inTenant(func(ctx context.Context, tx pgx.Tx) error {
		_, err := rules.Create(ctx, tx, tenant, uuid.New(), "scan/x", scans.Request{TargetID: &reg.ID})
		return err
	})
	if !domainerr.Is(err, domainerr.NotVerified) {
		t.Fatalf("create on an unproven target: %v", err)
	}
	unproven := uuid.New()
	if err := inTenant(func(ctx context.Context, tx pgx.Tx) error {
		_, err := scans.Insert(ctx, tx, scans.NewScan{ID: unproven, TenantID: tenant, TargetID: reg.ID, Target: reg.Value,
			Scanners: []string{"nmap"}, WorkflowID: "scan/" + unproven.String(), Source: "scan", Complete: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	err = inTenant(func(ctx context.Context, tx pgx.Tx) error {
		_, err := scans.Authorize(ctx, tx, rules.Limits, tenant, unproven)
		return err
	})
	if !domainerr.Is(err, domainerr.NotVerified) {
		t.Fatalf("authorize an unproven target: %v", err)
	}
	// A scan that is gone is NotFound, not NotVerified.
	err = inTenant(func(ctx context.Context, tx pgx.Tx) error {
		_, err := scans.Authorize(ctx, tx, rules.Limits, tenant, uuid.New())
		return err
	})
	if !domainerr.Is(err, domainerr.NotFound) {
		t.Fatalf("authorize a missing scan: %v", err)
	}
	// Registering again returns the same target.
	if err := inTenant(func(ctx context.Context, tx pgx.Tx) error {
		again, created, err := targets.Register(ctx, tx, rules.Policy, tenant, name, "")
		if err == nil && (created || again.ID != reg.ID) {
			t.Errorf("second registration: %+v %v", again, created)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// A sub-tenant's scans queue at its root's gate with the root's plan limit:
// a tree shares the paying tenant's concurrent scans, however many
// sub-tenants it has and whatever their own tiers say.
func TestSubTenantsShareTheRootsGate(t *testing.T) {
	d := pgtest.New(t)
	h := d.OpenApp(t)
	ctx := context.Background()
	root, child, grandchild := uuid.New(), uuid.New(), uuid.New()
	if err := h.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		for _, tn := range []dbq.TenantCreateParams{
			{ID: root, Slug: "root-co", Name: "Root", Tier: "basic", Status: "active"},
			{ID: child, ParentID: uuid.NullUUID{UUID: root, Valid: true}, Slug: "child-co", Name: "Child", Tier: "pro", Status: "active"},
			{ID: grandchild, ParentID: uuid.NullUUID{UUID: child, Valid: true}, Slug: "grand-co", Name: "Grand", Tier: "pro", Status: "active"},
		} {
			if _, err := db.Q.TenantCreate(ctx, tx, tn); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	l := scans.Limits{"basic": 2, "pro": 10}
	for _, tn := range []uuid.UUID{root, child, grandchild} {
		var g scans.Gate
		// Each in its own scope: a sub-tenant cannot read its ancestors' rows.
		err := h.InTx(ctx, db.TenantScope(tn), func(ctx context.Context, tx pgx.Tx) error {
			var err error
			g, err = scans.GateOf(ctx, tx, l, tn)
			return err
		})
		if err != nil || g.TenantID != root || g.Limit != 2 || g.Tier != "basic" {
			t.Errorf("gate of %s: %+v %v, want the root's (limit 2)", tn, g, err)
		}
	}
}
