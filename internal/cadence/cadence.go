// Package cadence bounds how often a schedule may run. Temporal accepts cron
// specs down to the second and "@every 1s"; every run is a metered scan of a
// third party's host, so schedules are limited to five-field cron specs (or
// an interval) no more frequent than the tenant's tier allows.
package cadence

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ErrTooFrequent marks a spec that may run more often than allowed.
var ErrTooFrequent = errors.New("schedule too frequent")

// ErrUnsupported marks a spec outside the accepted syntax.
var ErrUnsupported = errors.New("unsupported schedule")

// MinGap returns the shortest time between two consecutive runs of a
// five-field cron spec (minute hour day-of-month month day-of-week, names and
// @hourly/@daily/@weekly/@monthly/@yearly allowed), read on the wall clock of
// the schedule's own time zone. A spec that never runs is refused.
func MinGap(spec string) (time.Duration, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case strings.HasPrefix(spec, "@every"):
		return 0, fmt.Errorf("%w: @every is not accepted; give an interval (e.g. \"24h\") instead", ErrUnsupported)
	case strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ="):
		return 0, fmt.Errorf("%w: give the time zone in the timezone field, not in the cron spec", ErrUnsupported)
	}
	if n := len(strings.Fields(spec)); n != 5 && !strings.HasPrefix(spec, "@") {
		return 0, fmt.Errorf("%w: a cron spec has five fields (minute hour day-of-month month day-of-week), this one has %d", ErrUnsupported, n)
	}
	parsed, err := cron.ParseStandard(spec)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	s, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnsupported, spec)
	}
	// Every day it runs, it runs at the same times of day.
	var times []int // minutes since midnight, ascending
	for h := 0; h < 24; h++ {
		for m := 0; m < 60; m++ {
			if s.Hour&(1<<uint(h)) != 0 && s.Minute&(1<<uint(m)) != 0 {
				times = append(times, h*60+m)
			}
		}
	}
	gap := -1
	for i := 1; i < len(times); i++ {
		gap = minGap(gap, times[i]-times[i-1])
	}
	// Between days: walk the calendar for two leap cycles, so specs that run
	// on the 29th of February or on rare weekday/date coincidences are seen.
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := -1
	for d := 0; d < 8*366; d++ {
		day := start.AddDate(0, 0, d)
		if !runsOn(s, day) {
			continue
		}
		if prev >= 0 && len(times) > 0 {
			gap = minGap(gap, (d-prev)*24*60-times[len(times)-1]+times[0])
		}
		prev = d
	}
	if prev < 0 || len(times) == 0 {
		return 0, fmt.Errorf("%w: %q never runs", ErrUnsupported, spec)
	}
	if gap < 0 { // one run in eight years
		return 8 * 365 * 24 * time.Hour, nil
	}
	return time.Duration(gap) * time.Minute, nil
}

// Check refuses a cron spec (or, when spec is empty, an interval) that may
// run more often than min.
func Check(spec string, interval, min time.Duration) error {
	gap := interval
	if spec != "" {
		var err error
		if gap, err = MinGap(spec); err != nil {
			return err
		}
	}
	if gap < min {
		return fmt.Errorf("%w: this schedule may run every %s; your plan allows at most one run every %s", ErrTooFrequent, human(gap), human(min))
	}
	return nil
}

func minGap(cur, v int) int {
	if cur < 0 || v < cur {
		return v
	}
	return cur
}

// starBit is robfig/cron's mark of a field given as "*" or "?": when either
// day field is a star, both must match; otherwise either may (as in Vixie cron).
const starBit = 1 << 63

func runsOn(s *cron.SpecSchedule, t time.Time) bool {
	if s.Month&(1<<uint(t.Month())) == 0 {
		return false
	}
	dom := s.Dom&(1<<uint(t.Day())) != 0
	dow := s.Dow&(1<<uint(t.Weekday())) != 0
	if s.Dom&starBit != 0 || s.Dow&starBit != 0 {
		return dom && dow
	}
	return dom || dow
}

// human writes a gap as a person would read it: "1 minute", "15 minutes",
// "1 hour", "90 minutes", "2 days".
func human(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return d.String()
}
