package portal

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/portal/views"
	"github.com/secureops/secureops/internal/webhookwire"
)

// Settings: members, teams, API keys, webhooks and SLA days. Every read and
// write is the API's; the sub-navigation shows only what the viewer's role
// manages, and the API refuses the rest anyway.

func (p *Portal) settingsRoutes(r chi.Router) {
	r.Get("/app/settings", p.page(p.settingsIndex))
	r.Post("/app/settings/security", p.page(p.securitySave))

	r.Get("/app/settings/members", p.page(p.membersPage))
	r.Post("/app/settings/members", p.page(p.memberInvite))
	r.Post("/app/settings/members/{id}/role", p.page(p.memberRole))
	r.Post("/app/settings/members/{id}/remove", p.page(p.memberRemove))

	r.Get("/app/settings/teams", p.page(p.teamsPage))
	r.Post("/app/settings/teams", p.page(p.teamCreate))
	r.Post("/app/settings/teams/{id}/rename", p.page(p.teamRename))
	r.Post("/app/settings/teams/{id}/delete", p.page(p.teamDelete))

	r.Get("/app/settings/api-keys", p.page(p.apiKeysPage))
	r.Post("/app/settings/api-keys", p.page(p.apiKeyCreate))
	r.Post("/app/settings/api-keys/initial", p.page(p.apiKeyRevealInitial))
	r.Post("/app/settings/api-keys/{id}/revoke", p.page(p.apiKeyRevoke))

	r.Get("/app/settings/webhooks", p.page(p.webhooksPage))
	r.Post("/app/settings/webhooks", p.page(p.webhookCreate))
	r.Get("/app/settings/webhooks/{id}", p.page(p.webhookDeliveries))
	r.Post("/app/settings/webhooks/{id}/test", p.page(p.webhookTest))
	r.Post("/app/settings/webhooks/{id}/delete", p.page(p.webhookDelete))

	r.Get("/app/settings/sla", p.page(p.slaPage))
	r.Post("/app/settings/sla", p.page(p.slaSave))

	p.brandingRoutes(r)
}

func (p *Portal) settingsPage(r *http.Request, title string) views.Page {
	return p.pageMeta(r, title, viewerFrom(r.Context()))
}

// formStatus answers a form shown again with the API's objections: 200,
// because the page is what the person needs (a 4xx document is a console
// error in the browser, and htmx swaps only 2xx).
const formStatus = http.StatusOK

// formFailure turns an API refusal of a form into what the form shows:
// field errors and a general message for 400/422 (and a conflict), nil for
// anything else, which the caller returns as an error page.
func formFailure(err error, values map[string]string) (views.FormState, bool) {
	var ae *APIError
	if !errors.As(err, &ae) {
		return views.FormState{}, false
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusConflict:
	default:
		return views.FormState{}, false
	}
	f := views.FormState{Values: values, Errors: ae.FieldErrors()}
	if len(f.Errors) == 0 || ae.Status == http.StatusConflict {
		f.Error = ae.Error()
	}
	return f, true
}

func pathID(r *http.Request) string { return url.PathEscape(chi.URLParam(r, "id")) }

func (p *Portal) settingsIndex(w http.ResponseWriter, r *http.Request) error {
	return p.renderSettingsIndex(w, r, noticeOf(r), "")
}

// renderSettingsIndex shows the index, with the security settings for
// owners (the API refuses everyone else's change anyway).
func (p *Portal) renderSettingsIndex(w http.ResponseWriter, r *http.Request, notice, problem string) error {
	v := viewerFrom(r.Context())
	var sec *views.SecurityView
	if v.Role == "client_owner" || (v.PlatformAdmin && v.TenantID != "") {
		var out struct {
			RequireMFA bool `json:"require_mfa"`
		}
		if err := p.get(r, "/api/v1/security/settings", nil, &out); err != nil {
			return err
		}
		sec = &views.SecurityView{RequireMFA: out.RequireMFA, Notice: notice, Error: problem}
	}
	return render(w, r, views.SettingsIndex(p.settingsPage(r, "Settings"), sec))
}

// securitySave turns "require MFA" on or off.
func (p *Portal) securitySave(w http.ResponseWriter, r *http.Request) error {
	on := r.PostFormValue("require_mfa") == "on"
	err := p.call(r, http.MethodPatch, "/api/v1/security/settings", map[string]bool{"require_mfa": on}, nil)
	if f, ok := formFailure(err, nil); ok {
		return p.renderSettingsIndex(w, r, "", f.Error)
	} else if err != nil {
		return err
	}
	redirect(w, r, "/app/settings?done=saved#security")
	return nil
}

// ---- members ----

type userAnswer struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

var memberRoles = []string{"client_owner", "client_admin", "client_analyst", "client_readonly"}

func (p *Portal) members(r *http.Request) ([]views.MemberRow, error) {
	var out struct {
		Items []userAnswer `json:"items"`
	}
	if err := p.get(r, "/api/v1/users", nil, &out); err != nil {
		return nil, err
	}
	rows := make([]views.MemberRow, 0, len(out.Items))
	for _, u := range out.Items {
		rows = append(rows, views.MemberRow{UserID: u.UserID, Email: u.Email, Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Email < rows[j].Email })
	return rows, nil
}

func (p *Portal) renderMembers(w http.ResponseWriter, r *http.Request, status int, invite views.FormState, notice string) error {
	ms, err := p.members(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return views.SettingsMembers(p.settingsPage(r, "Members"), views.MembersView{Members: ms, Roles: memberRoles, Invite: invite, Notice: notice}).Render(r.Context(), w)
}

func (p *Portal) membersPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderMembers(w, r, http.StatusOK, views.FormState{}, noticeOf(r))
}

// noticeOf is the message a redirect after a change carries (?done=…).
func noticeOf(r *http.Request) string {
	switch r.URL.Query().Get("done") {
	case "invited":
		return "Invitation sent."
	case "role":
		return "Role changed."
	case "removed":
		return "Member removed."
	case "plan":
		return "Plan change done: an upgrade applies now, a downgrade at the end of the period."
	case "saved":
		return "Saved."
	case "test":
		return "Test event sent. Its delivery shows below once your endpoint answers; refresh to see the result."
	}
	return ""
}

func (p *Portal) memberInvite(w http.ResponseWriter, r *http.Request) error {
	vals := map[string]string{"email": strings.TrimSpace(r.FormValue("email")), "name": strings.TrimSpace(r.FormValue("name")), "role": r.FormValue("role")}
	err := p.call(r, http.MethodPost, "/api/v1/users", map[string]string{"email": vals["email"], "name": vals["name"], "role": vals["role"]}, nil)
	if f, ok := formFailure(err, vals); ok {
		return p.renderMembers(w, r, formStatus, f, "")
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/app/settings/members?done=invited")
	return nil
}

func (p *Portal) memberRole(w http.ResponseWriter, r *http.Request) error {
	err := p.call(r, http.MethodPatch, "/api/v1/users/"+pathID(r), map[string]string{"role": r.FormValue("role")}, nil)
	if f, ok := formFailure(err, nil); ok {
		f.Error = "The role was not changed: " + errorText(err)
		return p.renderMembers(w, r, formStatus, f, "")
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/app/settings/members?done=role")
	return nil
}

func (p *Portal) memberRemove(w http.ResponseWriter, r *http.Request) error {
	err := p.call(r, http.MethodDelete, "/api/v1/users/"+pathID(r), nil, nil)
	if f, ok := formFailure(err, nil); ok {
		f.Error = "The member was not removed: " + errorText(err)
		return p.renderMembers(w, r, formStatus, f, "")
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/app/settings/members?done=removed")
	return nil
}

// errorText is the API's words, field errors included.
func errorText(err error) string {
	var ae *APIError
	if errors.As(err, &ae) && len(ae.Errors) > 0 {
		var parts []string
		for _, e := range ae.Errors {
			parts = append(parts, e.Message)
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}

// ---- teams ----

type teamAnswer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func (p *Portal) renderTeams(w http.ResponseWriter, r *http.Request, status int, create views.FormState) error {
	var out struct {
		Items []teamAnswer `json:"items"`
	}
	if err := p.get(r, "/api/v1/teams", nil, &out); err != nil {
		return err
	}
	v := views.TeamsView{Create: create}
	for _, t := range out.Items {
		v.Teams = append(v.Teams, views.TeamRow{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return views.SettingsTeams(p.settingsPage(r, "Teams"), v).Render(r.Context(), w)
}

func (p *Portal) teamsPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderTeams(w, r, http.StatusOK, views.FormState{})
}

func (p *Portal) teamCreate(w http.ResponseWriter, r *http.Request) error {
	vals := map[string]string{"name": r.FormValue("name")}
	err := p.call(r, http.MethodPost, "/api/v1/teams", vals, nil)
	if f, ok := formFailure(err, vals); ok {
		return p.renderTeams(w, r, formStatus, f)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/app/settings/teams")
	return nil
}

func (p *Portal) teamRename(w http.ResponseWriter, r *http.Request) error {
	err := p.call(r, http.MethodPatch, "/api/v1/teams/"+pathID(r), map[string]string{"name": r.FormValue("name")}, nil)
	if f, ok := formFailure(err, nil); ok {
		f.Error = "The team was not renamed: " + errorText(err)
		return p.renderTeams(w, r, formStatus, f)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/app/settings/teams")
	return nil
}

func (p *Portal) teamDelete(w http.ResponseWriter, r *http.Request) error {
	err := p.call(r, http.MethodDelete, "/api/v1/teams/"+pathID(r), nil, nil)
	if f, ok := formFailure(err, nil); ok {
		f.Error = "The team was not deleted: " + errorText(err)
		return p.renderTeams(w, r, formStatus, f)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/app/settings/teams")
	return nil
}

// ---- API keys ----

type apiKeyAnswer struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       string     `json:"role"`
	Scopes     []string   `json:"scopes"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	CreatedAt  time.Time  `json:"created_at"`
	Key        string     `json:"key"`
}

var (
	keyRoles  = []string{"client_api", "client_readonly", "client_analyst", "client_admin"}
	keyScopes = []string{"findings:view", "findings:triage", "scans:start", "reports:view", "reports:generate"}
)

func (p *Portal) renderAPIKeys(w http.ResponseWriter, r *http.Request, status int, create views.FormState, revealMsg string) error {
	v := viewerFrom(r.Context())
	kv := views.APIKeysView{Roles: keyRoles, Scopes: keyScopes, Create: create, RevealMessage: revealMsg,
		CanManage: v.Can("apikeys:manage"), CanReveal: v.Can("apikeys:reveal_initial")}
	if kv.CanManage || !kv.CanReveal {
		var out struct {
			Items []apiKeyAnswer `json:"items"`
		}
		if err := p.get(r, "/api/v1/api-keys", nil, &out); err != nil {
			return err
		}
		for _, k := range out.Items {
			kv.Keys = append(kv.Keys, views.APIKeyRow{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Role: k.Role, Scopes: k.Scopes,
				ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return views.SettingsAPIKeys(p.settingsPage(r, "API keys"), kv).Render(r.Context(), w)
}

func (p *Portal) apiKeysPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderAPIKeys(w, r, http.StatusOK, views.FormState{}, "")
}

func (p *Portal) apiKeyCreate(w http.ResponseWriter, r *http.Request) error {
	_ = r.ParseForm()
	vals := map[string]string{"name": r.FormValue("name"), "role": r.FormValue("role"),
		"scopes": strings.Join(r.Form["scopes"], ","), "expires": r.FormValue("expires")}
	in := map[string]any{"name": vals["name"], "role": vals["role"], "scopes": r.Form["scopes"]}
	if vals["expires"] != "" {
		d, err := time.Parse("2006-01-02", vals["expires"])
		if err != nil {
			f := views.FormState{Values: vals, Errors: map[string]string{"expires_at": "Give the expiry as a date, like 2027-01-31."}}
			return p.renderAPIKeys(w, r, formStatus, f, "")
		}
		in["expires_at"] = d.UTC()
	}
	var k apiKeyAnswer
	err := p.call(r, http.MethodPost, "/api/v1/api-keys", in, &k)
	if f, ok := formFailure(err, vals); ok {
		return p.renderAPIKeys(w, r, formStatus, f, "")
	}
	if err != nil {
		return err
	}
	return renderSecret(w, r, views.SettingsSecret(p.settingsPage(r, "New API key"), views.SecretView{
		Heading: "API key created",
		Intro:   "The key " + k.Name + " (" + k.Prefix + ", role " + k.Role + ") is ready. Send it as Authorization: Bearer <key>.",
		Label:   "Your new API key:", Secret: k.Key, Back: "/app/settings/api-keys",
	}))
}

// renderSecret answers a page with a secret, never cached: a reload
// re-posts, which makes another key or is refused, and never shows this one.
func renderSecret(w http.ResponseWriter, r *http.Request, c templ.Component) error {
	w.Header().Set("Cache-Control", "no-store")
	return render(w, r, c)
}

func (p *Portal) apiKeyRevealInitial(w http.ResponseWriter, r *http.Request) error {
	var out struct {
		Prefix string `json:"prefix"`
		Key    string `json:"key"`
	}
	err := p.call(r, http.MethodPost, "/api/v1/api-keys/initial/reveal", nil, &out)
	switch StatusOf(err) {
	case 0:
	case http.StatusGone:
		return p.renderAPIKeys(w, r, formStatus, views.FormState{}, "The initial API key has already been revealed (or has expired), so it cannot be shown again. Create a new key below if you need one.")
	case http.StatusNotFound:
		return p.renderAPIKeys(w, r, formStatus, views.FormState{}, "This tenant has no initial API key. Create a key below.")
	}
	if err != nil {
		return err
	}
	return renderSecret(w, r, views.SettingsSecret(p.settingsPage(r, "Initial API key"), views.SecretView{
		Heading: "Your initial API key",
		Intro:   "This is the key onboarding made for " + viewerFrom(r.Context()).TenantName + " (" + out.Prefix + "). Send it as Authorization: Bearer <key>.",
		Label:   "Your initial API key:", Secret: out.Key, Back: "/app/settings/api-keys",
	}))
}

func (p *Portal) apiKeyRevoke(w http.ResponseWriter, r *http.Request) error {
	if err := p.call(r, http.MethodDelete, "/api/v1/api-keys/"+pathID(r), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/app/settings/api-keys")
	return nil
}

// ---- webhooks ----

type webhookAnswer struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description"`
	Active         bool      `json:"active"`
	DisabledReason string    `json:"disabled_reason"`
	CreatedAt      time.Time `json:"created_at"`
	Secret         string    `json:"secret"`
}

func (h webhookAnswer) row() views.WebhookRow {
	return views.WebhookRow{ID: h.ID, URL: h.URL, Description: h.Description, DisabledReason: h.DisabledReason,
		Events: h.Events, Active: h.Active, CreatedAt: h.CreatedAt}
}

func (p *Portal) renderWebhooks(w http.ResponseWriter, r *http.Request, status int, create views.FormState) error {
	var out struct {
		Items []webhookAnswer `json:"items"`
	}
	if err := p.get(r, "/api/v1/webhooks", nil, &out); err != nil {
		return err
	}
	v := views.WebhooksView{Events: webhookwire.Subscribable, Create: create}
	for _, h := range out.Items {
		v.Hooks = append(v.Hooks, h.row())
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return views.SettingsWebhooks(p.settingsPage(r, "Webhooks"), v).Render(r.Context(), w)
}

func (p *Portal) webhooksPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderWebhooks(w, r, http.StatusOK, views.FormState{})
}

func (p *Portal) webhookCreate(w http.ResponseWriter, r *http.Request) error {
	_ = r.ParseForm()
	vals := map[string]string{"url": strings.TrimSpace(r.FormValue("url")), "events": strings.Join(r.Form["events"], ","),
		"description": r.FormValue("description")}
	in := map[string]any{"url": vals["url"], "events": r.Form["events"], "description": vals["description"]}
	var h webhookAnswer
	err := p.call(r, http.MethodPost, "/api/v1/webhooks", in, &h)
	if f, ok := formFailure(err, vals); ok {
		return p.renderWebhooks(w, r, formStatus, f)
	}
	if err != nil {
		return err
	}
	if h.Secret == "" {
		redirect(w, r, "/app/settings/webhooks")
		return nil
	}
	return renderSecret(w, r, views.SettingsSecret(p.settingsPage(r, "New webhook"), views.SecretView{
		Heading: "Webhook added",
		Intro:   "Events for " + h.URL + " are signed with this secret: check the X-SecureOps-Signature header of each request with it.",
		Label:   "Signing secret:", Secret: h.Secret, Back: "/app/settings/webhooks",
	}))
}

type deliveryAnswer struct {
	EventType      string    `json:"event_type"`
	Status         string    `json:"status"`
	Attempts       int32     `json:"attempts"`
	LastStatusCode *int32    `json:"last_status_code"`
	LastError      string    `json:"last_error"`
	CreatedAt      time.Time `json:"created_at"`
}

func (p *Portal) webhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	// The API has no GET of one webhook: find it in the tenant's list (a
	// foreign or unknown id is not there: 404).
	var list struct {
		Items []webhookAnswer `json:"items"`
	}
	if err := p.get(r, "/api/v1/webhooks", nil, &list); err != nil {
		return err
	}
	var hook *webhookAnswer
	for i := range list.Items {
		if list.Items[i].ID == id {
			hook = &list.Items[i]
		}
	}
	if hook == nil {
		return &APIError{Status: http.StatusNotFound}
	}
	var out struct {
		Items []deliveryAnswer `json:"items"`
	}
	if err := p.get(r, "/api/v1/webhooks/"+url.PathEscape(id)+"/deliveries", url.Values{"limit": {"50"}}, &out); err != nil {
		return err
	}
	v := views.DeliveriesView{Hook: hook.row(), Notice: noticeOf(r)}
	for _, d := range out.Items {
		v.Deliveries = append(v.Deliveries, views.DeliveryRow{EventType: d.EventType, Status: d.Status, Error: d.LastError,
			StatusCode: d.LastStatusCode, Attempts: d.Attempts, CreatedAt: d.CreatedAt})
	}
	return render(w, r, views.SettingsDeliveries(p.settingsPage(r, "Webhook deliveries"), v))
}

func (p *Portal) webhookTest(w http.ResponseWriter, r *http.Request) error {
	if err := p.call(r, http.MethodPost, "/api/v1/webhooks/"+pathID(r)+"/test", nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/app/settings/webhooks/"+pathID(r)+"?done=test")
	return nil
}

func (p *Portal) webhookDelete(w http.ResponseWriter, r *http.Request) error {
	if err := p.call(r, http.MethodDelete, "/api/v1/webhooks/"+pathID(r), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/app/settings/webhooks")
	return nil
}

// ---- SLA ----

var slaSeverities = []string{"critical", "high", "medium", "low"}

func (p *Portal) renderSLA(w http.ResponseWriter, r *http.Request, status int, form views.FormState, notice string) error {
	var dash struct {
		SLA struct {
			Days      map[string]int `json:"days"`
			Overrides map[string]int `json:"overrides"`
		} `json:"sla"`
	}
	if err := p.get(r, "/api/v1/dashboard", nil, &dash); err != nil {
		return err
	}
	if form.Values == nil {
		form.Values = map[string]string{}
		for sev, d := range dash.SLA.Overrides {
			form.Values[sev] = strconv.Itoa(d)
		}
	}
	v := views.SLAView{Form: form, Notice: notice}
	for _, sev := range slaSeverities {
		_, over := dash.SLA.Overrides[sev]
		v.Rows = append(v.Rows, views.SLARow{Severity: sev, Days: dash.SLA.Days[sev], Override: over, Default: findings.DefaultSLADays[findings.Severity(sev)]})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return views.SettingsSLA(p.settingsPage(r, "SLA"), v).Render(r.Context(), w)
}

func (p *Portal) slaPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderSLA(w, r, http.StatusOK, views.FormState{}, noticeOf(r))
}

func (p *Portal) slaSave(w http.ResponseWriter, r *http.Request) error {
	vals := map[string]string{}
	patch := map[string]any{}
	for _, sev := range slaSeverities {
		s := strings.TrimSpace(r.FormValue(sev))
		vals[sev] = s
		if s == "" {
			patch[sev] = nil // back to the default
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			// Let the API judge it, in its words: a non-number is sent as is.
			patch[sev] = s
			continue
		}
		patch[sev] = n
	}
	err := p.call(r, http.MethodPatch, "/api/v1/dashboard/sla", patch, nil)
	if f, ok := formFailure(err, vals); ok {
		return p.renderSLA(w, r, formStatus, f, "")
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/app/settings/sla?done=saved")
	return nil
}
