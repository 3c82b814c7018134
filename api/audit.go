package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// audit records a state change in the same transaction as the change itself,
// so there is never a change without its entry (or an entry without its change).
// Both the real and the effective actor are kept during impersonation.
func audit(ctx context.Context, tx pgx.Tx, r *http.Request, a *auth.Access, tenant uuid.UUID, action, targetType, targetID string, details any) error {
	p := a.Principal
	b := []byte("{}")
	if details != nil {
		var err error
		if b, err = json.Marshal(details); err != nil {
			return err
		}
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	if tenant == uuid.Nil {
		tenant = a.TenantID
	}
	return db.Q.AuditInsert(ctx, tx, dbq.AuditInsertParams{
		TenantID:        tenant,
		ActorUserID:     nullUUID(p.RealUserID),
		ActorApiKeyID:   nullUUID(p.APIKeyID),
		EffectiveUserID: nullUUID(p.UserID),
		ImpersonationID: nullUUID(p.ImpersonationID),
		Action:          action,
		TargetType:      targetType,
		TargetID:        targetID,
		Details:         b,
		RequestID:       middleware.GetReqID(ctx),
		Ip:              ip,
	})
}

func nullUUID(id uuid.UUID) uuid.NullUUID { return uuid.NullUUID{UUID: id, Valid: id != uuid.Nil} }

type auditView struct {
	ID              int64           `json:"id"`
	TenantID        uuid.UUID       `json:"tenant_id"`
	ActorUserID     *uuid.UUID      `json:"actor_user_id"`
	ActorAPIKeyID   *uuid.UUID      `json:"actor_api_key_id"`
	EffectiveUserID *uuid.UUID      `json:"effective_user_id"`
	ImpersonationID *uuid.UUID      `json:"impersonation_id"`
	Action          string          `json:"action"`
	TargetType      string          `json:"target_type"`
	TargetID        string          `json:"target_id"`
	Details         json.RawMessage `json:"details"`
	RequestID       string          `json:"request_id"`
	IP              string          `json:"ip"`
	CreatedAt       time.Time       `json:"created_at"`
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	params := dbq.AuditListParams{Lim: int32(limit + 1)}
	if v := q.Get("action"); v != "" {
		params.Action = &v
	}
	if v := q.Get("actor"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return invalid("actor", "actor must be a user UUID")
		}
		params.Actor = uuid.NullUUID{UUID: id, Valid: true}
	}
	if v := q.Get("tenant_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil || !inScope(accessFrom(r.Context()), id) {
			return invalid("tenant_id", "tenant_id must be a tenant in your scope")
		}
		params.TenantID = uuid.NullUUID{UUID: id, Valid: true}
	}
	if v := q.Get("since"); v != "" {
		ts, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return invalid("since", "since must be an RFC 3339 time")
		}
		params.Since = &ts
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return errCursor
		}
		params.BeforeID = &n
	}
	var rows []dbq.AuditLog
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		rows, err = db.Q.AuditList(ctx, tx, params)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(rows, limit,
		func(e dbq.AuditLog) string { return strconv.FormatInt(e.ID, 10) },
		func(e dbq.AuditLog) auditView {
			return auditView{ID: e.ID, TenantID: e.TenantID, ActorUserID: nullPtr(e.ActorUserID),
				ActorAPIKeyID: nullPtr(e.ActorApiKeyID), EffectiveUserID: nullPtr(e.EffectiveUserID),
				ImpersonationID: nullPtr(e.ImpersonationID), Action: e.Action, TargetType: e.TargetType,
				TargetID: e.TargetID, Details: e.Details, RequestID: e.RequestID, IP: e.Ip, CreatedAt: e.CreatedAt}
		}))
	return nil
}
