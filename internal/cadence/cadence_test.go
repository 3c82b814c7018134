package cadence

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMinGap(t *testing.T) {
	for spec, want := range map[string]time.Duration{
		"* * * * *":          time.Minute,
		"*/15 * * * *":       15 * time.Minute,
		"0,50 * * * *":       10 * time.Minute, // :50 → next hour's :00
		"0 * * * *":          time.Hour,
		"@hourly":            time.Hour,
		"0 3 * * 1":          7 * 24 * time.Hour,
		"@daily":             24 * time.Hour,
		"0 0,23 * * *":       time.Hour, // 23:00 → 00:00 next day
		"30 23 * * 1,2":      24 * time.Hour,
		"0 0 1 * *":          28 * 24 * time.Hour, // February
		"0 12 29 2 *":        4 * 365 * 24 * time.Hour,
		"0 9-17 * * MON-FRI": time.Hour,
		"0 0 13 * 5":         24 * time.Hour, // day 13 OR Friday: Thursday 13th → Friday 14th
	} {
		got, err := MinGap(spec)
		if err != nil {
			t.Errorf("MinGap(%q): %v", spec, err)
			continue
		}
		// Feb 29 runs every four years (1461 days), whatever the cycle.
		if spec == "0 12 29 2 *" {
			want = 1461 * 24 * time.Hour
		}
		if got != want {
			t.Errorf("MinGap(%q) = %s, want %s", spec, got, want)
		}
	}
}

func TestMinGapRefusesOtherSyntax(t *testing.T) {
	for _, spec := range []string{
		"@every 1s", "@every 1h", "* * * * * *", "* * * * * * *", "TZ=UTC 0 * * * *",
		"CRON_TZ=Europe/Paris 0 * * * *", "0 0 30 2 *", "nonsense", "", "61 * * * *",
	} {
		if _, err := MinGap(spec); !errors.Is(err, ErrUnsupported) {
			t.Errorf("MinGap(%q) = %v, want ErrUnsupported", spec, err)
		}
	}
}

func TestCheck(t *testing.T) {
	if err := Check("*/15 * * * *", 0, 15*time.Minute); err != nil {
		t.Errorf("every 15 min with a 15 min floor: %v", err)
	}
	if err := Check("*/15 * * * *", 0, time.Hour); !errors.Is(err, ErrTooFrequent) ||
		!strings.Contains(err.Error(), "may run every 15 minutes; your plan allows at most one run every 1 hour") {
		t.Errorf("every 15 min with an hourly floor: %v", err)
	}
	if err := Check("", 30*time.Minute, time.Hour); !errors.Is(err, ErrTooFrequent) {
		t.Errorf("30 min interval with an hourly floor: %v", err)
	}
	if err := Check("", time.Hour, time.Hour); err != nil {
		t.Errorf("hourly interval with an hourly floor: %v", err)
	}
}
