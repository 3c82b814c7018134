package store

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/secretbox"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func sealKey(t *testing.T) *secretbox.Key {
	s, _ := secretbox.GenerateKey()
	k, err := secretbox.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The steps that write Postgres repeat nothing when run again (a retry or a
// reset), and a failed tenant restarted is a new attempt.
func TestOnboardingStoreStepsAreIdempotent(t *testing.T) {
	d := pgtest.New(t)
	h := d.OpenApp(t)
	ctx := context.Background()
	o := &Onboarding{DB: h, SealKey: sealKey(t)}
	in := onboarding.ReserveInput{TenantID: uuid.New(), Slug: "idem-co", CompanyName: "Idem Co", Tier: "basic", ContactName: "Ida"}

	r1, err := o.ReserveTenant(ctx, in)
	if err != nil || r1.Status != "onboarding" || r1.Attempt != 1 {
		t.Fatalf("reserve: %+v %v", r1, err)
	}
	if r2, err := o.ReserveTenant(ctx, in); err != nil || r2 != r1 {
		t.Fatalf("reserve again: %+v %v", r2, err)
	}
	k1, err := o.CreateInitialAPIKey(ctx, onboarding.KeyInput{TenantID: in.TenantID})
	if err != nil {
		t.Fatal(err)
	}
	if k2, err := o.CreateInitialAPIKey(ctx, onboarding.KeyInput{TenantID: in.TenantID}); err != nil || k2.APIKeyID != k1.APIKeyID {
		t.Fatalf("second key: %+v %v", k2, err)
	}
	if err := o.RecordScanPolicy(ctx, onboarding.PolicyInput{TenantID: in.TenantID, Tier: "basic", InitialTarget: "127.0.0.1:80"}); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordScanPolicy(ctx, onboarding.PolicyInput{TenantID: in.TenantID, Tier: "basic", InitialTarget: "127.0.0.1:80"}); err != nil {
		t.Fatal(err)
	}
	var keys []dbq.ApiKey
	var ik dbq.InitialApiKey
	err = h.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		if keys, err = db.Q.APIKeyList(ctx, tx, in.TenantID); err != nil {
			return err
		}
		ik, err = db.Q.InitialAPIKeyGet(ctx, tx, in.TenantID)
		return err
	})
	if err != nil || len(keys) != 1 || keys[0].Role != "client_admin" {
		t.Fatalf("keys %+v %v", keys, err)
	}
	// The sealed secret opens only for its tenant, and matches the stored hash.
	full, err := o.SealKey.Open(ik.Sealed, in.TenantID[:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.SealKey.Open(ik.Sealed, []byte("another tenant")); err == nil {
		t.Fatal("sealed secret opened for another tenant")
	}
	prefix, secret, err := auth.ParseAPIKey(string(full))
	if err != nil || prefix != keys[0].Prefix || !auth.SecretMatches(secret, keys[0].SecretHash) {
		t.Fatalf("sealed key does not match the stored hash: %v", err)
	}

	// Failed, then started again: a new attempt, back to onboarding.
	if err := o.FailTenant(ctx, onboarding.FailInput{TenantID: in.TenantID, Reason: "welcome_email: refused"}); err != nil {
		t.Fatal(err)
	}
	if r3, err := o.ReserveTenant(ctx, in); err != nil || r3.Status != "onboarding" || r3.Attempt != 2 {
		t.Fatalf("restart after failure: %+v %v", r3, err)
	}
	if st, err := o.ActivateTenant(ctx, onboarding.TenantInput{TenantID: in.TenantID}); err != nil || st != "active" {
		t.Fatalf("activate: %s %v", st, err)
	}
	// A replay after activation changes nothing.
	if r4, err := o.ReserveTenant(ctx, in); err != nil || r4.Status != "active" || r4.Attempt != 2 {
		t.Fatalf("replay after activation: %+v %v", r4, err)
	}
}

func TestPurgeExpiredInitialKeys(t *testing.T) {
	d := pgtest.New(t)
	h := d.OpenApp(t)
	ctx := context.Background()
	o := &Onboarding{DB: h, SealKey: sealKey(t)}
	fresh, stale := uuid.New(), uuid.New()
	for i, id := range []uuid.UUID{fresh, stale} {
		if _, err := o.ReserveTenant(ctx, onboarding.ReserveInput{TenantID: id, Slug: []string{"fresh-co", "stale-co"}[i], CompanyName: "Co", Tier: "pro"}); err != nil {
			t.Fatal(err)
		}
		if _, err := o.CreateInitialAPIKey(ctx, onboarding.KeyInput{TenantID: id}); err != nil {
			t.Fatal(err)
		}
	}
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	if _, err := super.Exec(ctx, "UPDATE initial_api_keys SET expires_at = now() - interval '1 minute' WHERE tenant_id = $1", stale); err != nil {
		t.Fatal(err)
	}
	n, err := o.PurgeExpiredInitialKeys(ctx)
	if err != nil || n != 1 {
		t.Fatalf("purged %d %v", n, err)
	}
	check := func(id uuid.UUID, wantSealed, wantRevoked bool) {
		t.Helper()
		var sealed, revoked bool
		if err := super.QueryRow(ctx, `SELECT i.sealed IS NOT NULL, k.revoked_at IS NOT NULL
			FROM initial_api_keys i JOIN api_keys k ON k.id = i.api_key_id WHERE i.tenant_id = $1`, id).Scan(&sealed, &revoked); err != nil {
			t.Fatal(err)
		}
		if sealed != wantSealed || revoked != wantRevoked {
			t.Errorf("tenant %s: sealed=%v revoked=%v", id, sealed, revoked)
		}
	}
	check(fresh, true, false)
	check(stale, false, true)
	if n, err := o.PurgeExpiredInitialKeys(ctx); err != nil || n != 0 {
		t.Fatalf("second purge %d %v", n, err)
	}
}
