package scans

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/targets"
)

// Timing is when a schedule runs: a cron spec or a fixed interval, in a zone.
type Timing struct {
	Cron     string
	Every    time.Duration
	TimeZone string
}

// Interval bounds of a schedule.
const (
	MinInterval = time.Minute
	MaxInterval = 366 * 24 * time.Hour
)

// ParseTiming validates a schedule's timing: exactly one of cron and
// interval, and an IANA time zone (UTC when empty). Errors name the field.
func ParseTiming(cron, interval, timeZone string) (Timing, error) {
	var t Timing
	if (cron == "") == (interval == "") {
		return t, domainerr.InvalidField("cron", "give either cron (e.g. \"0 3 * * 1\") or interval (e.g. \"24h\")")
	}
	if cron != "" {
		t.Cron = strings.TrimSpace(cron)
		if len(t.Cron) > 200 {
			return Timing{}, domainerr.InvalidField("cron", "cron must be at most 200 characters")
		}
	} else {
		every, err := time.ParseDuration(interval)
		if err != nil || every < MinInterval || every > MaxInterval || every%time.Second != 0 {
			return Timing{}, domainerr.InvalidField("interval", "interval must be a duration from 1m to 8784h, such as \"6h\" or \"168h\"")
		}
		t.Every = every
	}
	t.TimeZone = "UTC"
	if timeZone != "" {
		t.TimeZone = timeZone
	}
	if _, err := time.LoadLocation(t.TimeZone); err != nil || len(t.TimeZone) > 64 {
		return Timing{}, domainerr.InvalidField("timezone", "timezone must be an IANA time zone such as Europe/Berlin")
	}
	return t, nil
}

// MaxDescriptionLen bounds a schedule's description.
const MaxDescriptionLen = 500

// ValidateDescription checks a schedule's description.
func ValidateDescription(desc string) error {
	if len(desc) > MaxDescriptionLen {
		return domainerr.InvalidField("description", fmt.Sprintf("description must be at most %d characters", MaxDescriptionLen))
	}
	return nil
}

// SchedulableTarget is the rule for scheduling scans of a target: one of the
// tenant's own registered targets, proven, with scanners that fit its kind
// (nil: the kind's default). It returns the target and the scanners.
func SchedulableTarget(ctx context.Context, tx dbq.DBTX, tenant, targetID uuid.UUID, scanners []string) (targets.Registered, []string, error) {
	t, err := targets.GetOfTenant(ctx, tx, tenant, targetID)
	if domainerr.Is(err, domainerr.NotFound) {
		return t, nil, domainerr.InvalidField("target_id", "no target with this id in the acting tenant")
	}
	if err != nil {
		return t, nil, err
	}
	if !t.Proven() {
		return t, nil, domainerr.New(domainerr.NotVerified, fmt.Sprintf(
			"the target %s is not verified (status %s); verify it before scheduling scans", t.Value, t.Verification.Status))
	}
	scanners, err = ScannersFor(t.Kind, scanners)
	return t, scanners, err
}
