package portal

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/portal/views"
)

func (p *Portal) scanRoutes(r chi.Router) {
	r.Get("/app/scans", p.page(p.scansPage))
	r.Post("/app/scans", p.page(p.scanStart))
	r.Get("/app/scans/{id}", p.page(p.scanPage))
	r.Get("/app/scans/{id}/changes", p.page(p.scanChangesFragment))
	r.Get("/app/scans/{id}/live", p.scanLive)
	r.Post("/app/scans/{id}/cancel", p.page(p.scanCancel))
	// Emails used to link here.
	r.Get("/scans/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/app/scans/"+url.PathEscape(chi.URLParam(r, "id")), http.StatusMovedPermanently)
	})
}

// liveRows is how many running scans of the list follow live: each is one
// of the few connections a browser holds per site.
const liveRows = 3

type scanPageAnswer struct {
	Items      []views.ScanInfo `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

type targetPageAnswer struct {
	Items      []views.Target `json:"items"`
	NextCursor *string        `json:"next_cursor"`
}

func (p *Portal) scansPage(w http.ResponseWriter, r *http.Request) error {
	form := views.ScanForm{Scanners: map[string]bool{"nmap": true}}
	return p.renderScans(w, r, form)
}

func (p *Portal) renderScans(w http.ResponseWriter, r *http.Request, form views.ScanForm) error {
	v := viewerFrom(r.Context())
	q := url.Values{"limit": {"25"}}
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page scanPageAnswer
	if err := p.get(r, "/api/v1/scans", q, &page); err != nil {
		return err
	}
	d := views.ScansPage{Scans: page.Items, Paged: cursor != "", Form: form, Notes: map[string]string{}}
	if page.NextCursor != nil {
		d.NextCursor = url.QueryEscape(*page.NextCursor)
	}
	live := 0
	for _, sc := range page.Items {
		if sc.Ended() {
			continue
		}
		if live++; live > liveRows {
			d.Notes[sc.ID] = "Open the scan to follow it live."
		}
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
	return render(w, r, views.ScansList(p.pageMeta(r, "Scans", v), d))
}

// scannableTargets are the tenant's targets a scan may start on (proven).
func (p *Portal) scannableTargets(r *http.Request) ([]views.Target, error) {
	var page targetPageAnswer
	if err := p.get(r, "/api/v1/targets", url.Values{"limit": {"500"}}, &page); err != nil {
		return nil, err
	}
	out := page.Items[:0]
	for _, t := range page.Items {
		if t.Proven() {
			out = append(out, t)
		}
	}
	return out, nil
}

// scanStart starts a scan through the API and opens its page; a refusal
// comes back as the form's errors, with what was chosen kept.
func (p *Portal) scanStart(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &APIError{Status: http.StatusBadRequest, Detail: "The form could not be read."}
	}
	form := views.ScanForm{TargetID: r.PostForm.Get("target_id"), Scanners: map[string]bool{}}
	scanners := []string{}
	for _, s := range r.PostForm["scanners"] {
		if s = strings.TrimSpace(s); s != "" {
			scanners = append(scanners, s)
			form.Scanners[s] = true
		}
	}
	var body = map[string]any{"scanners": scanners}
	if form.TargetID != "" {
		body["target_id"] = form.TargetID
	}
	var created struct {
		ID string `json:"id"`
	}
	err := p.call(r, http.MethodPost, "/api/v1/scans", body, &created)
	if err != nil {
		if !scanFormRefusal(err) {
			return err
		}
		form.Errors, form.Error = scanFormErrors(err)
		return p.renderScans(w, r, form)
	}
	redirect(w, r, "/app/scans/"+url.PathEscape(created.ID))
	return nil
}

// scanFormErrors splits an API refusal into field errors (scanners[i] named as
// the scanners field) and a message for the whole form.
func scanFormErrors(err error) (map[string]string, string) {
	fields := map[string]string{}
	ae, _ := err.(*APIError)
	if ae == nil {
		return fields, err.Error()
	}
	for _, f := range ae.Errors {
		name := f.Field
		if strings.HasPrefix(name, "scanners[") {
			name = "scanners"
		}
		if fields[name] == "" {
			fields[name] = f.Message
		}
	}
	if len(fields) == 0 {
		return fields, ae.Error()
	}
	return fields, ""
}

func (p *Portal) loadScan(r *http.Request, id string) (views.ScanInfo, error) {
	var sc views.ScanInfo
	err := p.get(r, "/api/v1/scans/"+url.PathEscape(id), nil, &sc)
	return sc, err
}

func (p *Portal) scanPage(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	sc, err := p.loadScan(r, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	d := views.ScanPage{Scan: sc}
	if sc.Ended() {
		if d.Changes, err = p.scanChanges(r, sc); err != nil {
			return err
		}
	}
	if v.PlatformAdmin {
		d.WorkflowURL = p.workflowURL("scan/" + sc.ID)
	}
	return render(w, r, views.ScanDetail(p.pageMeta(r, "Scan of "+sc.Target, v), d))
}

func (p *Portal) scanChangesFragment(w http.ResponseWriter, r *http.Request) error {
	sc, err := p.loadScan(r, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	changes, err := p.scanChanges(r, sc)
	if err != nil {
		return err
	}
	return render(w, r, views.ScanChanges(sc, changes))
}

// scanChanges reads the scan's diff: new, fixed and reopened findings.
func (p *Portal) scanChanges(r *http.Request, sc views.ScanInfo) ([]views.ScanChange, error) {
	kinds := []views.ScanChange{
		{Change: "new", Title: "New findings", Empty: "Nothing new: this scan found nothing the previous scans had not."},
		{Change: "fixed", Title: "Fixed", Empty: "Nothing was fixed since the previous scan."},
		{Change: "reopened", Title: "Reopened", Empty: "Nothing came back."},
	}
	for i := range kinds {
		c := &kinds[i]
		c.Total = sc.Diff[c.Change]
		var page struct {
			Items      []views.ScanFinding `json:"items"`
			NextCursor *string             `json:"next_cursor"`
		}
		q := url.Values{"change": {c.Change}, "limit": {"50"}}
		if err := p.get(r, "/api/v1/scans/"+url.PathEscape(sc.ID)+"/findings", q, &page); err != nil {
			return nil, err
		}
		c.Findings, c.More = page.Items, page.NextCursor != nil
		if c.Total < len(c.Findings) {
			c.Total = len(c.Findings)
		}
	}
	return kinds, nil
}

func (p *Portal) scanCancel(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := p.call(r, http.MethodPost, "/api/v1/scans/"+url.PathEscape(id)+"/cancel", nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/app/scans/"+url.PathEscape(id))
	return nil
}
