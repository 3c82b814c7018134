package e2e

// The browser harness: one headless Chromium for the whole package (Debian's
// chromium, which `make test` installs), a fresh browser context (cookie
// jar) per person in a test, console errors collected and failed at the end,
// and a screenshot kept when a test fails.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/secureops/secureops/internal/config"
)

// listenerURL is a loopback listener's address as the browser spells it.
func listenerURL(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return "http://" + ln.Addr().String()
}

// hostURL is listenerURL spelled with host ("" keeps the listener's IP).
func hostURL(ln net.Listener, host string) string {
	if ln == nil || host == "" {
		return listenerURL(ln)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "http://" + net.JoinHostPort(host, port)
}

// listenLoopback binds the portal's port before Kratos starts, so Kratos'
// flows can point at it.
func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// portalEnv is the whole platform with its portal: real Kratos, Temporal,
// Postgres, stripe-mock; the Resend and DefectDojo fakes.
type portalEnv struct {
	*onboardEnv
	URL string
}

func startPortal(t *testing.T, extra ...func(*config.Config)) *portalEnv {
	t.Helper()
	return startPortalHost(t, "", extra...)
}

// startPortalHost is startPortal with browsers using host for the portal
// and Kratos ("localhost" for WebAuthn, whose relying party is a domain).
func startPortalHost(t *testing.T, host string, extra ...func(*config.Config)) *portalEnv {
	t.Helper()
	browserAllocator(t) // fail or skip before starting the platform
	ln := listenLoopback(t)
	e := startOnboardingHost(t, false, ln, host, extra...)
	return &portalEnv{onboardEnv: e, URL: hostURL(ln, host)}
}

var (
	browserOnce sync.Once
	browserCtx  context.Context
	browserErr  error
)

// chromiumPath finds Debian's chromium.
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("chromium not found: `make test` installs Debian's chromium (or set CHROMIUM_PATH)")
}

// browserAllocator is the package's one browser process.
func browserAllocator(t testing.TB) context.Context {
	t.Helper()
	browserOnce.Do(func() {
		path, err := chromiumPath()
		if err != nil {
			browserErr = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.WindowSize(1400, 900),
		)
		alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		// Start the browser once; every test opens its own contexts in it.
		bctx, bcancel := chromedp.NewContext(alloc)
		if err := chromedp.Do(bctx); err != nil {
			bcancel()
			cancel()
			browserErr = fmt.Errorf("starting chromium: %w", err)
			return
		}
		// Never cancelled: the browser lives as long as the test binary
		// (chromedp starts it with a parent-death signal).
		browserCtx = bctx
	})
	if browserErr != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal(browserErr)
		}
		t.Skip(browserErr)
	}
	return browserCtx
}

// tab is one person's browser: its own cookie jar, its console watched.
type tab struct {
	ctx    context.Context
	t      *testing.T
	mu     sync.Mutex
	errors []string
	// allowErrors are substrings of console errors a test expects.
	allowErrors []string
}

// newTab opens a fresh browser context (no cookies shared with other tabs).
// The test fails on any console error or uncaught exception, and a failing
// test leaves a screenshot under $TMPDIR (path in the log).
func newTab(t *testing.T) *tab {
	t.Helper()
	parent := browserAllocator(t)
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	tb := &tab{ctx: ctx, t: t}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		cancel()
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				tb.addError(string(m.Type) + ": " + m.Text)
			}
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			if png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
				name := filepath.Join(os.TempDir(), "secureops-"+strings.ReplaceAll(t.Name(), "/", "_")+".png")
				if os.WriteFile(name, png, 0o644) == nil {
					t.Logf("screenshot of the failing page: %s", name)
				}
			}
			scancel()
		}
		cancel()
		<-done
		tb.mu.Lock()
		errs := tb.errors
		tb.mu.Unlock()
		for _, e := range errs {
			t.Errorf("browser console: %s", e)
		}
	})
	return tb
}

func (tb *tab) addError(msg string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, a := range tb.allowErrors {
		if strings.Contains(msg, a) {
			return
		}
	}
	tb.errors = append(tb.errors, msg)
}

// do runs steps with a deadline, failing the test with the step's name.
func (tb *tab) do(step string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v", step, err)
	}
}

// value runs one action that returns a value.
func value[T any](tb *tab, step string, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v", step, err)
	}
	return v
}

// open navigates and waits for the page's body.
func (tb *tab) open(u string) {
	tb.t.Helper()
	tb.do("open "+u, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("body")))
}

// text returns the text of the first element matching a CSS selector, once
// it is visible.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	tb.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	return strings.TrimSpace(value(tb, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// location is the page's current URL.
func (tb *tab) location() string {
	tb.t.Helper()
	return value(tb, "location", chromedp.Location())
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	return value(tb, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// waitJS waits until a JavaScript expression is truthy: a page condition,
// never a fixed sleep.
func (tb *tab) waitJS(expr string) {
	tb.t.Helper()
	// Coerced to a boolean: a DOM object is not sent back by value.
	_ = value(tb, "wait for "+expr, chromedp.Poll[bool]("!!("+expr+")",
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(55*time.Second)))
}

// unlabelledJS lists form fields a person cannot identify: every visible
// input, select and textarea needs a <label for>, a wrapping <label>, or an
// aria-label.
const unlabelledJS = `Array.from(document.querySelectorAll('input,select,textarea')).filter(el => {
  if (el.type === 'hidden' || el.type === 'submit' || el.type === 'button') return false;
  if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
  if (el.closest('label')) return false;
  if (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) return false;
  return true;
}).map(el => el.outerHTML.slice(0, 120))`

// assertLabelled fails for every unlabelled form field on the current page.
func (tb *tab) assertLabelled() {
	tb.t.Helper()
	for _, b := range eval[[]string](tb, unlabelledJS) {
		tb.t.Errorf("form field without a label on %s: %s", tb.location(), b)
	}
}

// kratosBrowserLogin runs Kratos' browser login flow from Go (its JSON
// variant) and returns the cookies a browser would hold afterwards.
func kratosBrowserLogin(t testing.TB, kratosPublic, email, password string) []*http.Cookie {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	req, _ := http.NewRequest("GET", kratosPublic+"/self-service/login/browser", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var flow struct {
		ID string `json:"id"`
		UI struct {
			Nodes []struct {
				Attributes struct {
					Name  string `json:"name"`
					Value any    `json:"value"`
				} `json:"attributes"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&flow)
	resp.Body.Close()
	csrf := ""
	for _, n := range flow.UI.Nodes {
		if n.Attributes.Name == "csrf_token" {
			csrf, _ = n.Attributes.Value.(string)
		}
	}
	body, _ := json.Marshal(map[string]string{"method": "password", "identifier": email, "password": password, "csrf_token": csrf})
	req, _ = http.NewRequest("POST", kratosPublic+"/self-service/login?flow="+flow.ID, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("kratos browser login of %s: %d %s", email, resp.StatusCode, raw)
	}
	u, _ := url.Parse(kratosPublic)
	return jar.Cookies(u)
}

// signIn gives a tab a Kratos session for email/password through Kratos'
// own browser login flow, then hands its cookies to the browser: tests of
// pages other than sign-in start signed in.
func (tb *tab) signIn(kratosPublic, email, password string) {
	tb.t.Helper()
	u, _ := url.Parse(kratosPublic)
	for _, ck := range kratosBrowserLogin(tb.t, kratosPublic, email, password) {
		if _, err := chromedp.Call(tb.ctx, network.SetCookie, network.SetCookieParams{
			Name: ck.Name, Value: ck.Value, Domain: u.Hostname(), Path: "/", HTTPOnly: new(true),
		}); err != nil {
			tb.t.Fatalf("set cookie %s: %v", ck.Name, err)
		}
	}
}
