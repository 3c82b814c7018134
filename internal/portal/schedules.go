package portal

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/portal/views"
)

// scheduleRoutes serves /app/schedules (registered by targetRoutes).
func (p *Portal) scheduleRoutes(r chi.Router) {
	r.Get("/app/schedules", p.page(p.schedulesPage))
	r.Post("/app/schedules", p.page(p.scheduleCreate))
	for _, action := range []string{"pause", "resume", "trigger"} {
		r.Post("/app/schedules/{id}/"+action, p.page(p.scheduleAction(action)))
	}
	r.Post("/app/schedules/{id}/delete", p.page(p.scheduleDelete))
}

func (p *Portal) schedulesPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderSchedules(w, r, views.ScheduleForm{Interval: "24h", TimeZone: "UTC", Scanners: map[string]bool{"nmap": true}})
}

func (p *Portal) renderSchedules(w http.ResponseWriter, r *http.Request, form views.ScheduleForm) error {
	v := viewerFrom(r.Context())
	q := url.Values{"limit": {"50"}}
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page struct {
		Items      []views.Schedule `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}
	if err := p.get(r, "/api/v1/schedules", q, &page); err != nil {
		return err
	}
	d := views.SchedulesPage{Schedules: page.Items, Paged: cursor != "", Form: form}
	if page.NextCursor != nil {
		d.NextCursor = url.QueryEscape(*page.NextCursor)
	}
	if v.Can("scans:start") {
		targets, err := p.scannableTargets(r)
		if err != nil {
			return err
		}
		for _, t := range targets {
			d.Targets = append(d.Targets, views.ChoiceOption{Value: t.ID, Label: t.Label()})
		}
	}
	// A refused form is answered 200 too: a browser reports a 4xx page as
	// a console error.
	return render(w, r, views.SchedulesList(p.pageMeta(r, "Schedules", v), d))
}

func scheduleOptional(s string) *string {
	if s = strings.TrimSpace(s); s == "" {
		return nil
	}
	return &s
}

func (p *Portal) scheduleCreate(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &APIError{Status: http.StatusBadRequest, Detail: "The form could not be read."}
	}
	f := r.PostForm
	form := views.ScheduleForm{
		TargetID: f.Get("target_id"), Interval: strings.TrimSpace(f.Get("interval")), Cron: strings.TrimSpace(f.Get("cron")),
		TimeZone: strings.TrimSpace(f.Get("timezone")), Description: strings.TrimSpace(f.Get("description")), Scanners: map[string]bool{},
	}
	scanners := []string{}
	for _, s := range f["scanners"] {
		scanners = append(scanners, s)
		form.Scanners[s] = true
	}
	body := map[string]any{
		"scanners": scanners, "interval": scheduleOptional(form.Interval), "cron": scheduleOptional(form.Cron),
		"timezone": scheduleOptional(form.TimeZone), "description": scheduleOptional(form.Description),
	}
	if form.TargetID != "" {
		body["target_id"] = form.TargetID
	}
	err := p.call(r, http.MethodPost, "/api/v1/schedules", body, nil)
	if err != nil {
		if !scanFormRefusal(err) {
			return err
		}
		form.Errors, form.Error = scanFormErrors(err)
		if form.Error != "" {
			// The plan's refusal of a cadence names its field first
			// ("interval: …"): show it beside that field.
			for _, field := range []string{"interval", "cron"} {
				if rest, ok := strings.CutPrefix(form.Error, field+": "); ok {
					rest = strings.TrimPrefix(rest, "schedule too frequent: ")
					form.Errors[field], form.Error = scheduleCapitalise(rest), ""
					break
				}
			}
		}
		return p.renderSchedules(w, r, form)
	}
	redirect(w, r, "/app/schedules")
	return nil
}

func scheduleCapitalise(s string) string {
	c, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(c)) + s[n:]
}

func (p *Portal) scheduleAction(action string) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := chi.URLParam(r, "id")
		if err := p.call(r, http.MethodPost, "/api/v1/schedules/"+url.PathEscape(id)+"/"+action, nil, nil); err != nil {
			return err
		}
		redirect(w, r, "/app/schedules")
		return nil
	}
}

func (p *Portal) scheduleDelete(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := p.call(r, http.MethodDelete, "/api/v1/schedules/"+url.PathEscape(id), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/app/schedules")
	return nil
}
