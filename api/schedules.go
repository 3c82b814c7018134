package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/payments"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/schedsync"
)

type scheduleRequest struct {
	TargetID    *uuid.UUID `json:"target_id"`
	Scanners    []string   `json:"scanners"`
	Cron        *string    `json:"cron"`
	Interval    *string    `json:"interval"`
	TimeZone    *string    `json:"timezone"`
	Description *string    `json:"description"`
	Paused      *bool      `json:"paused"`
}

// ScheduleView is a schedule as stored, with its live state from Temporal.
type ScheduleView struct {
	ID          uuid.UUID        `json:"id"`
	TenantID    uuid.UUID        `json:"tenant_id"`
	TargetID    uuid.UUID        `json:"target_id"`
	Target      string           `json:"target"`
	Scanners    []string         `json:"scanners"`
	Cron        string           `json:"cron,omitempty"`
	Interval    string           `json:"interval,omitempty"`
	TimeZone    string           `json:"timezone"`
	Description string           `json:"description"`
	Paused      bool             `json:"paused"`
	ScheduleID  string           `json:"temporal_schedule_id"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
	State       *schedsync.State `json:"state"`
}

func (s *Server) syncer() schedsync.Syncer { return schedsync.Syncer{Client: s.Temporal} }

func (s *Server) scheduleView(ctx context.Context, sc scans.Schedule) ScheduleView {
	v := ScheduleView{ID: sc.ID, TenantID: sc.TenantID, TargetID: sc.TargetID, Target: sc.Target, Scanners: sc.Scanners,
		Cron: sc.Timing.Cron, TimeZone: sc.Timing.TimeZone, Description: sc.Description, Paused: sc.Paused,
		ScheduleID: schedule.ID(sc.ID), CreatedAt: sc.CreatedAt, UpdatedAt: sc.UpdatedAt}
	if sc.Timing.Every > 0 {
		v.Interval = sc.Timing.Every.String()
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if st, err := s.syncer().Describe(dctx, sc.ID); err == nil {
		v.State = &st
	}
	return v
}

// timing validates the cron-or-interval part of a request (scans.ParseTiming).
func (req scheduleRequest) timing() (scans.Timing, error) {
	return scans.ParseTiming(deref(req.Cron), deref(req.Interval), deref(req.TimeZone))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// applyErr turns Temporal's refusal of a spec into a 400 naming it.
func applyErr(err error) error {
	if errors.Is(err, schedsync.ErrInvalid) {
		return invalid("cron", "the schedule was refused: "+err.Error())
	}
	return err
}

// blocked: the tenant chain is suspended by an operator, or its billing
// holds scans (suspended or cancelled for want of payment).
func blocked(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) (bool, error) {
	b, err := db.Q.TenantChainBlocked(ctx, tx, tenant)
	if b || err != nil {
		return b, err
	}
	hold, err := db.Q.BillingHold(ctx, tx, tenant)
	return hold != "", err
}

func specOf(sc scans.Schedule, isBlocked bool) schedsync.Spec {
	return schedsync.Spec{ScheduleID: sc.ID, TenantID: sc.TenantID, Target: sc.Target, Cron: sc.Timing.Cron,
		Interval: sc.Timing.Every, TimeZone: sc.Timing.TimeZone, Paused: sc.Paused, Blocked: isBlocked}
}

// apply makes the schedule's Temporal Schedule match it (paused while its
// tenant chain is blocked).
func (s *Server) apply(ctx context.Context, tx pgx.Tx, sc scans.Schedule) error {
	b, err := blocked(ctx, tx, sc.TenantID)
	if err != nil {
		return err
	}
	if err := s.syncer().Apply(ctx, specOf(sc, b)); err != nil {
		return applyErr(err)
	}
	return nil
}

// scheduleCreate is an idempotent upsert: the same target, scanners and
// timing give back the same schedule. The Temporal Schedule is applied
// inside the transaction, so a spec Temporal refuses saves nothing.
func (s *Server) scheduleCreate(w http.ResponseWriter, r *http.Request) error {
	var req scheduleRequest
	if err := decodeJSON(r, &req, 16<<10); err != nil {
		return err
	}
	if req.TargetID == nil {
		return invalid("target_id", "target_id is required")
	}
	tm, err := req.timing()
	if err != nil {
		return err
	}
	desc := deref(req.Description)
	if err := scans.ValidateDescription(desc); err != nil {
		return err
	}
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	var sc scans.Schedule
	var created bool
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if err := payments.Hold(ctx, tx, a.TenantID); err != nil {
			return err // 402: billing suspended or cancelled
		}
		var err error
		sc, created, err = scans.CreateSchedule(ctx, tx, a.TenantID, scans.NewSchedule{
			TargetID: *req.TargetID, Scanners: req.Scanners, Timing: tm, Description: desc, Paused: req.Paused != nil && *req.Paused,
		})
		if err != nil {
			return err
		}
		if err := s.apply(ctx, tx, sc); err != nil || !created {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "schedule.created", "schedule", sc.ID.String(),
			map[string]any{"target": sc.Target, "cron": tm.Cron, "interval": tm.Every.String(), "timezone": tm.TimeZone})
	})
	if err != nil {
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		w.Header().Set("Location", "/api/v1/schedules/"+sc.ID.String())
	}
	writeJSON(w, code, s.scheduleView(r.Context(), sc))
	return nil
}

func (s *Server) scheduleList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, before, err := timePage(q)
	if err != nil {
		return err
	}
	var targetID *uuid.UUID
	if v := q.Get("target_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return invalid("target_id", "target_id must be a UUID")
		}
		targetID = &id
	}
	var rows []scans.Schedule
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		rows, err = scans.ListSchedules(ctx, tx, targetID, before, limit+1)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(rows, limit,
		func(sc scans.Schedule) string { return timeCursor(sc.Key()) },
		func(sc scans.Schedule) ScheduleView { return s.scheduleView(r.Context(), sc) }))
	return nil
}

func (s *Server) scheduleGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var sc scans.Schedule
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		sc, err = scans.GetSchedule(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.scheduleView(r.Context(), sc))
	return nil
}

func (s *Server) scheduleUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var req scheduleRequest
	if err := decodeJSON(r, &req, 16<<10); err != nil {
		return err
	}
	if req.TargetID != nil || req.Paused != nil {
		return invalid("target_id", "target_id and paused cannot be changed here; create another schedule, or use pause and resume")
	}
	var sc scans.Schedule
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if sc, err = scans.UpdateSchedule(ctx, tx, id, scans.ScheduleChange{
			Cron: req.Cron, Interval: req.Interval, TimeZone: req.TimeZone, Scanners: req.Scanners, Description: req.Description,
		}); err != nil {
			return err
		}
		if err := s.apply(ctx, tx, sc); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, sc.TenantID, "schedule.updated", "schedule", id.String(),
			map[string]any{"cron": sc.Timing.Cron, "interval": sc.Timing.Every.String(), "timezone": sc.Timing.TimeZone, "scanners": sc.Scanners})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.scheduleView(r.Context(), sc))
	return nil
}

func (s *Server) scheduleDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		sc, err := scans.DeleteSchedule(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.syncer().Delete(ctx, id); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, sc.TenantID, "schedule.deleted", "schedule", id.String(), nil)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) scheduleSetPaused(paused bool) handlerFunc {
	action := "schedule.resumed"
	if paused {
		action = "schedule.paused"
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUUID(r, "id")
		if err != nil {
			return err
		}
		var sc scans.Schedule
		err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
			if sc, err = scans.SetSchedulePaused(ctx, tx, id, paused); err != nil {
				return err
			}
			if !paused {
				if err := payments.Hold(ctx, tx, sc.TenantID); err != nil {
					return err // 402: resuming waits for the payment
				}
			}
			// Apply, not just pause: it also heals a schedule that never
			// reached Temporal.
			if err := s.apply(ctx, tx, sc); err != nil {
				return err
			}
			return audit(ctx, tx, r, a, sc.TenantID, action, "schedule", id.String(), nil)
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, s.scheduleView(r.Context(), sc))
		return nil
	}
}

func (s *Server) scheduleTrigger(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var sc scans.Schedule
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if sc, err = scans.GetSchedule(ctx, tx, id); err != nil {
			return err
		}
		if err := payments.Hold(ctx, tx, sc.TenantID); err != nil {
			return err // 402: billing suspended or cancelled
		}
		err := s.syncer().Trigger(ctx, id)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			// Never reached Temporal (an earlier apply failed): apply, then run.
			b, berr := blocked(ctx, tx, sc.TenantID)
			if berr != nil {
				return berr
			}
			if err = s.syncer().Apply(ctx, specOf(sc, b)); err == nil {
				err = s.syncer().Trigger(ctx, id)
			}
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, sc.TenantID, "schedule.triggered", "schedule", id.String(), nil)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, s.scheduleView(r.Context(), sc))
	return nil
}

// syncTenantSchedules starts the durable sync that pauses (or resumes) the
// Temporal Schedules of a tenant subtree after its status changed. The newest
// request wins: it reads the status when it runs.
func (s *Server) syncTenantSchedules(ctx context.Context, tenantID uuid.UUID) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := s.Temporal.ExecuteWorkflow(ctx, schedule.SyncStartOptions(tenantID), schedule.SyncWorkflowName, tenantID)
	return err
}
