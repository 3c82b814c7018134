// Package views holds the portal's templ components and the plain view
// models they render. It knows nothing of HTTP or the API.
package views

import "github.com/secureops/secureops/internal/brand"

// Brand is the platform's name and look (white label, internal/brand).
type Brand = brand.Brand

// DefaultBrand is SecureOps' own.
var DefaultBrand = brand.Default

// Viewer is the signed-in person on a page.
type Viewer struct {
	UserID, Email, Name string
	PlatformAdmin       bool
	Impersonating       bool
	TenantID            string
	TenantName, Tier    string
	Role                string
	Permissions         map[string]bool
	Tenants             []TenantChoice
}

// Can reports whether the viewer's role in the acting tenant grants perm
// (the API's own answer, from /me): buttons a person may not use are not
// shown, and the API refuses them anyway.
func (v *Viewer) Can(perm string) bool { return v != nil && v.Permissions[perm] }

// DisplayName is how the layout greets the person.
func (v *Viewer) DisplayName() string {
	switch {
	case v == nil:
		return ""
	case v.Name != "":
		return v.Name
	case v.Email != "":
		return v.Email
	}
	return "Signed in"
}

// TenantChoice is one entry of the tenant switcher.
type TenantChoice struct{ ID, Name, Role string }

// Page is what every page's layout needs.
type Page struct {
	Title  string
	Brand  Brand
	Viewer *Viewer
	Path   string // the request path, to mark the current nav entry
}

// ErrorView is an error a person can act on.
type ErrorView struct {
	Status    int
	Title     string
	Detail    string
	RequestID string
}
