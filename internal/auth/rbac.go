// Package auth defines who a caller is (Principal) and what each role may do.
// The permission matrix is the product's contract; it lives in one table here
// and the API enforces it on every route.
package auth

import (
	"slices"

	"github.com/google/uuid"
)

// Role of a user in a tenant (or of an API key).
type Role string

const (
	RolePlatformAdmin  Role = "platform_admin"
	RoleClientOwner    Role = "client_owner"
	RoleClientAdmin    Role = "client_admin"
	RoleClientAnalyst  Role = "client_analyst"
	RoleClientReadonly Role = "client_readonly"
	RoleClientAPI      Role = "client_api"
)

// Roles lists every role.
var Roles = []Role{RolePlatformAdmin, RoleClientOwner, RoleClientAdmin, RoleClientAnalyst, RoleClientReadonly, RoleClientAPI}

// MemberRoles are the roles a user can hold in a tenant.
var MemberRoles = []Role{RoleClientOwner, RoleClientAdmin, RoleClientAnalyst, RoleClientReadonly}

// KeyRoles are the roles an API key can carry. Owner is a person, never a key.
var KeyRoles = []Role{RoleClientAdmin, RoleClientAnalyst, RoleClientReadonly, RoleClientAPI}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Permission is one action of the matrix.
type Permission string

const (
	PermPublic              Permission = "public" // no authentication
	PermAuthenticated       Permission = "authenticated"
	PermFindingsView        Permission = "findings:view"
	PermFindingsTriage      Permission = "findings:triage"
	PermFindingsDelete      Permission = "findings:delete"
	PermScansStart          Permission = "scans:start"
	PermReportsView         Permission = "reports:view"
	PermReportsGenerate     Permission = "reports:generate"
	PermUsersManage         Permission = "users:manage"
	PermBillingView         Permission = "billing:view"
	PermAPIKeysManage       Permission = "apikeys:manage"
	PermIntegrationsConfig  Permission = "integrations:configure"
	PermPlatformTenants     Permission = "platform:tenants" // view all tenants, suspend tenants
	PermPlatformImpersonate Permission = "platform:impersonate"
	// PermCrossTenantView is "view another tenant's findings": only the
	// platform admin policy grants it; there is no scope that contains it.
	PermCrossTenantView Permission = "platform:cross_tenant_view"
	// PermInitialKeyReveal is the owner's one-time reveal of the API key
	// onboarding made: a person's act, not the platform's nor a machine's.
	PermInitialKeyReveal Permission = "apikeys:reveal_initial"
	// PermSecurityManage changes the tenant's security settings (require
	// MFA): owners only, never while impersonating or with a key.
	PermSecurityManage Permission = "security:manage"
)

// Permissions lists every grantable permission, in the matrix's order.
var Permissions = []Permission{
	PermFindingsView, PermFindingsTriage, PermFindingsDelete, PermScansStart, PermReportsView,
	PermReportsGenerate, PermUsersManage, PermBillingView, PermAPIKeysManage, PermIntegrationsConfig,
	PermPlatformTenants, PermPlatformImpersonate, PermInitialKeyReveal, PermSecurityManage,
}

// Scopes are the permissions an API key with role client_api can be granted.
var Scopes = []Permission{PermFindingsView, PermFindingsTriage, PermScansStart, PermReportsView, PermReportsGenerate}

var matrix = map[Role][]Permission{
	RolePlatformAdmin: {
		PermFindingsView, PermFindingsTriage, PermFindingsDelete, PermScansStart, PermReportsView,
		PermReportsGenerate, PermUsersManage, PermBillingView, PermAPIKeysManage, PermIntegrationsConfig,
		PermPlatformTenants, PermPlatformImpersonate, PermCrossTenantView, PermSecurityManage,
	},
	RoleClientOwner: {
		PermFindingsView, PermFindingsTriage, PermFindingsDelete, PermScansStart, PermReportsView,
		PermReportsGenerate, PermUsersManage, PermBillingView, PermAPIKeysManage, PermIntegrationsConfig,
		PermInitialKeyReveal, PermSecurityManage,
	},
	RoleClientAdmin: {
		PermFindingsView, PermFindingsTriage, PermFindingsDelete, PermScansStart, PermReportsView,
		PermReportsGenerate, PermUsersManage, PermAPIKeysManage, PermIntegrationsConfig,
	},
	RoleClientAnalyst: {
		PermFindingsView, PermFindingsTriage, PermScansStart, PermReportsView, PermReportsGenerate,
	},
	RoleClientReadonly: {PermFindingsView, PermReportsView},
	// client_api holds nothing by itself: only the scopes its key was given.
	RoleClientAPI: {},
}

// RoleAllows reports whether role grants perm by the matrix alone.
func RoleAllows(r Role, p Permission) bool { return slices.Contains(matrix[r], p) }

// Principal is the authenticated caller of a request.
type Principal struct {
	// UserID is the effective user (the impersonated one during impersonation).
	UserID uuid.UUID
	// RealUserID is who actually authenticated; differs from UserID only while impersonating.
	RealUserID      uuid.UUID
	APIKeyID        uuid.UUID
	ImpersonationID uuid.UUID
	// ImpersonationTenant is the tenant an impersonation was opened for: the
	// request acts there unless it names one of its sub-tenants.
	ImpersonationTenant uuid.UUID
	PlatformAdmin       bool
	// Memberships: tenant id → role held there (applies to its sub-tenants too).
	Memberships map[uuid.UUID]Role
	// For API keys: the key's tenant, role and scopes.
	KeyTenant uuid.UUID
	KeyRole   Role
	KeyScopes []Permission
	// AAL is a session's assurance level ("aal2": it used a second
	// factor); empty for API keys.
	AAL string
	// OIDCProvider is the identity provider a session signed in through
	// (single sign-on); empty otherwise.
	OIDCProvider string
}

// Impersonating reports whether the request acts as someone else.
func (p *Principal) Impersonating() bool { return p.ImpersonationID != uuid.Nil }

// IsAPIKey reports whether the caller is a machine.
func (p *Principal) IsAPIKey() bool { return p.APIKeyID != uuid.Nil }

// Access is the principal resolved against the tenant a request acts on.
type Access struct {
	Principal *Principal
	TenantID  uuid.UUID // the tenant the request acts on
	Role      Role      // the role that applies there (inherited from an ancestor if need be)
	Scope     []uuid.UUID
	// Perm is the permission the request's route requires; per-object
	// checks apply it again at each object's own tenant.
	Perm Permission
}

// Can reports whether the access grants perm, applying the matrix, API key
// scopes and the limits of impersonation.
func (a *Access) Can(p Permission) bool {
	switch p {
	case PermPublic, PermAuthenticated:
		return true
	}
	pr := a.Principal
	// An impersonating admin helps the user; they must not be able to hand
	// themselves lasting access (keys, memberships) or touch money.
	if pr.Impersonating() && (p == PermAPIKeysManage || p == PermBillingView || p == PermPlatformImpersonate || p == PermUsersManage || p == PermInitialKeyReveal || p == PermSecurityManage) {
		return false
	}
	// A key is a machine credential: it never mints keys or people, so a
	// leaked key cannot outlive its own revocation.
	if pr.IsAPIKey() && (p == PermAPIKeysManage || p == PermUsersManage || p == PermInitialKeyReveal || p == PermSecurityManage) {
		return false
	}
	if a.Role == RoleClientAPI {
		return slices.Contains(pr.KeyScopes, p)
	}
	if pr.IsAPIKey() && len(pr.KeyScopes) > 0 && !slices.Contains(pr.KeyScopes, p) {
		// A key with a narrower scope set is limited to it, whatever its role.
		return false
	}
	return RoleAllows(a.Role, p)
}

// MayCreateLasting reports whether the caller may create what outlives the
// request's authority and carries data or access away: API keys (also
// refused by Can) and webhooks. An impersonating admin may not.
func (a *Access) MayCreateLasting() bool { return !a.Principal.Impersonating() }

// ValidScopes reports the first unknown scope, if any.
func ValidScopes(s []string) (bad string, ok bool) {
	for _, v := range s {
		if !slices.Contains(Scopes, Permission(v)) {
			return v, false
		}
	}
	return "", true
}
