package auth

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// documentedMatrix is the product's permission table as the README and the
// design state it, written out as data: a grant added to or dropped from
// rbac.go fails here instead of passing a test that asks Can what Can says.
// Columns: platform_admin, client_owner, client_admin, client_analyst,
// client_readonly, client_api (nothing without scopes).
const documentedMatrix = `
findings:view               X X X X X .
findings:triage             X X X X . .
findings:delete             X X X . . .
scans:start                 X X X X . .
reports:view                X X X X X .
reports:generate            X X X X . .
users:manage                X X X . . .
billing:view                X X . . . .
apikeys:manage              X X X . . .
integrations:configure      X X X . . .
platform:tenants            X . . . . .
platform:impersonate        X . . . . .
platform:cross_tenant_view  X . . . . .
apikeys:reveal_initial      . X . . . .
security:manage             X X . . . .
`

var matrixColumns = []Role{RolePlatformAdmin, RoleClientOwner, RoleClientAdmin, RoleClientAnalyst, RoleClientReadonly, RoleClientAPI}

func parseMatrix(t *testing.T) map[Permission]map[Role]bool {
	t.Helper()
	out := map[Permission]map[Role]bool{}
	for _, line := range strings.Split(strings.TrimSpace(documentedMatrix), "\n") {
		f := strings.Fields(line)
		if len(f) != 1+len(matrixColumns) {
			t.Fatalf("bad matrix line %q", line)
		}
		row := map[Role]bool{}
		for i, r := range matrixColumns {
			row[r] = f[i+1] == "X"
		}
		out[Permission(f[0])] = row
	}
	return out
}

func TestMatrixIsTheDocumentedOne(t *testing.T) {
	want := parseMatrix(t)
	for _, p := range append(slices.Clone(Permissions), PermCrossTenantView) {
		if _, ok := want[p]; !ok {
			t.Errorf("permission %s is not in the documented matrix", p)
		}
	}
	for p, row := range want {
		for _, r := range matrixColumns {
			if got := RoleAllows(r, p); got != row[r] {
				t.Errorf("RoleAllows(%s, %s) = %v, documented %v", r, p, got, row[r])
			}
			// A person holding the role in the tenant acts with exactly it.
			a := &Access{Principal: &Principal{UserID: uuid.New()}, Role: r}
			if got := a.Can(p); got != row[r] {
				t.Errorf("user with %s: Can(%s) = %v, documented %v", r, p, got, row[r])
			}
		}
	}
}

// Machines and impersonating admins get less than the role: a key never
// mints keys or people, nor reveals the first key; an impersonating admin
// never touches keys, people, money or further impersonation.
func TestKeysAndImpersonationNarrowTheRole(t *testing.T) {
	want := parseMatrix(t)
	keyNever := []Permission{PermAPIKeysManage, PermUsersManage, PermInitialKeyReveal}
	impNever := []Permission{PermAPIKeysManage, PermUsersManage, PermBillingView, PermPlatformImpersonate, PermInitialKeyReveal, PermSecurityManage}
	for _, r := range KeyRoles {
		key := &Access{Principal: &Principal{APIKeyID: uuid.New(), KeyRole: r}, Role: r}
		for p, row := range want {
			exp := row[r] && !slices.Contains(keyNever, p)
			if got := key.Can(p); got != exp {
				t.Errorf("key with role %s: Can(%s) = %v, want %v", r, p, got, exp)
			}
		}
	}
	for _, r := range MemberRoles {
		imp := &Access{Principal: &Principal{UserID: uuid.New(), RealUserID: uuid.New(), ImpersonationID: uuid.New()}, Role: r}
		for p, row := range want {
			exp := row[r] && !slices.Contains(impNever, p)
			if got := imp.Can(p); got != exp {
				t.Errorf("impersonated %s: Can(%s) = %v, want %v", r, p, got, exp)
			}
		}
	}
}

func TestKeyScopes(t *testing.T) {
	// client_api holds exactly its scopes.
	api := &Access{Principal: &Principal{APIKeyID: uuid.New(), KeyRole: RoleClientAPI, KeyScopes: []Permission{PermFindingsView, PermScansStart}}, Role: RoleClientAPI}
	for _, p := range Permissions {
		exp := p == PermFindingsView || p == PermScansStart
		if got := api.Can(p); got != exp {
			t.Errorf("client_api key scoped to findings:view,scans:start: Can(%s) = %v", p, got)
		}
	}
	// A role key with scopes is limited to role ∩ scopes.
	narrowed := &Access{Principal: &Principal{APIKeyID: uuid.New(), KeyRole: RoleClientAnalyst, KeyScopes: []Permission{PermFindingsView, PermFindingsDelete}}, Role: RoleClientAnalyst}
	for _, p := range Permissions {
		exp := p == PermFindingsView // analysts cannot delete, whatever the scope says
		if got := narrowed.Can(p); got != exp {
			t.Errorf("analyst key scoped to findings:view,findings:delete: Can(%s) = %v", p, got)
		}
	}
	for _, s := range Scopes {
		if s == PermUsersManage || s == PermAPIKeysManage || s == PermBillingView || strings.HasPrefix(string(s), "platform:") {
			t.Errorf("scope %s may be granted to a key", s)
		}
	}
}
