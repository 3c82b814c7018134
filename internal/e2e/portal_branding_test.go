package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/secureops/secureops/internal/bootstrap"
)

// TestPortalReportLogo: an owner uploads the tenant's report logo on
// /app/settings/branding, sees it, is told why a file that is no image is
// refused, and removes the logo.
func TestPortalReportLogo(t *testing.T) {
	e := startPortal(t)
	ctx := context.Background()
	if _, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Logo Co", OwnerEmail: "owner@logo.example.test", OwnerName: "Lou", OwnerPassword: "logo-password-1",
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "logo.jpg"), filepath.Join(dir, "notes.png")
	if err := os.WriteFile(good, encodeImage(t, "jpeg", 160, 48), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("these are notes, not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	tb := newTab(t)
	tb.signIn(e.kratosPublic, "owner@logo.example.test", "logo-password-1")
	tb.open(e.URL + "/app/settings")
	tb.click(`.settings-nav a[href="/app/settings/branding"]`)
	tb.waitPath("/app/settings/branding")
	if !eval[bool](tb, `!!document.querySelector('#logo-none')`) {
		t.Error("a tenant without a logo is not told so")
	}
	tb.assertLabelled()

	tb.do("choose the logo", chromedp.SetUploadFiles(chromedp.CSS("#logo-file"), []string{good}))
	tb.click("#logo-upload")
	tb.waitFor(`location.search === '?done=saved' && document.readyState === 'complete'`)
	tb.waitFor(`(() => { const i = document.querySelector('#tenant-logo'); return i && i.complete && i.naturalWidth === 160; })()`)
	if got := tb.text("#logo-current figcaption"); got != "160×48 pixels" {
		t.Errorf("caption %q", got)
	}
	tb.snap("settings-report-logo")

	tb.do("choose a file that is no image", chromedp.SetUploadFiles(chromedp.CSS("#logo-file"), []string{bad}))
	tb.click("#logo-upload")
	tb.waitFor(`!!document.querySelector('#logo-error')`)
	if got := tb.text("#logo-error"); !strings.Contains(got, "not a PNG or JPEG") {
		t.Errorf("refusal %q", got)
	}
	if !eval[bool](tb, `!!document.querySelector('#tenant-logo')`) {
		t.Error("a refused upload lost the stored logo")
	}

	tb.click("#logo-remove")
	tb.waitFor(`location.search === '?done=removed' && !!document.querySelector('#logo-none')`)
}
