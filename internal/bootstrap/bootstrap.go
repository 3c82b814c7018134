// Package bootstrap creates tenants, owners and API keys outside the HTTP API:
// for the operator CLI (`secureops admin …`), the dev seed and the tests. It
// works through the platform-admin policy, and audits like the API does.
package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/kratos"
)

var slugRun = regexp.MustCompile(`[^a-z0-9]+`)

// Slug is the default slug of a name: lower-cased, every run of other
// characters turned into '-'.
func Slug(name string) string {
	s := strings.Trim(slugRun.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	return s
}

// TenantInput describes a tenant to create.
type TenantInput struct {
	Name       string
	Slug       string // default Slug(Name)
	Tier       string // basic, pro, enterprise
	ParentSlug string
	OwnerEmail string // optional; needs a Kratos client
	OwnerName  string
	// OwnerPassword, when set, is given to a newly created identity (dev seed).
	OwnerPassword string
	// Existing returns the tenant instead of failing when the slug is taken.
	Existing bool
}

// Tenant is what CreateTenant made or found.
type Tenant struct {
	ID           uuid.UUID
	Slug         string
	OwnerID      uuid.UUID
	OwnerCreated bool
	Created      bool
}

// ErrSlugTaken is returned for an existing slug unless Existing is set.
var ErrSlugTaken = errors.New("tenant slug already taken")

var admin = db.Scope{PlatformAdmin: true}

// CreateTenant creates an active tenant and, when an owner email is given,
// the owner's Kratos identity (looked up first), user row and membership.
func CreateTenant(ctx context.Context, d *db.DB, kr *kratos.Client, in TenantInput) (Tenant, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return Tenant{}, errors.New("a tenant name is required")
	}
	if in.Slug == "" {
		in.Slug = Slug(in.Name)
	}
	if in.Tier == "" {
		in.Tier = "basic"
	}
	if !slices.Contains([]string{"basic", "pro", "enterprise"}, in.Tier) {
		return Tenant{}, fmt.Errorf("unknown tier %q (basic, pro, enterprise)", in.Tier)
	}
	var ident kratos.Identity
	if in.OwnerEmail != "" {
		if kr == nil {
			return Tenant{}, errors.New("an owner needs Kratos: set KRATOS_PUBLIC_URL and KRATOS_ADMIN_URL")
		}
		var err error
		if ident, err = kr.EnsureIdentity(ctx, in.OwnerEmail, in.OwnerName, in.OwnerPassword, nil); err != nil {
			return Tenant{}, err
		}
	}
	var out Tenant
	err := d.InTx(ctx, admin, func(ctx context.Context, tx pgx.Tx) error {
		t, err := db.Q.TenantGetBySlug(ctx, tx, in.Slug)
		switch {
		case err == nil && !in.Existing:
			return fmt.Errorf("%w: %s", ErrSlugTaken, in.Slug)
		case err == nil:
			out.ID, out.Slug = t.ID, t.Slug
		case errors.Is(err, pgx.ErrNoRows):
			var parent uuid.NullUUID
			if in.ParentSlug != "" {
				p, err := db.Q.TenantGetBySlug(ctx, tx, in.ParentSlug)
				if err != nil {
					return fmt.Errorf("parent %q: %w", in.ParentSlug, err)
				}
				parent = uuid.NullUUID{UUID: p.ID, Valid: true}
			}
			t, err = db.Q.TenantCreate(ctx, tx, dbq.TenantCreateParams{
				ID: uuid.New(), ParentID: parent, Slug: in.Slug, Name: in.Name, Tier: in.Tier, Status: "active",
			})
			if err != nil {
				return err
			}
			out.ID, out.Slug, out.Created = t.ID, t.Slug, true
			if err := systemAudit(ctx, tx, t.ID, "tenant.created", "tenant", t.ID.String(), map[string]any{"slug": t.Slug, "tier": t.Tier}); err != nil {
				return err
			}
		default:
			return err
		}
		if in.OwnerEmail == "" {
			return nil
		}
		out.OwnerID, out.OwnerCreated = ident.ID, ident.Created
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: ident.Email, Name: in.OwnerName}); err != nil {
			return err
		}
		if _, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: out.ID, Role: string(auth.RoleClientOwner)}); err != nil {
			return err
		}
		return systemAudit(ctx, tx, out.ID, "user.owner_assigned", "user", ident.ID.String(), map[string]any{"email": ident.Email})
	})
	return out, err
}

// CreateAPIKey creates a key for the tenant with the given slug and returns
// the full key, which is never stored.
func CreateAPIKey(ctx context.Context, d *db.DB, tenantSlug string, role auth.Role, scopes []string, name string) (string, uuid.UUID, error) {
	if !slices.Contains(auth.KeyRoles, role) {
		return "", uuid.Nil, fmt.Errorf("role %q cannot hold an API key (one of %v)", role, auth.KeyRoles)
	}
	if bad, ok := auth.ValidScopes(scopes); !ok {
		return "", uuid.Nil, fmt.Errorf("unknown scope %q", bad)
	}
	if role == auth.RoleClientAPI && len(scopes) == 0 {
		return "", uuid.Nil, errors.New("a client_api key needs at least one scope")
	}
	if scopes == nil {
		scopes = []string{}
	}
	full, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		return "", uuid.Nil, err
	}
	var id uuid.UUID
	err = d.InTx(ctx, admin, func(ctx context.Context, tx pgx.Tx) error {
		t, err := db.Q.TenantGetBySlug(ctx, tx, tenantSlug)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", tenantSlug, err)
		}
		k, err := db.Q.APIKeyCreate(ctx, tx, dbq.APIKeyCreateParams{
			TenantID: t.ID, Name: name, Prefix: prefix, SecretHash: hash, Role: string(role), Scopes: scopes,
		})
		if err != nil {
			return err
		}
		id = k.ID
		return systemAudit(ctx, tx, t.ID, "apikey.created", "api_key", k.ID.String(), map[string]any{"prefix": prefix, "role": role, "via": "cli"})
	})
	return full, id, err
}

// SetPlatformAdmin marks a user (who must exist) as platform admin.
func SetPlatformAdmin(ctx context.Context, d *db.DB, userID uuid.UUID, email, name string) error {
	return d.InTx(ctx, admin, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: userID, Email: email, Name: name}); err != nil {
			return err
		}
		return db.Q.UserSetPlatformAdmin(ctx, tx, dbq.UserSetPlatformAdminParams{ID: userID, IsPlatformAdmin: true})
	})
}

// systemAudit records a change made by an operator tool (no user actor).
func systemAudit(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, action, targetType, targetID string, details any) error {
	b, err := json.Marshal(details)
	if err != nil {
		return err
	}
	return db.Q.AuditInsert(ctx, tx, dbq.AuditInsertParams{
		TenantID: tenant, Action: action, TargetType: targetType, TargetID: targetID, Details: b, RequestID: "cli",
	})
}
