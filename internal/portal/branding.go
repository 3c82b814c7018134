package portal

import (
	"bytes"
	"errors"
	"image/png"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/portal/views"
	"github.com/secureops/secureops/internal/tenancy"
)

// The tenant's own report logo (/app/settings/branding): shown, uploaded
// and removed through the API (/api/v1/branding/logo), which holds the rules.
func (p *Portal) brandingRoutes(r chi.Router) {
	r.Get("/app/settings/branding", p.page(p.brandingPage))
	r.Get("/app/settings/branding/logo.png", p.page(p.brandingLogo))
	r.Post("/app/settings/branding", p.page(p.brandingUpload))
	r.Post("/app/settings/branding/remove", p.page(p.brandingRemove))
}

func (p *Portal) renderBranding(w http.ResponseWriter, r *http.Request, notice, problem string) error {
	v := views.BrandingView{Notice: notice, Error: problem, MaxKiB: tenancy.MaxLogoBytes >> 10, MaxSide: tenancy.MaxLogoSide}
	rec, err := p.exchange(r, http.MethodGet, "/api/v1/branding/logo", nil, "")
	var ae *APIError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound: // none yet
	case err != nil:
		return err
	default:
		if cfg, err := png.DecodeConfig(bytes.NewReader(rec.body.Bytes())); err == nil {
			v.HasLogo, v.Width, v.Height = true, cfg.Width, cfg.Height
			v.Version = strings.Trim(rec.header.Get("ETag"), `"`)
		}
	}
	return render(w, r, views.SettingsBranding(p.settingsPage(r, "Report logo"), v))
}

func (p *Portal) brandingPage(w http.ResponseWriter, r *http.Request) error {
	notice := ""
	switch r.URL.Query().Get("done") {
	case "saved":
		notice = "Logo saved: reports made from now on carry it."
	case "removed":
		notice = "Logo removed."
	}
	return p.renderBranding(w, r, notice, "")
}

// brandingLogo is the logo for the page's <img> (the API answers the
// person's session, not the image request's cookies alone).
func (p *Portal) brandingLogo(w http.ResponseWriter, r *http.Request) error {
	rec, err := p.exchange(r, http.MethodGet, "/api/v1/branding/logo", nil, "")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	_, err = w.Write(rec.body.Bytes())
	return err
}

// brandingUpload forwards the chosen file to the API as it came (its
// media type from the browser); the API's refusal is shown on the page.
func (p *Portal) brandingUpload(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, tenancy.MaxLogoBytes+64<<10)
	f, hdr, err := r.FormFile("logo")
	if err != nil {
		return p.renderBranding(w, r, "", "Choose a PNG or JPEG file of at most "+strconv.Itoa(tenancy.MaxLogoBytes>>10)+" KiB.")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, tenancy.MaxLogoBytes+1))
	if err != nil {
		return err
	}
	_, err = p.exchange(r, http.MethodPut, "/api/v1/branding/logo", bytes.NewReader(data), hdr.Header.Get("Content-Type"))
	var ae *APIError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != http.StatusForbidden && ae.Status != http.StatusNotFound {
		return p.renderBranding(w, r, "", ae.Error())
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/app/settings/branding?done=saved")
	return nil
}

func (p *Portal) brandingRemove(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.exchange(r, http.MethodDelete, "/api/v1/branding/logo", nil, ""); err != nil {
		return err
	}
	redirect(w, r, "/app/settings/branding?done=removed")
	return nil
}
