package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/portal/views"
)

func (p *Portal) findingRoutes(r chi.Router) {
	r.Get("/app/findings", p.page(p.findingList))
	r.Post("/app/findings/triage", p.page(p.findingBulkTriage))
	r.Get("/app/findings/{id}", p.page(p.findingShow))
	r.Post("/app/findings/{id}/triage", p.page(p.findingTriage))
	r.Post("/app/findings/{id}/triage/approve", p.page(p.findingVerdict("approve")))
	r.Post("/app/findings/{id}/triage/reject", p.page(p.findingVerdict("reject")))
	r.Post("/app/findings/{id}/triage/feedback", p.page(p.findingFeedback))
}

// findingVerdict approves or rejects a decision the Triage workflow holds
// for an analyst (the API calls the workflow's update, which checks the
// person's role and that the decision still waits).
func (p *Portal) findingVerdict(verdict string) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := findingID(r)
		if err != nil {
			return err
		}
		req := map[string]any{"comment": strings.TrimSpace(r.PostFormValue("comment")), "remember": r.PostFormValue("remember") == "on"}
		var res struct {
			Rule *struct{} `json:"rule"`
		}
		err = p.call(r, http.MethodPost, "/api/v1/findings/"+id+"/triage/"+verdict, req, &res)
		if s := StatusOf(err); s == http.StatusConflict || s == http.StatusBadRequest {
			return p.renderFinding(w, r, id, views.FindingPage{Error: err.Error()})
		} else if err != nil {
			return err
		}
		to := "/app/findings/" + id
		if res.Rule != nil {
			to += "?remembered=1"
		}
		redirect(w, r, to+"#triage-decision")
		return nil
	}
}

// findingFeedback stores whether the finding's triage answer was useful.
func (p *Portal) findingFeedback(w http.ResponseWriter, r *http.Request) error {
	id, err := findingID(r)
	if err != nil {
		return err
	}
	useful, err := strconv.ParseBool(r.PostFormValue("useful"))
	if err != nil {
		return p.renderFinding(w, r, id, views.FindingPage{Error: "Choose Useful or Not useful."})
	}
	err = p.call(r, http.MethodPost, "/api/v1/findings/"+id+"/triage/feedback",
		map[string]any{"useful": useful, "comment": strings.TrimSpace(r.PostFormValue("comment"))}, nil)
	if s := StatusOf(err); s == http.StatusConflict || s == http.StatusBadRequest {
		return p.renderFinding(w, r, id, views.FindingPage{Error: err.Error()})
	} else if err != nil {
		return err
	}
	redirect(w, r, "/app/findings/"+id+"?feedback=saved#triage-decision")
	return nil
}

func findingFilterOf(q url.Values) views.FindingFilter {
	return views.FindingFilter{
		Severity: q.Get("severity"), Status: q.Get("status"), Target: strings.TrimSpace(q.Get("target")),
		Scanner: strings.TrimSpace(q.Get("scanner")), CVE: strings.TrimSpace(q.Get("cve")),
		Text: strings.TrimSpace(q.Get("q")), Limit: q.Get("limit"), Sort: q.Get("sort"),
		KEV: q.Get("kev") == "true", SLA: q.Get("sla"),
	}
}

// findingPageQuery is the page's own query for a filter (empty fields dropped).
func findingPageQuery(f views.FindingFilter) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"severity": f.Severity, "status": f.Status, "target": f.Target,
		"scanner": f.Scanner, "cve": f.CVE, "q": f.Text, "limit": f.Limit, "sort": f.Sort, "sla": f.SLA} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.KEV {
		q.Set("kev", "true")
	}
	return q
}

// findingAPIQuery maps the form to GET /api/v1/findings: "unresolved" is
// the three statuses still to fix.
func findingAPIQuery(f views.FindingFilter, cursor string) url.Values {
	q := findingPageQuery(f)
	if f.Status == "unresolved" {
		q.Set("status", "new,open,reopened")
	}
	if q.Get("limit") == "" {
		q.Set("limit", "50")
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

func (p *Portal) findingList(w http.ResponseWriter, r *http.Request) error {
	return p.renderFindingList(w, r, r.URL.Query(), "")
}

// renderFindingList shows one page of the filtered list; a filter the API
// refuses is shown beside the form, with what was typed kept.
func (p *Portal) renderFindingList(w http.ResponseWriter, r *http.Request, q url.Values, problem string) error {
	v := viewerFrom(r.Context())
	f := findingFilterOf(q)
	cursor := q.Get("cursor")
	l := views.FindingsList{Filter: f, CanTriage: v.Can("findings:triage"), Error: problem}
	own := findingPageQuery(f)
	l.Return = own.Encode()
	if cursor != "" {
		l.FirstURL = "/app/findings?" + own.Encode()
	}
	if n, err := strconv.Atoi(q.Get("triaged")); err == nil {
		l.Flash = strconv.Itoa(n) + " findings moved to " + views.FindingStatusLabel(q.Get("to")) + "."
		if n == 1 {
			l.Flash = "1 finding moved to " + views.FindingStatusLabel(q.Get("to")) + "."
		}
	}
	var page struct {
		Items      []views.FindingRow `json:"items"`
		NextCursor *string            `json:"next_cursor"`
	}
	err := p.get(r, "/api/v1/findings", findingAPIQuery(f, cursor), &page)
	switch s := StatusOf(err); {
	case err == nil:
		l.Items = page.Items
		if page.NextCursor != nil && *page.NextCursor != "" {
			next := findingPageQuery(f)
			next.Set("cursor", *page.NextCursor)
			l.NextURL = "/app/findings?" + next.Encode()
		}
	case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
		l.FieldError = err.(*APIError).FieldErrors()
		l.Error = err.Error()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnprocessableEntity)
	default:
		return err
	}
	return render(w, r, views.FindingsPage(p.pageMeta(r, "Findings", v), l))
}

// findingBulkTriage moves the selected findings (all or none, the API's
// rule) and returns to the list as it was.
func (p *Portal) findingBulkTriage(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &APIError{Status: http.StatusBadRequest, Detail: "The form could not be read."}
	}
	back, _ := url.ParseQuery(r.PostForm.Get("return"))
	ids := []string{}
	for _, id := range r.PostForm["ids"] {
		if _, err := uuid.Parse(id); err == nil {
			ids = append(ids, id)
		}
	}
	status, comment := r.PostForm.Get("status"), r.PostForm.Get("comment")
	if len(ids) == 0 {
		return p.renderFindingList(w, r, back, "Select at least one finding to triage.")
	}
	var out struct {
		Updated int `json:"updated"`
	}
	err := p.call(r, http.MethodPatch, "/api/v1/findings", map[string]any{"ids": ids, "status": status, "comment": comment}, &out)
	if s := StatusOf(err); s == http.StatusBadRequest || s == http.StatusUnprocessableEntity {
		return p.renderFindingList(w, r, back, "Triage refused: "+err.Error())
	} else if err != nil {
		return err
	}
	back.Del("cursor")
	back.Set("triaged", strconv.Itoa(len(ids)))
	back.Set("to", status)
	redirect(w, r, "/app/findings?"+back.Encode())
	return nil
}

func findingID(r *http.Request) (string, error) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return "", &APIError{Status: http.StatusNotFound}
	}
	return id.String(), nil
}

func (p *Portal) findingShow(w http.ResponseWriter, r *http.Request) error {
	id, err := findingID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	fp := views.FindingPage{FeedbackSaved: q.Get("feedback") == "saved"}
	if q.Get("remembered") == "1" {
		fp.Remembered = "Remembered as a triage rule of your organisation: the next scans of this target decide the same without asking."
	}
	return p.renderFinding(w, r, id, fp)
}

func (p *Portal) renderFinding(w http.ResponseWriter, r *http.Request, id string, fp views.FindingPage) error {
	v := viewerFrom(r.Context())
	if err := p.get(r, "/api/v1/findings/"+id, nil, &fp.D); err != nil {
		return err
	}
	fp.CanTriage = v.Can("findings:triage")
	if fp.Error != "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnprocessableEntity)
	}
	return render(w, r, views.FindingShow(p.pageMeta(r, fp.D.Title, v), fp))
}

// findingTriage records a decision on one finding with its comment.
func (p *Portal) findingTriage(w http.ResponseWriter, r *http.Request) error {
	id, err := findingID(r)
	if err != nil {
		return err
	}
	status, comment := r.PostFormValue("status"), r.PostFormValue("comment")
	err = p.call(r, http.MethodPatch, "/api/v1/findings/"+id, map[string]string{"status": status, "comment": comment}, nil)
	if s := StatusOf(err); s == http.StatusBadRequest || s == http.StatusUnprocessableEntity {
		ae := err.(*APIError)
		return p.renderFinding(w, r, id, views.FindingPage{Error: ae.Error(), FieldError: ae.FieldErrors(), Status: status, Comment: comment})
	} else if err != nil {
		return err
	}
	redirect(w, r, "/app/findings/"+id+"#history")
	return nil
}
