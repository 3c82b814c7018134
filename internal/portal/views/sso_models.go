package views

import "github.com/secureops/secureops/internal/kratos"

func init() { groupHeadings["oidc"] = "Single sign-on" }

// sharedFor is the default group's nodes a group's form carries. A single
// sign-on button needs only the hidden ones (the csrf_token): the visible
// identifier is the password's, and, required, it would block the button.
func sharedFor(group string, shared []kratos.UINode) []kratos.UINode {
	if group != "oidc" {
		return shared
	}
	var out []kratos.UINode
	for _, n := range shared {
		if n.Attributes.Type == "hidden" {
			out = append(out, n)
		}
	}
	return out
}

// SSOPageView is /app/settings/sso: the tenant's single sign-on (the API's
// GET /api/v1/sso) and the form's state.
type SSOPageView struct {
	Available   bool
	Provider    string
	DefaultRole string
	Required    bool
	Domains     []SSODomainRow
	Providers   []SSOProviderChoice
	// CanManage: an owner (security:manage); others read.
	CanManage bool
	Form      FormState
	Notice    string
}

// SSODomainRow is one claimed email domain with its DNS proof.
type SSODomainRow struct {
	ID, Domain, Status, LastError string
	ProofName, ProofValue         string
}

// SSOProviderChoice is one of the platform's identity providers.
type SSOProviderChoice struct{ ID, Label, CallbackPath string }

// JITRoleChoices are the roles people joining by single sign-on may get.
var JITRoleChoices = []string{"client_readonly", "client_analyst", "client_admin"}
