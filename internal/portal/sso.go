package portal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/portal/views"
)

// ssoRefusedPage shows why a first single sign-on created no account: the
// registration flow's messages (the flow's and its nodes'), never its form.
func (p *Portal) ssoRefusedPage(w http.ResponseWriter, r *http.Request, pg views.Page, id string) error {
	f, err := p.Kratos.GetFlow(r.Context(), "registration", id, r.Header.Get("Cookie"))
	if errors.Is(err, kratos.ErrFlowGone) {
		return render(w, r, views.RegistrationClosed(pg))
	}
	if err != nil {
		return err
	}
	msgs := append([]kratos.UIText{}, f.UI.Messages...)
	for _, n := range f.UI.Nodes {
		msgs = append(msgs, n.Messages...)
	}
	w.Header().Set("Cache-Control", "no-store")
	return render(w, r, views.SSORefused(pg, msgs))
}

// Single sign-on settings (/app/settings/sso): the API's /api/v1/sso.
func (p *Portal) ssoRoutes(r chi.Router) {
	r.Get("/app/settings/sso", p.page(p.ssoPage))
	r.Post("/app/settings/sso", p.page(p.ssoSave))
	r.Post("/app/settings/sso/domains", p.page(p.ssoDomainAdd))
	r.Post("/app/settings/sso/domains/{id}/verify", p.page(p.ssoDomainVerify))
	r.Post("/app/settings/sso/domains/{id}/remove", p.page(p.ssoDomainRemove))
}

type ssoAPI struct {
	Available   bool   `json:"available"`
	Provider    string `json:"provider"`
	DefaultRole string `json:"default_role"`
	Required    bool   `json:"required"`
	Domains     []struct {
		ID        string `json:"id"`
		Domain    string `json:"domain"`
		Status    string `json:"status"`
		LastError string `json:"last_error"`
		Proof     struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"proof"`
	} `json:"domains"`
	Providers []struct {
		ID           string `json:"id"`
		Label        string `json:"label"`
		CallbackPath string `json:"callback_path"`
	} `json:"providers"`
}

func (p *Portal) renderSSO(w http.ResponseWriter, r *http.Request, form views.FormState, notice string) error {
	var s ssoAPI
	if err := p.get(r, "/api/v1/sso", nil, &s); err != nil {
		return err
	}
	v := views.SSOPageView{Available: s.Available, Provider: s.Provider, DefaultRole: s.DefaultRole, Required: s.Required,
		CanManage: viewerFrom(r.Context()).Can("security:manage"), Form: form, Notice: notice}
	for _, d := range s.Domains {
		v.Domains = append(v.Domains, views.SSODomainRow{ID: d.ID, Domain: d.Domain, Status: d.Status, LastError: d.LastError, ProofName: d.Proof.Name, ProofValue: d.Proof.Value})
	}
	for _, pr := range s.Providers {
		v.Providers = append(v.Providers, views.SSOProviderChoice{ID: pr.ID, Label: pr.Label, CallbackPath: pr.CallbackPath})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(formStatus)
	return views.SettingsSSO(p.settingsPage(r, "Single sign-on"), v).Render(r.Context(), w)
}

func (p *Portal) ssoPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderSSO(w, r, views.FormState{}, noticeOf(r))
}

// ssoFailure shows the API's refusal on the page, or returns what is not one.
func (p *Portal) ssoFailure(w http.ResponseWriter, r *http.Request, err error, vals map[string]string, what string) error {
	if f, ok := formFailure(err, vals); ok {
		if f.Error == "" {
			f.Error = what + ": " + errorText(err)
		}
		return p.renderSSO(w, r, f, "")
	}
	return err
}

func (p *Portal) ssoSave(w http.ResponseWriter, r *http.Request) error {
	body := map[string]any{"provider": r.FormValue("provider"), "default_role": r.FormValue("default_role"), "required": r.FormValue("required") == "on"}
	if err := p.call(r, http.MethodPatch, "/api/v1/sso", body, nil); err != nil {
		return p.ssoFailure(w, r, err, nil, "Not saved")
	}
	redirect(w, r, "/app/settings/sso?done=saved")
	return nil
}

func (p *Portal) ssoDomainAdd(w http.ResponseWriter, r *http.Request) error {
	vals := map[string]string{"domain": strings.TrimSpace(r.FormValue("domain"))}
	if err := p.call(r, http.MethodPost, "/api/v1/sso/domains", vals, nil); err != nil {
		return p.ssoFailure(w, r, err, vals, "The domain was not added")
	}
	redirect(w, r, "/app/settings/sso?done=saved")
	return nil
}

func (p *Portal) ssoDomainVerify(w http.ResponseWriter, r *http.Request) error {
	if err := p.call(r, http.MethodPost, "/api/v1/sso/domains/"+pathID(r)+"/verify", nil, nil); err != nil {
		return p.ssoFailure(w, r, err, nil, "Not verified")
	}
	redirect(w, r, "/app/settings/sso")
	return nil
}

func (p *Portal) ssoDomainRemove(w http.ResponseWriter, r *http.Request) error {
	if err := p.call(r, http.MethodDelete, "/api/v1/sso/domains/"+pathID(r), nil, nil); err != nil {
		return p.ssoFailure(w, r, err, nil, "The domain was not removed")
	}
	redirect(w, r, "/app/settings/sso?done=saved")
	return nil
}
