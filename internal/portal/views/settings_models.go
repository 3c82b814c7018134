package views

import (
	"fmt"
	"time"

	"github.com/a-h/templ"
)

// SettingsNav is one entry of the settings sub-navigation.
type SettingsNav struct{ Href, Label string }

// SettingsNavFor lists the sections the viewer may manage (the API refuses
// the rest anyway).
func SettingsNavFor(v *Viewer) []SettingsNav {
	var out []SettingsNav
	if v.Can("users:manage") {
		out = append(out, SettingsNav{"/app/settings/members", "Members"}, SettingsNav{"/app/settings/teams", "Teams"})
	}
	if v.Can("apikeys:manage") || v.Can("apikeys:reveal_initial") {
		out = append(out, SettingsNav{"/app/settings/api-keys", "API keys"})
	}
	if v.Can("integrations:configure") {
		out = append(out, SettingsNav{"/app/settings/webhooks", "Webhooks"})
	}
	if v.Can("users:manage") {
		out = append(out, SettingsNav{"/app/settings/sla", "SLA"})
	}
	if v.Can("integrations:configure") {
		out = append(out, SettingsNav{"/app/settings/branding", "Report logo"})
	}
	if v.Can("users:manage") && v.Tier == "enterprise" {
		out = append(out, SettingsNav{"/app/settings/sso", "Single sign-on"})
	}
	return out
}

// MemberRow is one member of the tenant.
type MemberRow struct {
	UserID, Email, Name, Role string
	CreatedAt                 time.Time
}

// FormState is a form's typed values and the API's words about them.
type FormState struct {
	Values map[string]string
	Errors map[string]string
	Error  string // an error not tied to one field
}

// V is a typed value.
func (f FormState) V(k string) string { return f.Values[k] }

// E is a field's error ("" when fine).
func (f FormState) E(k string) string { return f.Errors[k] }

// Invalid marks a field the API objected to (aria-invalid, described by
// its message); nothing otherwise, so untouched fields are not styled valid.
func (f FormState) Invalid(k string) templ.Attributes {
	if f.Errors[k] != "" {
		return templ.Attributes{"aria-invalid": "true", "aria-describedby": "err-" + k}
	}
	return templ.Attributes{}
}

// RoleLabel is how a person reads a role.
func RoleLabel(role string) string {
	switch role {
	case "client_owner":
		return "Owner"
	case "client_admin":
		return "Admin"
	case "client_analyst":
		return "Analyst"
	case "client_readonly":
		return "Read-only"
	case "client_api":
		return "API (scoped)"
	case "platform_admin":
		return "Platform admin"
	}
	return role
}

// Checked reports whether a multi-value field holds v (values joined by ",").
func (f FormState) Checked(k, v string) bool {
	for _, s := range splitComma(f.Values[k]) {
		if s == v {
			return true
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// MembersView is the members page.
type MembersView struct {
	Members []MemberRow
	Roles   []string
	Invite  FormState
	Notice  string
}

// TeamRow is one team.
type TeamRow struct {
	ID, Name  string
	CreatedAt time.Time
}

// TeamsView is the teams page.
type TeamsView struct {
	Teams  []TeamRow
	Create FormState
}

// APIKeyRow is one key (never its secret).
type APIKeyRow struct {
	ID, Name, Prefix, Role string
	Scopes                 []string
	ExpiresAt, LastUsedAt  *time.Time
	RevokedAt              *time.Time
	CreatedAt              time.Time
}

// Status is how the list names the key's state.
func (k APIKeyRow) Status() string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !k.ExpiresAt.After(time.Now()):
		return "expired"
	}
	return "active"
}

// APIKeysView is the API keys page.
type APIKeysView struct {
	Keys          []APIKeyRow
	Roles, Scopes []string
	Create        FormState
	CanManage     bool
	CanReveal     bool
	RevealMessage string // the API's refusal of a second reveal, say
}

// SecretView shows a secret once.
type SecretView struct {
	Heading, Intro string
	Label, Secret  string
	Back           string
}

// WebhookRow is one webhook.
type WebhookRow struct {
	ID, URL, Description, DisabledReason string
	Events                               []string
	Active                               bool
	CreatedAt                            time.Time
}

// WebhooksView is the webhooks page.
type WebhooksView struct {
	Hooks  []WebhookRow
	Events []string
	Create FormState
}

// DeliveryRow is one delivery of a webhook.
type DeliveryRow struct {
	EventType, Status, Error string
	StatusCode               *int32
	Attempts                 int32
	CreatedAt                time.Time
}

// Code is the last HTTP status as text ("—" when none).
func (d DeliveryRow) Code() string {
	if d.StatusCode == nil {
		return "—"
	}
	return fmt.Sprint(*d.StatusCode)
}

// DeliveriesView is one webhook's deliveries.
type DeliveriesView struct {
	Hook       WebhookRow
	Deliveries []DeliveryRow
	Notice     string
}

// Pending reports whether a delivery still waits for an answer.
func (d DeliveriesView) Pending() bool {
	for _, x := range d.Deliveries {
		if x.Status == "pending" {
			return true
		}
	}
	return false
}

// SLARow is one severity's deadline.
type SLARow struct {
	Severity string
	Days     int
	Override bool
	Default  int
}

// SLAView is the SLA page.
type SLAView struct {
	Rows   []SLARow
	Form   FormState
	Notice string
}

// settingsTime formats a time for tables: UTC with a relative hint.
func settingsTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC") + " (" + settingsAgo(t) + ")"
}

// settingsTimePtr is settingsTime for an optional time.
func settingsTimePtr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return settingsTime(*t)
}

// settingsAgo is a short relative time.
func settingsAgo(t time.Time) string {
	d := time.Since(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// SecurityView is the tenant's security settings, shown to owners.
type SecurityView struct {
	RequireMFA bool
	Notice     string
	Error      string
}
