package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/faults"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/secretbox"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/tiers"
)

// InitialKeyValidity is how long the first API key's secret waits to be revealed.
const InitialKeyValidity = 7 * 24 * time.Hour

// Onboarding writes what onboarding sets up in Postgres. It acts as the
// platform (admin scope): the tenant has no members yet when it starts.
type Onboarding struct {
	DB      *db.DB
	SealKey *secretbox.Key
	// Policy decides which initial targets count as verified on sight.
	Policy targets.Policy
}

var platform = db.Scope{PlatformAdmin: true}

// ReserveTenant creates the tenant row in status onboarding, or takes over
// its own row on a retry or a restart after failure.
func (o *Onboarding) ReserveTenant(ctx context.Context, in onboarding.ReserveInput) (onboarding.ReserveResult, error) {
	settings, err := json.Marshal(map[string]any{
		"contact": map[string]string{"name": in.ContactName, "phone": in.Phone}, "industry": in.Industry,
	})
	if err != nil {
		return onboarding.ReserveResult{}, err
	}
	var t dbq.Tenant
	err = o.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		t, err = db.Q.OnboardingTenantReserve(ctx, tx, dbq.OnboardingTenantReserveParams{
			ID: in.TenantID, Slug: in.Slug, Name: in.CompanyName, Tier: in.Tier, Settings: settings,
		})
		if err != nil {
			return err
		}
		if t.CreatedAt.Equal(t.UpdatedAt) {
			return systemAudit(ctx, tx, t.ID, "tenant.created", "tenant", t.ID.String(), map[string]any{"slug": t.Slug, "tier": t.Tier, "via": "signup"})
		}
		return nil
	})
	if isUnique(err) {
		// The slug belongs to another tenant: only possible if it was taken
		// outside sign-up (an operator's CLI) after the reservation.
		return onboarding.ReserveResult{}, temporal.NewNonRetryableApplicationError("the company name is already taken", onboarding.ErrSlugTaken, err)
	}
	if err != nil {
		return onboarding.ReserveResult{}, err
	}
	faults.PauseFor(faults.OnboardingTenant, in.TenantID.String())
	return onboarding.ReserveResult{Status: t.Status, Attempt: int(t.OnboardingAttempt)}, nil
}

// CreateInitialAPIKey makes the tenant's first API key once: the hash goes
// to api_keys, the secret sealed under the application key waits for the
// owner to reveal it. The secret never leaves this activity otherwise.
func (o *Onboarding) CreateInitialAPIKey(ctx context.Context, in onboarding.KeyInput) (onboarding.KeyResult, error) {
	if o.SealKey == nil {
		return onboarding.KeyResult{}, temporal.NewNonRetryableApplicationError("SECUREOPS_SEAL_KEY is not configured", onboarding.ErrNotConfigured, nil)
	}
	var out onboarding.KeyResult
	err := o.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		if ik, err := db.Q.InitialAPIKeyGet(ctx, tx, in.TenantID); err == nil {
			out.APIKeyID = ik.ApiKeyID
			return nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		full, prefix, hash, err := auth.NewAPIKey()
		if err != nil {
			return err
		}
		sealed, err := o.SealKey.Seal([]byte(full), in.TenantID[:])
		if err != nil {
			return err
		}
		k, err := db.Q.APIKeyCreate(ctx, tx, dbq.APIKeyCreateParams{
			TenantID: in.TenantID, Name: "initial", Prefix: prefix, SecretHash: hash,
			Role: string(auth.RoleClientAdmin), Scopes: []string{},
		})
		if err != nil {
			return err
		}
		if err := db.Q.InitialAPIKeyCreate(ctx, tx, dbq.InitialAPIKeyCreateParams{
			TenantID: in.TenantID, ApiKeyID: k.ID, Sealed: sealed, ExpiresAt: time.Now().Add(InitialKeyValidity),
		}); err != nil {
			return err
		}
		out = onboarding.KeyResult{APIKeyID: k.ID, Prefix: prefix}
		return systemAudit(ctx, tx, in.TenantID, "apikey.created", "api_key", k.ID.String(), map[string]any{"prefix": prefix, "role": k.Role, "via": "onboarding"})
	})
	if err == nil {
		faults.PauseFor(faults.OnboardingAPIKey, in.TenantID.String())
	}
	return out, err
}

// RevokeInitialAPIKey revokes the key and erases its sealed secret
// (compensation). The revoked key stays listed, like any revoked key.
func (o *Onboarding) RevokeInitialAPIKey(ctx context.Context, in onboarding.RevokeKeyInput) error {
	return o.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.InitialAPIKeyDelete(ctx, tx, in.TenantID); err != nil {
			return err
		}
		return db.Q.OnboardingAPIKeyRevoke(ctx, tx, in.APIKeyID)
	})
}

// RecordScanPolicy records the tier's default scan policy and the target
// its weekly schedule will scan.
func (o *Onboarding) RecordScanPolicy(ctx context.Context, in onboarding.PolicyInput) error {
	t, ok := tiers.Get(in.Tier)
	if !ok {
		return temporal.NewNonRetryableApplicationError("unknown tier "+in.Tier, onboarding.ErrInvalidArgument, nil)
	}
	var target *string
	if in.InitialTarget != "" {
		target = &in.InitialTarget
	}
	scanners := in.Scanners // the installed ones, chosen at sign-up
	if len(scanners) == 0 {
		scanners = t.Scanners
	}
	return o.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.Q.TenantScanPolicyUpsert(ctx, tx, dbq.TenantScanPolicyUpsertParams{
			TenantID: in.TenantID, Tier: t.Name, Scanners: scanners, MaxConcurrentScans: int32(t.MaxConcurrentScans),
			ScheduleSeconds: int64(t.ScheduleInterval / time.Second), InitialTarget: target,
		})
		return err
	})
}

// DeleteScanPolicy removes the policy (compensation).
func (o *Onboarding) DeleteScanPolicy(ctx context.Context, in onboarding.TenantInput) error {
	return o.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.TenantScanPolicyDelete(ctx, tx, in.TenantID)
	})
}

// CreateBaselineScan registers the initial target (verified on sight where
// the policy allows it: loopback in dev and test) and, when it may be
// scanned, creates the scan row the child Scan workflow fills in. Existing
// rows (retry, reset) are left as they are.
func (o *Onboarding) CreateBaselineScan(ctx context.Context, in onboarding.BaselineInput) (onboarding.BaselineResult, error) {
	t, err := targets.Parse(in.Target)
	if err != nil {
		return onboarding.BaselineResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidArgument", err)
	}
	var res onboarding.BaselineResult
	err = o.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		target, _, err := targets.Register(ctx, tx, o.Policy, in.TenantID, t, "initial target")
		if err != nil {
			return err
		}
		res.TargetID = target.ID
		// Not scannable now: unproven, or an image the tier's network
		// scanners cannot scan (scans.ScannersFor). The workflow then skips
		// the baseline scan and its schedule.
		if _, ferr := scans.ScannersFor(target.Kind, in.Scanners); !target.Proven() || ferr != nil {
			res.NeedsVerification = true
			return nil
		}
		if exists, err := scans.Exists(ctx, tx, in.ScanID); err != nil || exists {
			return err
		}
		if _, err := scans.Insert(ctx, tx, scans.NewScan{
			ID: in.ScanID, TenantID: in.TenantID, TargetID: target.ID, Target: in.Target, Scanners: in.Scanners,
			WorkflowID: in.WorkflowID, Source: "scan", Complete: true,
		}); err != nil {
			return err
		}
		return systemAudit(ctx, tx, in.TenantID, "scan.started", "scan", in.ScanID.String(), map[string]any{"target": in.Target, "scanners": in.Scanners, "via": "onboarding"})
	})
	return res, err
}

// ActivateTenant makes the tenant active and audits it.
func (o *Onboarding) ActivateTenant(ctx context.Context, in onboarding.TenantInput) (string, error) {
	var status string
	err := o.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		before, err := db.Q.TenantGet(ctx, tx, in.TenantID)
		if err != nil {
			return err
		}
		t, err := db.Q.OnboardingTenantActivate(ctx, tx, in.TenantID)
		if err != nil {
			return err
		}
		status = t.Status
		if before.Status == "onboarding" && t.Status == "active" {
			return systemAudit(ctx, tx, in.TenantID, "tenant.activated", "tenant", in.TenantID.String(), map[string]any{"via": "onboarding", "attempt": t.OnboardingAttempt})
		}
		return nil
	})
	return status, err
}

// FailTenant leaves the tenant failed with the reason, after compensations.
func (o *Onboarding) FailTenant(ctx context.Context, in onboarding.FailInput) error {
	return o.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.OnboardingTenantFail(ctx, tx, dbq.OnboardingTenantFailParams{ID: in.TenantID, FailureReason: &in.Reason}); err != nil {
			return err
		}
		return systemAudit(ctx, tx, in.TenantID, "tenant.onboarding_failed", "tenant", in.TenantID.String(), map[string]any{"reason": in.Reason})
	})
}

// PurgeExpiredInitialKeys erases unrevealed first-key secrets older than a
// week and revokes their keys; the workers run it periodically.
func (o *Onboarding) PurgeExpiredInitialKeys(ctx context.Context) (int, error) {
	var n int
	err := o.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := db.Q.InitialAPIKeyPurgeExpired(ctx, tx)
		if err != nil {
			return err
		}
		n = len(rows)
		for _, r := range rows {
			if err := systemAudit(ctx, tx, r.TenantID, "apikey.revoked", "api_key", r.ID.String(), map[string]any{"reason": "initial key not revealed within 7 days"}); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

func systemAudit(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, action, targetType, targetID string, details any) error {
	b, err := json.Marshal(details)
	if err != nil {
		return err
	}
	return db.Q.AuditInsert(ctx, tx, dbq.AuditInsertParams{
		TenantID: tenant, Action: action, TargetType: targetType, TargetID: targetID, Details: b, RequestID: "onboarding",
	})
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
