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
