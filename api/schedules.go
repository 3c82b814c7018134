package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/schedules"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/workflows/schedule"
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
	State       *schedules.State `json:"state"`
}

func (s *Server) syncer() schedules.Syncer { return schedules.Syncer{Client: s.Temporal} }

func (s *Server) scheduleView(ctx context.Context, row dbq.ScanSchedule, target string) ScheduleView {
	v := ScheduleView{ID: row.ID, TenantID: row.TenantID, TargetID: row.TargetID, Target: target, Scanners: row.Scanners,
		Cron: row.Cron, TimeZone: row.Timezone, Description: row.Description, Paused: row.Paused,
		ScheduleID: schedules.ID(row.ID), CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}
	if row.IntervalSeconds > 0 {
		v.Interval = (time.Duration(row.IntervalSeconds) * time.Second).String()
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if st, err := s.syncer().Describe(dctx, row.ID); err == nil {
		v.State = &st
	}
	return v
}

// when validates the cron-or-interval part of a request (scans.ParseTiming).
func (req scheduleRequest) when() (cron string, every time.Duration, tz string, err error) {
	t, err := scans.ParseTiming(deref(req.Cron), deref(req.Interval), deref(req.TimeZone))
	return t.Cron, t.Every, t.TimeZone, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// applyErr turns Temporal's refusal of a spec into a 400 naming it.
func applyErr(err error) error {
	if errors.Is(err, schedules.ErrInvalid) {
		return invalid("cron", "the schedule was refused: "+err.Error())
	}
	return err
}

func blocked(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) (bool, error) {
	return db.Q.TenantChainBlocked(ctx, tx, tenant)
}

func specOf(row dbq.ScanSchedule, target string, isBlocked bool) schedules.Spec {
	return schedules.Spec{ScheduleID: row.ID, TenantID: row.TenantID, Target: target, Cron: row.Cron,
		Interval: time.Duration(row.IntervalSeconds) * time.Second, TimeZone: row.Timezone, Paused: row.Paused, Blocked: isBlocked}
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
	cron, every, tz, err := req.when()
	if err != nil {
		return err
	}
	desc := ""
	if req.Description != nil {
		desc = *req.Description
	}
	if err := scans.ValidateDescription(desc); err != nil {
		return err
	}
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	var row dbq.ScheduleUpsertRow
	var target targets.Registered
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		var scanners []string
		if target, scanners, err = scans.SchedulableTarget(ctx, tx, a.TenantID, *req.TargetID, req.Scanners); err != nil {
			return err
		}
		row, err = db.Q.ScheduleUpsert(ctx, tx, dbq.ScheduleUpsertParams{
			TenantID: a.TenantID, TargetID: target.ID, Scanners: scanners, Cron: cron, IntervalSeconds: int32(every / time.Second),
			Timezone: tz, Description: desc, Paused: req.Paused != nil && *req.Paused,
		})
		if err != nil {
			return err
		}
		b, err := blocked(ctx, tx, a.TenantID)
		if err != nil {
			return err
		}
		if err := s.syncer().Apply(ctx, specOf(scheduleOf(row), target.Value, b)); err != nil {
			return applyErr(err)
		}
		if !row.Created {
			return nil
		}
		return audit(ctx, tx, r, a, uuid.Nil, "schedule.created", "schedule", row.ID.String(),
			map[string]any{"target": target.Value, "cron": cron, "interval": every.String(), "timezone": tz})
	})
	if err != nil {
		return err
	}
	code := http.StatusOK
	if row.Created {
		code = http.StatusCreated
		w.Header().Set("Location", "/api/v1/schedules/"+row.ID.String())
	}
	writeJSON(w, code, s.scheduleView(r.Context(), scheduleOf(row), target.Value))
	return nil
}

func scheduleOf(r dbq.ScheduleUpsertRow) dbq.ScanSchedule {
	return dbq.ScanSchedule{ID: r.ID, TenantID: r.TenantID, TargetID: r.TargetID, Scanners: r.Scanners, Cron: r.Cron,
		IntervalSeconds: r.IntervalSeconds, Timezone: r.Timezone, Description: r.Description, Paused: r.Paused,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// loadSchedule reads a schedule and its target's value in the request scope.
func loadSchedule(ctx context.Context, tx pgx.Tx, id uuid.UUID) (dbq.ScanSchedule, string, error) {
	row, err := db.Q.ScheduleGet(ctx, tx, id)
	if err != nil {
		return row, "", err
	}
	t, err := db.Q.TargetGet(ctx, tx, row.TargetID)
	return row, t.Value, err
}

func (s *Server) scheduleList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	params := dbq.ScheduleListParams{Lim: int32(limit + 1)}
	if v := q.Get("target_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return invalid("target_id", "target_id must be a UUID")
		}
		params.TargetID = uuid.NullUUID{UUID: id, Valid: true}
	}
	if v := q.Get("cursor"); v != "" {
		ts, id, err := decodeTimeCursor(v)
		if err != nil {
			return errCursor
		}
		params.BeforeCreated, params.BeforeID = &ts, uuid.NullUUID{UUID: id, Valid: true}
	}
	var rows []dbq.ScanSchedule
	values := map[uuid.UUID]string{}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		if rows, err = db.Q.ScheduleList(ctx, tx, params); err != nil {
			return err
		}
		for _, row := range rows {
			if _, ok := values[row.TargetID]; !ok {
				t, err := db.Q.TargetGet(ctx, tx, row.TargetID)
				if err != nil {
					return err
				}
				values[row.TargetID] = t.Value
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(rows, limit,
		func(row dbq.ScanSchedule) string { return encodeTimeCursor(row.CreatedAt, row.ID) },
		func(row dbq.ScanSchedule) ScheduleView { return s.scheduleView(r.Context(), row, values[row.TargetID]) }))
	return nil
}

func (s *Server) scheduleGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var row dbq.ScanSchedule
	var target string
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		row, target, err = loadSchedule(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.scheduleView(r.Context(), row, target))
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
	var row dbq.ScanSchedule
	var target string
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if row, target, err = loadSchedule(ctx, tx, id); err != nil {
			return err
		}
		t, err := db.Q.TargetGet(ctx, tx, row.TargetID)
		if err != nil {
			return err
		}
		// Fields left out keep their value.
		if req.Cron == nil && req.Interval == nil {
			if row.Cron != "" {
				req.Cron = &row.Cron
			} else {
				iv := (time.Duration(row.IntervalSeconds) * time.Second).String()
				req.Interval = &iv
			}
		}
		if req.TimeZone == nil {
			req.TimeZone = &row.Timezone
		}
		cron, every, tz, err := req.when()
		if err != nil {
			return err
		}
		scanners := row.Scanners
		if req.Scanners != nil {
			if scanners, err = scans.ScannersFor(targets.Kind(t.Kind), req.Scanners); err != nil {
				return err
			}
		}
		desc := row.Description
		if req.Description != nil {
			desc = *req.Description
			if err := scans.ValidateDescription(desc); err != nil {
				return err
			}
		}
		row, err = db.Q.ScheduleUpdate(ctx, tx, dbq.ScheduleUpdateParams{ID: id, Scanners: scanners, Cron: cron,
			IntervalSeconds: int32(every / time.Second), Timezone: tz, Description: desc})
		if db.IsConflict(err) {
			return domainerr.New(domainerr.Conflict, "an identical schedule of this target exists already")
		}
		if err != nil {
			return err
		}
		b, err := blocked(ctx, tx, row.TenantID)
		if err != nil {
			return err
		}
		if err := s.syncer().Apply(ctx, specOf(row, target, b)); err != nil {
			return applyErr(err)
		}
		return audit(ctx, tx, r, a, row.TenantID, "schedule.updated", "schedule", id.String(),
			map[string]any{"cron": cron, "interval": every.String(), "timezone": tz, "scanners": scanners})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.scheduleView(r.Context(), row, target))
	return nil
}

func (s *Server) scheduleDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		row, err := db.Q.ScheduleGet(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := db.Q.ScheduleDelete(ctx, tx, id); err != nil {
			return err
		}
		if err := s.syncer().Delete(ctx, id); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, row.TenantID, "schedule.deleted", "schedule", id.String(), nil)
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
		var row dbq.ScanSchedule
		var target string
		err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
			if _, target, err = loadSchedule(ctx, tx, id); err != nil {
				return err
			}
			if row, err = db.Q.ScheduleSetPaused(ctx, tx, dbq.ScheduleSetPausedParams{ID: id, Paused: paused}); err != nil {
				return err
			}
			b, err := blocked(ctx, tx, row.TenantID)
			if err != nil {
				return err
			}
			// Apply, not just pause: it also heals a schedule that never
			// reached Temporal.
			if err := s.syncer().Apply(ctx, specOf(row, target, b)); err != nil {
				return applyErr(err)
			}
			return audit(ctx, tx, r, a, row.TenantID, action, "schedule", id.String(), nil)
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, s.scheduleView(r.Context(), row, target))
		return nil
	}
}

func (s *Server) scheduleTrigger(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var row dbq.ScanSchedule
	var target string
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if row, target, err = loadSchedule(ctx, tx, id); err != nil {
			return err
		}
		err := s.syncer().Trigger(ctx, id)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			// Never reached Temporal (an earlier apply failed): apply, then run.
			b, berr := blocked(ctx, tx, row.TenantID)
			if berr != nil {
				return berr
			}
			if err = s.syncer().Apply(ctx, specOf(row, target, b)); err == nil {
				err = s.syncer().Trigger(ctx, id)
			}
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, row.TenantID, "schedule.triggered", "schedule", id.String(), nil)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, s.scheduleView(r.Context(), row, target))
	return nil
}

// syncTenantSchedules starts the durable sync that pauses (or resumes) the
// Temporal Schedules of a tenant subtree after its status changed. The newest
// request wins: it reads the status when it runs.
func (s *Server) syncTenantSchedules(ctx context.Context, tenantID uuid.UUID) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       schedule.SyncWorkflowID(tenantID),
		TaskQueue:                temporalx.QueueScans,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, schedule.SyncWorkflowName, tenantID)
	return err
}
