package portal

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/portal/views"
)

func (p *Portal) targetRoutes(r chi.Router) {
	r.Get("/app/targets", p.page(p.targetsPage))
	r.Post("/app/targets", p.page(p.targetAdd))
	r.Post("/app/targets/{id}/verify", p.page(p.targetVerify))
	r.Post("/app/targets/{id}/delete", p.page(p.targetDelete))
	p.scheduleRoutes(r)
}

func (p *Portal) targetsPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderTargets(w, r, views.TargetForm{Kind: "host"})
}

func (p *Portal) renderTargets(w http.ResponseWriter, r *http.Request, form views.TargetForm) error {
	v := viewerFrom(r.Context())
	q := url.Values{"limit": {"50"}}
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page targetPageAnswer
	if err := p.get(r, "/api/v1/targets", q, &page); err != nil {
		return err
	}
	d := views.TargetsPage{Targets: page.Items, Paged: cursor != "", Form: form}
	if page.NextCursor != nil {
		d.NextCursor = url.QueryEscape(*page.NextCursor)
	}
	// A refused form is answered 200 too: a browser reports a 4xx page as
	// a console error.
	return render(w, r, views.TargetsList(p.pageMeta(r, "Targets", v), d))
}

// scanFormRefusal is an API answer a form shows beside its fields.
func scanFormRefusal(err error) bool {
	st := StatusOf(err)
	return st == http.StatusBadRequest || st == http.StatusUnprocessableEntity || st == http.StatusConflict
}

func (p *Portal) targetAdd(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &APIError{Status: http.StatusBadRequest, Detail: "The form could not be read."}
	}
	form := views.TargetForm{
		Kind:  strings.TrimSpace(r.PostForm.Get("kind")),
		Value: strings.TrimSpace(r.PostForm.Get("value")),
		Name:  strings.TrimSpace(r.PostForm.Get("name")),
	}
	err := p.call(r, http.MethodPost, "/api/v1/targets", map[string]string{"kind": form.Kind, "value": form.Value, "name": form.Name}, nil)
	if err != nil {
		if !scanFormRefusal(err) {
			return err
		}
		form.Errors, form.Error = scanFormErrors(err)
		return p.renderTargets(w, r, form)
	}
	redirect(w, r, "/app/targets")
	return nil
}

func (p *Portal) targetVerify(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := p.call(r, http.MethodPost, "/api/v1/targets/"+url.PathEscape(id)+"/verify", nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/app/targets")
	return nil
}

func (p *Portal) targetDelete(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := p.call(r, http.MethodDelete, "/api/v1/targets/"+url.PathEscape(id), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/app/targets")
	return nil
}
