package tenancy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
)

// APIKey is a tenant's machine credential (its secret is stored only as a hash).
type APIKey struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	Name       string
	Prefix     string
	Role       auth.Role
	Scopes     []string
	CreatedBy  *uuid.UUID
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	CreatedAt  time.Time
}

// APIKeyFromRow is the domain's view of a stored key.
func APIKeyFromRow(k dbq.ApiKey) APIKey {
	v := APIKey{ID: k.ID, TenantID: k.TenantID, Name: k.Name, Prefix: k.Prefix, Role: auth.Role(k.Role), Scopes: k.Scopes,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt}
	if k.CreatedBy.Valid {
		id := k.CreatedBy.UUID
		v.CreatedBy = &id
	}
	return v
}

// NewAPIKey is a request for a key.
type NewAPIKey struct {
	Name      string
	Role      auth.Role // empty: client_api
	Scopes    []string
	ExpiresAt *time.Time
}

// Validate checks a key request against what actor may grant: a key role, known
// scopes (at least one for client_api), admin keys only from owners, and an
// expiry in the future.
func (k *NewAPIKey) Validate(actor auth.Role, now time.Time) error {
	if len(k.Name) > 100 {
		return domainerr.InvalidField("name", "name must be at most 100 characters")
	}
	if k.Role == "" {
		k.Role = auth.RoleClientAPI
	}
	if !slices.Contains(auth.KeyRoles, k.Role) {
		return domainerr.InvalidField("role", "role must be client_admin, client_analyst, client_readonly or client_api")
	}
	if bad, ok := auth.ValidScopes(k.Scopes); !ok {
		return domainerr.InvalidField("scopes", fmt.Sprintf("unknown scope %q", bad))
	}
	if k.Role == auth.RoleClientAPI && len(k.Scopes) == 0 {
		return domainerr.InvalidField("scopes", "a client_api key needs at least one scope")
	}
	if k.Role == auth.RoleClientAdmin && !CanGrant(actor, auth.RoleClientAdmin) {
		return domainerr.New(domainerr.Forbidden, "you cannot create an admin key")
	}
	if k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
		return domainerr.InvalidField("expires_at", "expires_at must be in the future")
	}
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	return nil
}

// CreateAPIKey stores a validated key request with a fresh secret and returns
// the key and its secret (shown once, never stored).
func CreateAPIKey(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID, createdBy uuid.UUID, k NewAPIKey) (APIKey, string, error) {
	full, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		return APIKey{}, "", err
	}
	row, err := q.APIKeyCreate(ctx, tx, dbq.APIKeyCreateParams{
		TenantID: tenant, Name: k.Name, Prefix: prefix, SecretHash: hash, Role: string(k.Role),
		Scopes: k.Scopes, CreatedBy: uuid.NullUUID{UUID: createdBy, Valid: createdBy != uuid.Nil}, ExpiresAt: k.ExpiresAt,
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return APIKeyFromRow(row), full, nil
}

// ListAPIKeys lists the tenant's keys.
func ListAPIKeys(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID) ([]APIKey, error) {
	rows, err := q.APIKeyList(ctx, tx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]APIKey, len(rows))
	for i, k := range rows {
		out[i] = APIKeyFromRow(k)
	}
	return out, nil
}

// RevokeAPIKey revokes one of the tenant's keys; NotFound otherwise.
func RevokeAPIKey(ctx context.Context, tx dbq.DBTX, tenant, id uuid.UUID) (APIKey, error) {
	k, err := q.APIKeyRevoke(ctx, tx, dbq.APIKeyRevokeParams{ID: id, TenantID: tenant})
	if err != nil {
		return APIKey{}, notFound(err)
	}
	return APIKeyFromRow(k), nil
}

// KeyExceeds reports whether a key of keyRole with scopes could do
// something a member of memberRole cannot.
func KeyExceeds(keyRole auth.Role, scopes []string, memberRole auth.Role) bool {
	key := &auth.Access{Principal: &auth.Principal{APIKeyID: uuid.Max}, Role: keyRole}
	for _, s := range scopes {
		key.Principal.KeyScopes = append(key.Principal.KeyScopes, auth.Permission(s))
	}
	member := &auth.Access{Principal: &auth.Principal{}, Role: memberRole}
	for _, p := range auth.Permissions {
		if key.Can(p) && !member.Can(p) {
			return true
		}
	}
	return false
}

// revokeCreatedKeys revokes the live keys userID created that their
// membership at tenant governed, now that it ends (role "") or becomes role:
// every such key when it ends, those exceeding role otherwise. A key is
// governed by the membership when the user holds none closer to the key's
// tenant (a membership in a sub-tenant keeps its own keys). The transaction's
// scope (the tenant's subtree) bounds which keys are seen.
func revokeCreatedKeys(ctx context.Context, tx dbq.DBTX, tenant, userID uuid.UUID, role auth.Role) ([]APIKey, error) {
	rows, err := q.APIKeyListLiveByCreator(ctx, tx, uuid.NullUUID{UUID: userID, Valid: true})
	if err != nil {
		return nil, err
	}
	var out []APIKey
	for _, k := range rows {
		if role != "" && !KeyExceeds(auth.Role(k.Role), k.Scopes, role) {
			continue
		}
		governed, err := governedBy(ctx, tx, k.TenantID, tenant, userID)
		if err != nil {
			return nil, err
		}
		if !governed {
			continue
		}
		r, err := q.APIKeyRevoke(ctx, tx, dbq.APIKeyRevokeParams{ID: k.ID, TenantID: k.TenantID})
		if err != nil {
			return nil, err
		}
		out = append(out, APIKeyFromRow(r))
	}
	return out, nil
}

// governedBy reports whether from is tenant or below it with no membership
// of userID on the way up (tenant excluded).
func governedBy(ctx context.Context, tx dbq.DBTX, from, tenant, userID uuid.UUID) (bool, error) {
	t := from
	for depth := 0; t != tenant; depth++ {
		if depth > 64 {
			return false, nil
		}
		if _, err := q.MembershipGet(ctx, tx, dbq.MembershipGetParams{UserID: userID, TenantID: t}); err == nil {
			return false, nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return false, err
		}
		row, err := q.TenantGet(ctx, tx, t)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !row.ParentID.Valid) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		t = row.ParentID.UUID
	}
	return true, nil
}
