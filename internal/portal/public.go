package portal

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/portal/views"
)

// The public pages: the landing page with the plans, the sign-up form and
// the sign-up's live progress. Sign-up is the API's (POST /api/v1/signup),
// called in-process like every other page's data.
func (p *Portal) publicRoutes(r chi.Router) {
	r.Get("/", p.page(p.landing))
	r.Get("/signup", p.page(p.signupForm))
	r.Post("/signup", p.page(p.signupSubmit))
	r.Get("/signup/{id}", p.page(p.signupStatus))
	r.Get("/signup/{id}/events", p.signupEvents)
}

func (p *Portal) landing(w http.ResponseWriter, r *http.Request) error {
	v, _ := p.optionalViewer(r) // signed out, or refused: the public landing page
	return render(w, r, views.Landing(p.pageMeta(r, "Continuous security scanning", v)))
}

func (p *Portal) signupForm(w http.ResponseWriter, r *http.Request) error {
	f := views.SignupForm{Tier: r.URL.Query().Get("tier")}
	if f.Tier == "" {
		f.Tier = "pro"
	}
	return render(w, r, views.Signup(p.pageMeta(r, "Start your free trial", nil), f))
}

// signupEmailCookie keeps the address the sign-up used, for the progress
// page's "we sent <email> a link" (the status API does not return it).
const signupEmailCookie = "so_signup_email"

func (p *Portal) signupSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &APIError{Status: http.StatusBadRequest, Detail: "The form could not be read."}
	}
	f := views.SignupForm{
		CompanyName: r.PostFormValue("company_name"), ContactName: r.PostFormValue("contact_name"),
		Email: r.PostFormValue("email"), Tier: r.PostFormValue("tier"), InitialTarget: r.PostFormValue("initial_target"),
	}
	req := map[string]any{"company_name": f.CompanyName, "contact_name": f.ContactName, "email": f.Email, "tier": f.Tier}
	if strings.TrimSpace(f.InitialTarget) != "" {
		req["initial_target"] = f.InitialTarget
	}
	var out struct {
		SignupID string `json:"signup_id"`
	}
	err := p.call(r, http.MethodPost, "/api/v1/signup", req, &out)
	if err != nil {
		status := StatusOf(err)
		if status != http.StatusBadRequest && status != http.StatusUnprocessableEntity &&
			status != http.StatusConflict && status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
			return err
		}
		ae := err.(*APIError)
		f.Errors = ae.FieldErrors()
		if field, msg, ok := strings.Cut(ae.Detail, ": "); ok && field == "initial_target" && len(f.Errors) == 0 {
			f.Errors["initial_target"] = msg
		}
		if len(f.Errors) == 0 {
			f.Error = ae.Error()
		}
		// 200, not the API's 4xx: the browser would log the page as a
		// failed load, and the refusal is shown on the form anyway.
		return render(w, r, views.Signup(p.pageMeta(r, "Start your free trial", nil), f))
	}
	http.SetCookie(w, &http.Cookie{
		Name: signupEmailCookie, Value: url.QueryEscape(strings.ToLower(strings.TrimSpace(f.Email))),
		Path: "/signup/" + out.SignupID, MaxAge: 86400, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, "/signup/"+out.SignupID, http.StatusSeeOther)
	return nil
}

var signupIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

// progress reads the sign-up's state from the API.
func (p *Portal) progress(r *http.Request, id string) (views.SignupProgress, error) {
	var st struct {
		Status        string             `json:"status"`
		Steps         []views.SignupStep `json:"steps"`
		FailureReason *string            `json:"failure_reason"`
	}
	pr := views.SignupProgress{ID: id}
	if !signupIDRe.MatchString(id) {
		return pr, &APIError{Status: http.StatusNotFound}
	}
	if err := p.get(r, "/api/v1/signup/"+id, nil, &st); err != nil {
		return pr, err
	}
	pr.Status, pr.Steps = st.Status, st.Steps
	if st.FailureReason != nil {
		pr.FailureReason = *st.FailureReason
	}
	if c, err := r.Cookie(signupEmailCookie); err == nil {
		pr.Email, _ = url.QueryUnescape(c.Value)
	}
	return pr, nil
}

func (p *Portal) signupStatus(w http.ResponseWriter, r *http.Request) error {
	pr, err := p.progress(r, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return render(w, r, views.SignupStatus(p.pageMeta(r, "Setting up your workspace", nil), pr))
}

// Sign-up progress stream: the API is polled in-process and the step list
// pushed when it changes; the end (active or failed) is sent as "done",
// which replaces the live element (closing the browser's EventSource), and
// the stream ends.
const (
	signupPoll      = 500 * time.Millisecond
	signupHeartbeat = 15 * time.Second
	signupMaxStream = 15 * time.Minute
)

func (p *Portal) signupEvents(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := p.progress(r, id); err != nil {
		p.renderError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()

	send := func(event string, c templ.Component) error {
		var buf bytes.Buffer
		if err := c.Render(r.Context(), &buf); err != nil {
			return err
		}
		var out strings.Builder
		fmt.Fprintf(&out, "event: %s\n", event)
		for _, line := range strings.Split(buf.String(), "\n") {
			fmt.Fprintf(&out, "data: %s\n", line)
		}
		out.WriteString("\n")
		if _, err := w.Write([]byte(out.String())); err != nil {
			return err
		}
		return rc.Flush()
	}
	ctx, cancel := context.WithTimeout(r.Context(), signupMaxStream)
	defer cancel()
	tick := time.NewTicker(signupPoll)
	defer tick.Stop()
	lastBeat := time.Now()
	last := ""
	var pr views.SignupProgress
	for {
		cur, err := p.progress(r.WithContext(ctx), id)
		switch {
		case err == nil:
			pr = cur
			if pr.Status != "running" {
				_ = send("done", views.SignupOutcome(pr))
				return
			}
			var buf bytes.Buffer
			_ = views.SignupSteps(pr).Render(ctx, &buf)
			if s := buf.String(); s != last {
				last = s
				if send("steps", views.SignupSteps(pr)) != nil {
					return
				}
				lastBeat = time.Now()
			}
		case StatusOf(err) == http.StatusNotFound || StatusOf(err) == http.StatusBadRequest:
			pr.Status = "failed"
			pr.FailureReason = "This sign-up is not known here any more."
			_ = send("done", views.SignupOutcome(pr))
			return
		}
		if time.Since(lastBeat) >= signupHeartbeat {
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
			lastBeat = time.Now()
		}
		select {
		case <-ctx.Done():
			if r.Context().Err() == nil {
				// Still running after the stream's limit: say so and stop.
				pr.Status = "stalled"
				_ = send("done", views.SignupOutcome(pr))
			}
			return
		case <-tick.C:
		}
	}
}
