package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/tiers"
)

// welcomeMailTo waits for the welcome email the fake Resend received for to.
func welcomeMailTo(t *testing.T, e *portalEnv, to string) resendMail {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.resend.mu.Lock()
		for _, m := range e.resend.sent {
			if len(m.To) == 1 && m.To[0] == to && strings.Contains(m.Subject, "Welcome") {
				e.resend.mu.Unlock()
				return m
			}
		}
		e.resend.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no welcome email to %s", to)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// inviteRecovery makes an account without a password and a recovery code
// for it, as an invitation does.
func inviteRecovery(t *testing.T, e *portalEnv, email string) kratos.Recovery {
	t.Helper()
	ctx := context.Background()
	ident, err := e.kr.EnsureIdentity(ctx, email, "Wendy", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.kr.RecoveryCode(ctx, ident.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// typeInto clears a field and types into it as a person would.
func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.do("type into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// click clicks the first element matching sel.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// snap saves a screenshot of the page as <name>.png under
// $SECUREOPS_SCREENSHOTS when set (to look at the pages, or for the docs:
// `make screenshots`).
func (tb *tab) snap(name string) {
	tb.t.Helper()
	dir := os.Getenv("SECUREOPS_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := value(tb, "screenshot "+name, chromedp.FullScreenshot(100)) // 100: PNG
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// waitFor is waitJS across navigations: a click that submits a form
// replaces the document the poll runs in, so the poll starts again in the
// new one until expr holds or a minute passes.
func (tb *tab) waitFor(expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(55 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, time.Until(deadline))
		_, err := chromedp.Run(ctx, chromedp.Poll[any](expr, chromedp.WithPollingInterval(100*time.Millisecond)))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || tb.ctx.Err() != nil {
			tb.t.Fatalf("wait for %s: %v", expr, err)
		}
		time.Sleep(50 * time.Millisecond) // the next document is loading
	}
}

// waitPath waits until the page's path is path and the page has loaded.
func (tb *tab) waitPath(path string) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf("location.pathname === %q && document.readyState === 'complete'", path))
}

// signInThroughForm signs in on /auth/login by typing, as a person does.
func (tb *tab) signInThroughForm(base, email, password string) {
	tb.t.Helper()
	tb.open(base + "/auth/login")
	tb.waitPath("/auth/login")
	tb.typeInto(`input[name="identifier"]`, email)
	tb.typeInto(`input[name="password"]`, password)
	tb.assertLabelled()
	tb.click(`button[name="method"][value="password"]`)
	tb.waitPath("/app")
}

// TestPortalAuth covers the public pages and Kratos' self-service pages in a
// browser: the landing page's plans, sign-up with live onboarding through
// the welcome email to a signed-in dashboard, sign-in and sign-out, a wrong
// recovery code, and an expired flow.
func TestPortalAuth(t *testing.T) {
	e := startPortal(t)
	ctx := context.Background()
	if _, err := bootstrap.CreateTenant(ctx, e.db, e.kr, bootstrap.TenantInput{
		Name: "Login Co", OwnerEmail: "owner@login.example.test", OwnerName: "Lou", OwnerPassword: "login-password-1",
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("LandingShowsTheCatalogue", func(t *testing.T) {
		tb := newTab(t)
		tb.open(e.URL + "/")
		if n := eval[int](tb, `document.querySelectorAll('#pricing [data-tier]').length`); n != len(tiers.All) {
			t.Fatalf("%d tiers on the landing page, want %d", n, len(tiers.All))
		}
		for _, tr := range tiers.All {
			want := fmt.Sprintf("$%d", tr.MonthlyCents/100)
			if got := tb.text("#tier-" + tr.Name + " .tier-price"); got != want {
				t.Errorf("%s price %q, want %q", tr.Name, got, want)
			}
			if got := tb.text("#tier-" + tr.Name + " .tier-concurrent"); got != fmt.Sprint(tr.MaxConcurrentScans) {
				t.Errorf("%s concurrent scans %q, want %d", tr.Name, got, tr.MaxConcurrentScans)
			}
			if got := tb.text("#tier-" + tr.Name + " .tier-scanners"); got != strings.Join(tr.Scanners, ", ") {
				t.Errorf("%s scanners %q", tr.Name, got)
			}
			if got := tb.text("#tier-" + tr.Name + " h3"); got != tr.Title {
				t.Errorf("%s title %q", tr.Name, got)
			}
		}
		if got := tb.text("main"); !strings.Contains(got, "EPSS") || !strings.Contains(got, "Temporal") || !strings.Contains(got, "DefectDojo") {
			t.Errorf("landing does not say what the product does: %q", got)
		}
		tb.snap("landing")
		tb.click("#cta-signup")
		tb.waitPath("/signup")
		tb.assertLabelled()
	})

	t.Run("SignupToSignedInDashboard", func(t *testing.T) {
		tb := newTab(t)
		tb.open(e.URL + "/signup")
		// Bad input: the form comes back with the field's error, typed values kept.
		tb.typeInto("#company_name", "Newco Portal")
		tb.typeInto("#contact_name", "Nora New")
		tb.typeInto("#email", "not-an-address")
		tb.do("choose plan", chromedp.SetValue(chromedp.CSS("select#tier"), "basic"))
		tb.click(`#signup-form button[type="submit"]`)
		tb.waitFor(`document.querySelector('#email-error') !== null`)
		if got := eval[string](tb, `document.querySelector('#company_name').value + '|' + document.querySelector('#tier').value + '|' + document.querySelector('#email').value`); got != "Newco Portal|basic|not-an-address" {
			t.Fatalf("typed values lost after a refusal: %q", got)
		}
		if got := tb.text("#email-error"); !strings.Contains(got, "email") {
			t.Fatalf("email error %q", got)
		}
		tb.assertLabelled()
		tb.snap("signup-refused")

		email := "nora@newco-portal.example.test"
		tb.typeInto("#email", email)
		tb.click(`#signup-form button[type="submit"]`)
		tb.waitFor(`location.pathname.startsWith('/signup/') && document.querySelector('#signup-status') !== null`)
		// The page is live: a marker set now survives until the end (no
		// reload), and the steps were not all done when it was first shown.
		live := eval[bool](tb, `window.__noReload = 'kept'; document.querySelector('#signup-live[sse-connect]') !== null`)
		if !live {
			t.Fatalf("the progress page was not live when shown (onboarding already over?): %s", tb.text("main"))
		}
		tb.snap("signup-live")
		tb.waitFor(`document.querySelector('#signup-done') !== null`)
		if got := eval[string](tb, `String(window.__noReload)`); got != "kept" {
			t.Fatalf("the progress page reloaded (marker %q)", got)
		}
		// The stream ended with the page: nothing left connected to it.
		if eval[bool](tb, `document.querySelector('[sse-connect]') !== null`) {
			t.Errorf("the finished page still holds an event stream")
		}
		if n := eval[int](tb, `document.querySelectorAll('#signup-steps li[data-state="done"]').length`); n < 5 {
			t.Errorf("%d steps done at the end", n)
		}
		if n := eval[int](tb, `document.querySelectorAll('#signup-steps li[data-state="pending"],#signup-steps li[data-state="running"]').length`); n != 0 {
			t.Errorf("%d steps still pending or running when active", n)
		}
		if got := tb.text("#signup-done"); !strings.Contains(got, "Check your mail: we sent "+email+" a link to set your password") {
			t.Errorf("final message %q", got)
		}

		tb.snap("signup-done")
		mail := welcomeMailTo(t, e, email)
		link, code := recoveryFrom(t, mail.Text)
		if !strings.HasPrefix(link, e.URL+"/auth/recovery?flow=") {
			t.Fatalf("welcome link %q does not open the portal's recovery page", link)
		}
		tb.open(link)
		tb.waitPath("/auth/recovery")
		tb.assertLabelled()
		tb.snap("recovery")
		tb.typeInto(`input[name="code"]`, code)
		tb.click(`button[name="method"][value="code"]`)
		tb.waitPath("/auth/settings")
		tb.assertLabelled()
		tb.snap("settings")
		tb.typeInto(`form[data-group="password"] input[name="password"]`, "newco-owner-password-1")
		tb.click(`button[name="method"][value="password"]`)
		tb.waitPath("/app")
		if got := tb.text("main"); !strings.Contains(got, "Newco Portal") {
			t.Fatalf("dashboard does not name the new tenant: %q", got)
		}
	})

	t.Run("SignInAndSignOut", func(t *testing.T) {
		tb := newTab(t)
		// A page asked for while signed out is where sign-in returns to.
		tb.open(e.URL + "/app?from=login")
		tb.waitPath("/auth/login")
		tb.typeInto(`input[name="identifier"]`, "owner@login.example.test")
		tb.typeInto(`input[name="password"]`, "login-password-1")
		tb.assertLabelled()
		tb.snap("login")
		tb.click(`button[name="method"][value="password"]`)
		tb.waitFor(`location.pathname === '/app' && location.search === '?from=login'`)
		if got := tb.text("main"); !strings.Contains(got, "Login Co") {
			t.Fatalf("signed-in dashboard %q", got)
		}
		tb.click(`header nav a[href="/auth/logout"]`)
		tb.waitPath("/")
		tb.do("signed out nav", chromedp.WaitVisible(chromedp.CSS(`header nav a[href="/auth/login"]`)))
		tb.open(e.URL + "/app")
		tb.waitPath("/auth/login")

		// A wrong password shows Kratos' message on the form.
		tb.typeInto(`input[name="identifier"]`, "owner@login.example.test")
		tb.typeInto(`input[name="password"]`, "wrong-password-1")
		tb.click(`button[name="method"][value="password"]`)
		tb.waitFor(`document.querySelector('article.alert-error') !== null`)
		tb.snap("login-wrong-password")
		if got := tb.text("article.alert-error"); !strings.Contains(got, "credentials are invalid") {
			t.Errorf("wrong password message %q", got)
		}
	})

	t.Run("RecoveryWithWrongCode", func(t *testing.T) {
		rec := inviteRecovery(t, e, "wrong-code@login.example.test")
		tb := newTab(t)
		tb.open(rec.Link)
		tb.waitPath("/auth/recovery")
		tb.typeInto(`input[name="code"]`, "000000")
		tb.click(`button[name="method"][value="code"]`)
		tb.waitFor(`document.querySelector('.node-message-error, article.alert-error') !== null`)
		tb.snap("recovery-wrong-code")
		if got := tb.text("main"); !strings.Contains(got, "recovery code is invalid") {
			t.Fatalf("wrong code page %q", got)
		}
		tb.assertLabelled()
	})

	t.Run("ExpiredFlowRestarts", func(t *testing.T) {
		tb := newTab(t)
		for _, kind := range []string{"login", "recovery", "verification", "settings"} {
			unknown := "0b8e5cb2-6f1e-4b1b-9d43-3c6b6d3f2a11"
			tb.open(e.URL + "/auth/" + kind + "?flow=" + unknown)
			if kind == "settings" {
				// Settings needs a session: Kratos sends the browser to sign in.
				tb.waitPath("/auth/login")
			} else {
				tb.waitPath("/auth/" + kind)
			}
			tb.waitFor(fmt.Sprintf(`new URLSearchParams(location.search).get('flow') && new URLSearchParams(location.search).get('flow') !== %q && document.querySelector('main form') !== null`, unknown))
			tb.assertLabelled()
		}
		tb.open(e.URL + "/auth/registration")
		tb.snap("registration")
		if got := tb.text("main h1"); !strings.Contains(got, "sign-up or invitation") {
			t.Errorf("registration page %q", got)
		}
		tb.open(e.URL + "/auth/error?id=unknown")
		tb.snap("auth-error")
		if got := tb.text("main h1"); !strings.Contains(got, "Something went wrong") {
			t.Errorf("error page %q", got)
		}
	})
}
