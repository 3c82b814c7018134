package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/secureops/secureops/internal/tiers"
)

// TierView is one plan on the landing page and in the sign-up form, from
// the product catalogue (internal/tiers): the same numbers Stripe bills and
// the scan limits enforce.
type TierView struct {
	Name, Title     string
	Price           string // "$49"
	Scanners        string // "nmap, nikto"
	ConcurrentScans int
	ScheduleEvery   string // "every 15 minutes"
	TrialDays       int
	ScanUnitPrice   string // metered price of one scan
	Featured        bool
}

// Tiers lists the catalogue's tiers for the pages.
func Tiers() []TierView {
	out := make([]TierView, 0, len(tiers.All))
	for _, t := range tiers.All {
		out = append(out, TierView{
			Name: t.Name, Title: t.Title, Price: dollars(t.MonthlyCents),
			Scanners: strings.Join(t.Scanners, ", "), ConcurrentScans: t.MaxConcurrentScans,
			ScheduleEvery: Every(t.MinScheduleInterval), TrialDays: tiers.TrialDays,
			ScanUnitPrice: dollars(tiers.ScanUnitCents), Featured: t.Name == "pro",
		})
	}
	return out
}

// TrialDays is the free trial of every tier.
func TrialDays() int { return tiers.TrialDays }

func dollars(cents int64) string {
	if cents%100 == 0 {
		return fmt.Sprintf("$%d", cents/100)
	}
	return fmt.Sprintf("$%d.%02d", cents/100, cents%100)
}

// Every says an interval as a person reads it: "every hour", "every 15 minutes".
func Every(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "every " + one
		}
		return fmt.Sprintf("every %d %ss", n, one)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return "every " + d.String()
}

// SignupForm is the sign-up form with what was typed and what was wrong.
type SignupForm struct {
	CompanyName, ContactName, Email, Tier, InitialTarget string
	Errors                                               map[string]string
	Error                                                string // a refusal not tied to one field
}

// SignupStep is one onboarding step as the status API reports it.
type SignupStep struct {
	Name  string  `json:"name"`
	State string  `json:"state"`
	Error *string `json:"error"`
}

// SignupProgress is the sign-up's state for the progress page.
type SignupProgress struct {
	ID            string
	Email         string
	Status        string // running, completed, failed
	Steps         []SignupStep
	FailureReason string
}

var stepLabels = map[string]string{
	"tenant":              "Create your workspace",
	"stripe_customer":     "Set up billing",
	"stripe_subscription": "Start your free trial",
	"owner_identity":      "Create your account",
	"defectdojo_product":  "Connect DefectDojo",
	"api_key":             "Create your first API key",
	"scan_policy":         "Apply your plan's scan policy",
	"welcome_email":       "Email you a link to set your password",
	"baseline_scan":       "Queue a baseline scan of your first target",
	"activate":            "Activate your workspace",
}

// StepLabel names a step for a person.
func StepLabel(name string) string {
	if l, ok := stepLabels[name]; ok {
		return l
	}
	return strings.ReplaceAll(name, "_", " ")
}

var stateWords = map[string]string{
	"pending": "waiting", "running": "in progress", "done": "done", "skipped": "skipped",
	"failed": "failed", "compensated": "undone",
}

// StateWord says a step's state.
func StateWord(s string) string {
	if w, ok := stateWords[s]; ok {
		return w
	}
	return s
}

// StateClass is a step state's pill style (app.css).
func StateClass(s string) string {
	switch s {
	case "done":
		return "pill pill-ok"
	case "running":
		return "pill pill-running"
	case "failed", "compensated":
		return "pill pill-failed"
	}
	return "pill pill-pending"
}
