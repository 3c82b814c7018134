package scans

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/cadence"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/keyset"
	"github.com/secureops/secureops/internal/reach"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/tiers"
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

// Schedule is a recurring scan of one of the tenant's targets.
type Schedule struct {
	ID          uuid.UUID
	TenantID    uuid.UUID
	TargetID    uuid.UUID
	Target      string // the target's value
	Scanners    []string
	Timing      Timing
	Description string
	Paused      bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Key is the schedule's position in a newest-first listing.
func (s Schedule) Key() keyset.Key { return keyset.Key{At: s.CreatedAt, ID: s.ID} }

func scheduleFromRow(r dbq.ScanSchedule, target string) Schedule {
	return Schedule{ID: r.ID, TenantID: r.TenantID, TargetID: r.TargetID, Target: target, Scanners: r.Scanners,
		Timing:      Timing{Cron: r.Cron, Every: time.Duration(r.IntervalSeconds) * time.Second, TimeZone: r.Timezone},
		Description: r.Description, Paused: r.Paused, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// NewSchedule is a validated request for a schedule.
type NewSchedule struct {
	TargetID    uuid.UUID
	Scanners    []string // nil: the target kind's default
	Timing      Timing
	Description string
	Paused      bool
}

// CreateSchedule is an idempotent upsert: the same target, scanners and
// timing give back the same schedule (created false). The target must be
// schedulable (SchedulableTarget).
func CreateSchedule(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID, n NewSchedule) (Schedule, bool, error) {
	t, scanners, err := SchedulableTarget(ctx, tx, tenant, n.TargetID, n.Scanners)
	if err != nil {
		return Schedule{}, false, err
	}
	if err := checkCadence(ctx, tx, tenant, n.Timing); err != nil {
		return Schedule{}, false, err
	}
	r, err := q.ScheduleUpsert(ctx, tx, dbq.ScheduleUpsertParams{
		TenantID: tenant, TargetID: t.ID, Scanners: scanners, Cron: n.Timing.Cron, IntervalSeconds: int32(n.Timing.Every / time.Second),
		Timezone: n.Timing.TimeZone, Description: n.Description, Paused: n.Paused,
	})
	if err != nil {
		return Schedule{}, false, err
	}
	return scheduleFromRow(dbq.ScanSchedule{ID: r.ID, TenantID: r.TenantID, TargetID: r.TargetID, Scanners: r.Scanners, Cron: r.Cron,
		IntervalSeconds: r.IntervalSeconds, Timezone: r.Timezone, Description: r.Description, Paused: r.Paused,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, t.Value), r.Created, nil
}

// GetSchedule reads a schedule in scope with its target's value.
func GetSchedule(ctx context.Context, tx dbq.DBTX, id uuid.UUID) (Schedule, error) {
	r, err := q.ScheduleGet(ctx, tx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Schedule{}, domainerr.Wrap(domainerr.NotFound, domainerr.ErrNotFound.Detail, err)
	}
	if err != nil {
		return Schedule{}, err
	}
	if err := reach.Check(ctx, tx, r.TenantID); err != nil {
		return Schedule{}, err
	}
	return withTarget(ctx, tx, r)
}

func withTarget(ctx context.Context, tx dbq.DBTX, r dbq.ScanSchedule) (Schedule, error) {
	t, err := targets.Get(ctx, tx, r.TargetID)
	if err != nil {
		return Schedule{}, err
	}
	return scheduleFromRow(r, t.Value), nil
}

// ListSchedules returns up to limit schedules in scope, newest first, after
// before, optionally of one target.
func ListSchedules(ctx context.Context, tx dbq.DBTX, targetID *uuid.UUID, before *keyset.Key, limit int) ([]Schedule, error) {
	params := dbq.ScheduleListParams{Lim: int32(limit)}
	if targetID != nil {
		params.TargetID = uuid.NullUUID{UUID: *targetID, Valid: true}
	}
	if before != nil {
		params.BeforeCreated, params.BeforeID = &before.At, uuid.NullUUID{UUID: before.ID, Valid: true}
	}
	rows, err := q.ScheduleList(ctx, tx, params)
	if err != nil {
		return nil, err
	}
	values := map[uuid.UUID]string{}
	out := make([]Schedule, len(rows))
	for i, r := range rows {
		if _, ok := values[r.TargetID]; !ok {
			t, err := targets.Get(ctx, tx, r.TargetID)
			if err != nil {
				return nil, err
			}
			values[r.TargetID] = t.Value
		}
		out[i] = scheduleFromRow(r, values[r.TargetID])
	}
	return out, nil
}

// ScheduleChange changes a schedule's timing, scanners or description;
// nil fields keep their value (cron and interval replace each other).
type ScheduleChange struct {
	Cron, Interval, TimeZone *string
	Scanners                 []string
	Description              *string
}

// UpdateSchedule applies a change; Conflict when the result is identical to
// another schedule of the same target.
func UpdateSchedule(ctx context.Context, tx dbq.DBTX, id uuid.UUID, c ScheduleChange) (Schedule, error) {
	cur, err := GetSchedule(ctx, tx, id)
	if err != nil {
		return Schedule{}, err
	}
	t, err := targets.Get(ctx, tx, cur.TargetID)
	if err != nil {
		return Schedule{}, err
	}
	cron, interval, tz := deref(c.Cron), deref(c.Interval), cur.Timing.TimeZone
	if c.Cron == nil && c.Interval == nil {
		if cur.Timing.Cron != "" {
			cron = cur.Timing.Cron
		} else {
			interval = cur.Timing.Every.String()
		}
	}
	if c.TimeZone != nil {
		tz = *c.TimeZone
	}
	timing, err := ParseTiming(cron, interval, tz)
	if err != nil {
		return Schedule{}, err
	}
	if err := checkCadence(ctx, tx, cur.TenantID, timing); err != nil {
		return Schedule{}, err
	}
	scanners := cur.Scanners
	if c.Scanners != nil {
		if scanners, err = ScannersFor(t.Kind, c.Scanners); err != nil {
			return Schedule{}, err
		}
	}
	desc := cur.Description
	if c.Description != nil {
		desc = *c.Description
		if err := ValidateDescription(desc); err != nil {
			return Schedule{}, err
		}
	}
	r, err := q.ScheduleUpdate(ctx, tx, dbq.ScheduleUpdateParams{ID: id, Scanners: scanners, Cron: timing.Cron,
		IntervalSeconds: int32(timing.Every / time.Second), Timezone: timing.TimeZone, Description: desc})
	if db.IsConflict(err) {
		return Schedule{}, domainerr.Wrap(domainerr.Conflict, "an identical schedule of this target exists already", err)
	}
	if err != nil {
		return Schedule{}, err
	}
	return scheduleFromRow(r, t.Value), nil
}

// SetSchedulePaused pauses or resumes a schedule.
func SetSchedulePaused(ctx context.Context, tx dbq.DBTX, id uuid.UUID, paused bool) (Schedule, error) {
	cur, err := GetSchedule(ctx, tx, id)
	if err != nil {
		return Schedule{}, err
	}
	r, err := q.ScheduleSetPaused(ctx, tx, dbq.ScheduleSetPausedParams{ID: id, Paused: paused})
	if err != nil {
		return Schedule{}, err
	}
	return scheduleFromRow(r, cur.Target), nil
}

// DeleteSchedule removes a schedule and returns what it was.
func DeleteSchedule(ctx context.Context, tx dbq.DBTX, id uuid.UUID) (Schedule, error) {
	cur, err := GetSchedule(ctx, tx, id)
	if err != nil {
		return Schedule{}, err
	}
	_, err = q.ScheduleDelete(ctx, tx, id)
	return cur, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkCadence refuses a timing that may run more often than the tenant's
// tier allows (tiers.MinScheduleInterval), and cron specs outside five
// fields (no seconds, no years, no @every): every run is a metered scan of a
// real host.
func checkCadence(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID, t Timing) error {
	ten, err := q.TenantGet(ctx, tx, tenant)
	if err != nil {
		return err
	}
	tier, ok := tiers.Get(ten.Tier)
	if !ok {
		return fmt.Errorf("tenant %s has unknown tier %q", tenant, ten.Tier)
	}
	err = cadence.Check(t.Cron, t.Every, tier.MinScheduleInterval)
	switch {
	case errors.Is(err, cadence.ErrUnsupported):
		return domainerr.InvalidField("cron", err.Error())
	case errors.Is(err, cadence.ErrTooFrequent):
		field := "interval"
		if t.Cron != "" {
			field = "cron"
		}
		return domainerr.Wrap(domainerr.Refused, fmt.Sprintf("%s: %v (the %s plan)", field, err, tier.Name), err)
	}
	return err
}
