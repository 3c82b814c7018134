package views

import "time"

// AdminTenantRow is one tenant on the platform admin's list.
type AdminTenantRow struct {
	ID, Name, Slug, Tier, Status string
	CreatedAt                    time.Time
	// WorkflowURL is the onboarding workflow in Temporal's Web UI ("" hides it).
	WorkflowURL string
}

// Onboarding is the tenant's onboarding state as its status tells it.
func (t AdminTenantRow) Onboarding() string {
	switch t.Status {
	case "onboarding":
		return "in progress"
	case "failed":
		return "failed"
	}
	return "complete"
}

// AdminView is /admin.
type AdminView struct {
	Tenants []AdminTenantRow
	More    bool
	Notice  string
}

// ImpersonateView is the form to act as one of a tenant's users.
type ImpersonateView struct {
	Tenant AdminTenantRow
	Users  []MemberRow
	Form   FormState
}
