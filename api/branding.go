package api

// The acting tenant's own logo, shown on its reports (HTML and PDF):
// PUT uploads it (owners and admins: a PNG or JPEG body, or JSON
// {"image_base64": …}), GET returns it as PNG, DELETE removes it. The rules
// (types, size, decoding) are tenancy.DecodeLogo's.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/tenancy"
)

// LogoView describes a tenant's stored logo.
type LogoView struct {
	Width     int       `json:"width"`
	Height    int       `json:"height"`
	SHA256    string    `json:"sha256"`
	Bytes     int       `json:"bytes"`
	UpdatedAt time.Time `json:"updated_at"`
}

func logoViewOf(l tenancy.Logo) LogoView {
	return LogoView{Width: l.Width, Height: l.Height, SHA256: l.SHA256, Bytes: len(l.PNG), UpdatedAt: l.UpdatedAt}
}

// readLogo reads the upload: the image itself (Content-Type image/png or
// image/jpeg) or JSON carrying it in base64. Other media types are refused
// (415): no cross-site form can send these without a preflight.
func readLogo(r *http.Request) ([]byte, string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	limit := int64(tenancy.MaxLogoBytes)
	switch {
	case slices.Contains(tenancy.LogoTypes, mt):
		b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit+1))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || int64(len(b)) > limit {
			return nil, "", statusErr(http.StatusRequestEntityTooLarge, fmt.Sprintf("the logo is larger than %d KiB", limit>>10))
		}
		return b, mt, err
	case mt == "application/json":
		var req struct {
			ImageBase64 string `json:"image_base64"`
		}
		if err := decodeJSON(r, &req, limit*4/3+1024); err != nil {
			return nil, "", err
		}
		b, err := base64.StdEncoding.DecodeString(req.ImageBase64)
		if err != nil {
			return nil, "", invalid("image_base64", "image_base64 must be a PNG or JPEG image in standard base64")
		}
		return b, "", nil
	}
	return nil, "", statusErr(http.StatusUnsupportedMediaType, "send the logo as Content-Type: image/png or image/jpeg (or JSON with image_base64)")
}

func (s *Server) brandingLogoPut(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	data, mt, err := readLogo(r)
	if err != nil {
		return err
	}
	l, err := tenancy.DecodeLogo(data, mt)
	if err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		by := uuid.NullUUID{UUID: a.Principal.UserID, Valid: a.Principal.UserID != uuid.Nil}
		if l, err = tenancy.SetLogo(ctx, tx, a.TenantID, l, by); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "tenant.logo_updated", "tenant", a.TenantID.String(),
			map[string]any{"width": l.Width, "height": l.Height, "sha256": l.SHA256})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, logoViewOf(l))
	return nil
}

func (s *Server) brandingLogoGet(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var l tenancy.Logo
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var found bool
		var err error
		if l, found, err = tenancy.GetLogo(ctx, tx, a.TenantID); err == nil && !found {
			return errNotFound
		}
		return err
	})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Content-Length", strconv.Itoa(len(l.PNG)))
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", `"`+l.SHA256+`"`)
	h.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(l.PNG)
	return err
}

func (s *Server) brandingLogoDelete(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		found, err := tenancy.DeleteLogo(ctx, tx, a.TenantID)
		if err != nil || !found {
			return err // deleting what is not there succeeds (a retried DELETE)
		}
		return audit(ctx, tx, r, a, uuid.Nil, "tenant.logo_removed", "tenant", a.TenantID.String(), nil)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
