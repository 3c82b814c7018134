package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPortalTargetsAndSchedules: an owner adds targets through the form (a
// refused one keeps what was typed and says why), reads the proof
// instructions of a target that needs them, and runs a schedule's whole
// life from the schedules page: the plan's minimum interval is a field
// error, then create (next runs shown), pause, resume, run now, delete.
func TestPortalTargetsAndSchedules(t *testing.T) {
	e := startPortal(t)
	_, port := scansWebServer(t)
	scansOwner(t, e, "Sched Co", "owner@sched.example.test", "sched-password-1")
	tb := newTab(t)
	tb.signIn(e.kratosPublic, "owner@sched.example.test", "sched-password-1")

	tb.open(e.URL + "/app/targets")
	if got := tb.text("[data-testid=targets-empty]"); !strings.Contains(got, "No targets yet") {
		t.Errorf("empty state %q", got)
	}
	tb.assertLabelled()
	// A value that does not parse: a field error, what was typed kept.
	tb.submit("add a bad target", `^/app/targets$`,
		chromedp.SetValue(chromedp.CSS("#target-kind"), "url"),
		chromedp.SetValue(chromedp.CSS("#target-value"), "not a url"),
		chromedp.SetValue(chromedp.CSS("#target-name"), "Typed name"),
		chromedp.Click(chromedp.CSS("#target-add")),
	)
	tb.waitJS(`document.querySelector('#target-value-error') || document.querySelector('#target-form-error')`)
	if got := eval[string](tb, `document.querySelector('#target-name').value + '|' + document.querySelector('#target-value').value + '|' + document.querySelector('#target-kind').value`); got != "Typed name|not a url|url" {
		t.Errorf("the refused form kept %q", got)
	}
	tb.assertLabelled()

	// A name that needs proof: the DNS record and the file, and Verify now.
	_ = eval[any](tb, `document.querySelector('#target-name').value = ''`)
	tb.submit("add a domain", `^/app/targets$`,
		chromedp.SetValue(chromedp.CSS("#target-kind"), "domain"),
		chromedp.SetValue(chromedp.CSS("#target-value"), "shop.example.com"),
		chromedp.Click(chromedp.CSS("#target-add")),
	)
	row := `tr[data-value="shop.example.com"]`
	if got := tb.text(row + " [data-testid=target-status]"); got != "Unverified" {
		t.Errorf("a new domain shows %q", got)
	}
	inst := `tr.target-instructions`
	if got := tb.text(inst + " .dns-name"); got != "_secureops-challenge.shop.example.com" {
		t.Errorf("DNS record name %q", got)
	}
	if got := tb.text(inst + " .dns-value"); !strings.HasPrefix(got, "secureops-verification=") {
		t.Errorf("DNS record value %q", got)
	}
	if got := tb.text(inst + " .http-url"); got != "https://shop.example.com/.well-known/secureops-verification.txt" {
		t.Errorf("file URL %q", got)
	}
	if got := tb.text(inst + " .http-content"); got == "" {
		t.Error("no file content")
	}
	tb.snap("targets")
	tb.submit("verify now", `^/app/targets$`, chromedp.Click(chromedp.CSS(row+" .verify-now")))
	tb.waitJS(`document.querySelector('tr[data-value="shop.example.com"] [data-testid=target-status]')`)
	if got := tb.text(row + " [data-testid=target-status]"); got == "Unverified" {
		t.Errorf("after Verify now the target still shows %q", got)
	}

	tb.submit("delete", `^/app/targets$`, chromedp.Click(chromedp.CSS(row+" .target-delete")))
	if eval[bool](tb, `!!document.querySelector('tr[data-value="shop.example.com"]')`) {
		t.Error("the deleted target is still listed")
	}

	value := "127.0.0.1:" + strconv.Itoa(port)
	scansAddTarget(tb, e.URL, value)

	tb.open(e.URL + "/app/schedules")
	if got := tb.text("[data-testid=schedules-empty]"); !strings.Contains(got, "No schedules yet") {
		t.Errorf("empty state %q", got)
	}
	tb.assertLabelled()
	if n := eval[int](tb, `document.querySelectorAll('#schedule-target option').length`); n != 1 {
		t.Errorf("the schedule form offers %d targets, want only the verified one", n)
	}
	// More often than the pro plan allows: refused beside the field.
	tb.submit("too frequent", `^/app/schedules$`,
		chromedp.SetValue(chromedp.CSS("#schedule-interval"), "5m"),
		chromedp.SetValue(chromedp.CSS("#schedule-description"), "Nightly shop check"),
		chromedp.Click(chromedp.CSS("#schedule-create")),
	)
	tb.waitJS(`document.querySelector('#schedule-interval-error')`)
	if got := tb.text("#schedule-interval-error"); !strings.Contains(got, "15 minutes") {
		t.Errorf("interval error %q, want the plan's minimum", got)
	}
	if got := eval[string](tb, `document.querySelector('#schedule-description').value`); got != "Nightly shop check" {
		t.Errorf("description lost: %q", got)
	}
	tb.assertLabelled()
	tb.snap("schedule-refused")
	tb.submit("create", `^/app/schedules$`,
		chromedp.SetValue(chromedp.CSS("#schedule-interval"), "24h"),
		chromedp.Click(chromedp.CSS("#schedule-create")),
	)
	tb.waitJS(`document.querySelector('#schedules-table tbody tr')`)
	srow := `#schedules-table tbody tr`
	if got := tb.text(srow + " [data-testid=schedule-state]"); got != "Active" {
		t.Errorf("new schedule %q", got)
	}
	if got := tb.text(srow); !strings.Contains(got, "every day") || !strings.Contains(got, value) || !strings.Contains(got, "Nightly shop check") {
		t.Errorf("schedule row %q", got)
	}
	if got := tb.text(srow + " .next-runs"); !strings.Contains(got, "UTC") {
		t.Errorf("next runs %q", got)
	}

	tb.snap("schedules")
	tb.submit("pause", `^/app/schedules$`, chromedp.Click(chromedp.CSS(srow+" .schedule-pause")))
	tb.waitJS(`document.querySelector('#schedules-table tbody tr .schedule-resume')`)
	if got := tb.text(srow + " [data-testid=schedule-state]"); got != "Paused" {
		t.Errorf("paused schedule %q", got)
	}
	if got := tb.text(srow + " .next-runs"); !strings.Contains(got, "none while paused") {
		t.Errorf("paused next runs %q", got)
	}
	tb.submit("resume", `^/app/schedules$`, chromedp.Click(chromedp.CSS(srow+" .schedule-resume")))
	tb.waitJS(`document.querySelector('#schedules-table tbody tr .schedule-pause')`)
	if got := tb.text(srow + " [data-testid=schedule-state]"); got != "Active" {
		t.Errorf("resumed schedule %q", got)
	}

	tb.submit("run now", `^/app/schedules$`, chromedp.Click(chromedp.CSS(srow+" .schedule-trigger")))
	// Temporal counts the run shortly after: look again until it does.
	for i := 0; ; i++ {
		if n, _ := strconv.Atoi(tb.text(srow + " .schedule-runs")); n >= 1 {
			break
		}
		if i == 50 {
			t.Fatalf("the schedule never counted the run it was asked for")
		}
		tb.open(e.URL + "/app/schedules")
	}
	tb.open(e.URL + "/app/scans")
	tb.waitJS(fmt.Sprintf(`Array.from(document.querySelectorAll('#scans-table tbody tr')).some(r => r.textContent.includes(%q))`, value))

	tb.open(e.URL + "/app/schedules")
	tb.submit("delete schedule", `^/app/schedules$`, chromedp.Click(chromedp.CSS(srow+" .schedule-delete")))
	tb.waitJS(`document.querySelector('[data-testid=schedules-empty]')`)
}
