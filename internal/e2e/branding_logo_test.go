package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/tenancy"
)

// tinyPNG is a 4×2 PNG.
func tinyPNG(t testing.TB) []byte {
	t.Helper()
	return encodeImage(t, "png", 4, 2)
}

func encodeImage(t testing.TB, format string, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{R: uint8(40 * x), G: 90, B: uint8(120 + y), A: 255})
		}
	}
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Issue 18: a tenant's owner or admin uploads the tenant's logo (PNG or
// JPEG, size-capped, decoded before it is kept); anything else is a 4xx
// problem; another tenant never sees it (row-level security).
func TestTenantLogoUpload(t *testing.T) {
	p := startWith(t, options{noWorkers: true})
	ctx := context.Background()
	a, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Logo A"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Logo B"})
	if err != nil {
		t.Fatal(err)
	}
	keyOf := func(slug string) string {
		k, _, err := bootstrap.CreateAPIKey(ctx, p.db, slug, auth.RoleClientAdmin, nil, "logo")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keyA, keyB := keyOf(a.Slug), keyOf(b.Slug)
	send := func(key, method, ctype string, body []byte) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, p.api.URL+"/api/v1/branding/logo", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw, resp.Header
	}
	problem := func(name string, want int, code int, raw []byte, h http.Header, mention string) {
		t.Helper()
		var pr map[string]any
		_ = json.Unmarshal(raw, &pr)
		if code != want || !strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") || !strings.Contains(strings.ToLower(pr["detail"].(string)), mention) {
			t.Errorf("%s: %d %s %s, want %d problem mentioning %q", name, code, h.Get("Content-Type"), raw, want, mention)
		}
	}

	// Refused: nothing there yet, not an image, a type mismatch, a GIF,
	// an unsupported media type, too large, too many pixels, damaged.
	code, raw, h := send(keyA, "GET", "", nil)
	problem("no logo yet", http.StatusNotFound, code, raw, h, "")
	code, raw, h = send(keyA, "PUT", "image/png", []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"))
	problem("svg as png", http.StatusBadRequest, code, raw, h, "not a png or jpeg")
	code, raw, h = send(keyA, "PUT", "image/png", encodeImage(t, "jpeg", 8, 8))
	problem("jpeg sent as png", http.StatusBadRequest, code, raw, h, "sent as image/png but is a jpeg")
	gif, _ := base64.StdEncoding.DecodeString("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
	code, raw, h = send(keyA, "PUT", "application/json", []byte(`{"image_base64":"`+base64.StdEncoding.EncodeToString(gif)+`"}`))
	problem("gif", http.StatusBadRequest, code, raw, h, "not a png or jpeg")
	code, raw, h = send(keyA, "PUT", "image/gif", gif)
	problem("image/gif", http.StatusUnsupportedMediaType, code, raw, h, "image/png or image/jpeg")
	code, raw, h = send(keyA, "PUT", "image/png", append(tinyPNG(t), make([]byte, tenancy.MaxLogoBytes)...))
	problem("too large", http.StatusRequestEntityTooLarge, code, raw, h, "larger than")
	code, raw, h = send(keyA, "PUT", "image/png", encodeImage(t, "png", tenancy.MaxLogoSide+1, 1))
	problem("too wide", http.StatusBadRequest, code, raw, h, "pixels")
	cut := tinyPNG(t)
	code, raw, h = send(keyA, "PUT", "image/png", cut[:len(cut)-20])
	problem("damaged", http.StatusBadRequest, code, raw, h, "damaged")

	// Accepted: a JPEG, stored as PNG.
	code, raw, _ = send(keyA, "PUT", "image/jpeg", encodeImage(t, "jpeg", 64, 32))
	var v map[string]any
	_ = json.Unmarshal(raw, &v)
	if code != http.StatusOK || v["width"] != 64.0 || v["height"] != 32.0 {
		t.Fatalf("upload: %d %s", code, raw)
	}
	code, raw, h = send(keyA, "GET", "", nil)
	if cfg, format, err := image.DecodeConfig(bytes.NewReader(raw)); code != http.StatusOK || h.Get("Content-Type") != "image/png" || err != nil || format != "png" || cfg.Width != 64 {
		t.Fatalf("read back: %d %s %v %s", code, h.Get("Content-Type"), err, format)
	}

	// Tenant B sees none of it, through the API or a query that forgot
	// its WHERE clause (row-level security).
	if code, _, _ := send(keyB, "GET", "", nil); code != http.StatusNotFound {
		t.Errorf("tenant B reads a logo: %d", code)
	}
	err = p.db.InTx(ctx, db.TenantScope(b.ID), func(ctx context.Context, tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM tenant_logos").Scan(&n); err != nil || n != 0 {
			t.Errorf("tenant B's scope sees %d logos (%v)", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = p.db.InTx(ctx, db.TenantScope(b.ID), func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO tenant_logos (tenant_id, png, width, height, sha256) VALUES ($1, '\\x00', 1, 1, 'x')", a.ID)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("tenant B's scope writing tenant A's logo: %v", err)
	}

	// Removed (audited like the upload); removing again succeeds.
	for range 2 {
		if code, raw, _ := send(keyA, "DELETE", "", nil); code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", code, raw)
		}
	}
	if code, _, _ := send(keyA, "GET", "", nil); code != http.StatusNotFound {
		t.Errorf("after delete: %d", code)
	}
	var audited int
	err = p.db.InTx(ctx, db.TenantScope(a.ID), func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action IN ('tenant.logo_updated', 'tenant.logo_removed')", a.ID).Scan(&audited)
	})
	if err != nil || audited != 2 {
		t.Errorf("audited %d (%v), want an upload and a removal", audited, err)
	}
}
