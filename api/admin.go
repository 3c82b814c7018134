// Platform administration: all tenants, suspension, impersonation, the
// local email outbox.

package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/tenancy"
)

func (s *Server) adminTenantsList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	params := dbq.TenantListAllParams{Lim: int32(limit + 1)}
	if v := q.Get("status"); v != "" {
		if !slices.Contains([]string{"onboarding", "active", "suspended", "cancelled", "failed"}, v) {
			return invalid("status", "status must be onboarding, active, suspended, cancelled or failed")
		}
		params.Status = &v
	}
	if v := q.Get("cursor"); v != "" {
		after, err := decodeCursor(v)
		if err != nil {
			return errCursor
		}
		params.AfterID = uuid.NullUUID{UUID: after, Valid: true}
	}
	var ts []dbq.Tenant
	err = s.DB.InTx(r.Context(), db.Scope{PlatformAdmin: true, UserID: accessFrom(r.Context()).Principal.UserID}, func(ctx context.Context, tx pgx.Tx) error {
		ts, err = db.Q.TenantListAll(ctx, tx, params)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(ts, limit, func(t dbq.Tenant) string { return encodeCursor(t.ID) },
		func(t dbq.Tenant) tenantView { return tenantViewOf(tenancy.TenantFromRow(t)) }))
	return nil
}

func (s *Server) adminTenantSetStatus(status, action string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUUID(r, "id")
		if err != nil {
			return err
		}
		a := accessFrom(r.Context())
		var t dbq.Tenant
		err = s.DB.InTx(r.Context(), db.Scope{PlatformAdmin: true, UserID: a.Principal.UserID}, func(ctx context.Context, tx pgx.Tx) error {
			cur, err := db.Q.TenantGet(ctx, tx, id)
			if err != nil {
				return err
			}
			if cur.Status == status {
				t = cur // idempotent: suspending a suspended tenant changes nothing
				return nil
			}
			if status == "active" && cur.Status != "suspended" {
				return domainerr.New(domainerr.Conflict, "only a suspended tenant can be resumed; this one is "+cur.Status)
			}
			if t, err = db.Q.TenantSetStatus(ctx, tx, dbq.TenantSetStatusParams{ID: id, Status: status}); err != nil {
				return err
			}
			return audit(ctx, tx, r, a, id, action, "tenant", id.String(), map[string]any{"from": cur.Status, "to": status})
		})
		if err != nil {
			return err
		}
		// Suspended tenants' schedules pause; resumed ones run again. Also
		// on a repeated call: it heals a sync that failed to start before.
		if err := s.syncTenantSchedules(r.Context(), id); err != nil {
			s.logErr(r, "start the schedule sync of tenant "+id.String(), err)
		}
		writeJSON(w, http.StatusOK, tenantViewOf(tenancy.TenantFromRow(t)))
		return nil
	}
}

type impersonationRequest struct {
	UserID  uuid.UUID `json:"user_id"`
	Reason  string    `json:"reason"`
	Minutes int       `json:"minutes"`
}

func (s *Server) adminImpersonationCreate(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req impersonationRequest
	if err := decodeJSON(r, &req, 8<<10); err != nil {
		return err
	}
	if req.UserID == uuid.Nil {
		return invalid("user_id", "user_id is required")
	}
	if req.Minutes == 0 {
		req.Minutes = 30
	}
	if req.Minutes < 1 || req.Minutes > 60 {
		return invalid("minutes", "minutes must be from 1 to 60")
	}
	if l := len(strings.TrimSpace(req.Reason)); l < 3 || l > 500 {
		return invalid("reason", "a reason of 3 to 500 characters is required")
	}
	if req.UserID == a.Principal.UserID {
		return invalid("user_id", "you cannot impersonate yourself")
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	expires := time.Now().Add(time.Duration(req.Minutes) * time.Minute)
	var imp dbq.Impersonation
	err = s.DB.InTx(r.Context(), db.Scope{PlatformAdmin: true, UserID: a.Principal.UserID}, func(ctx context.Context, tx pgx.Tx) error {
		// The impersonation and its audit entry belong to the user's (first) tenant.
		rows, err := db.Q.AuthUser(ctx, tx, req.UserID)
		if err != nil {
			return err
		}
		var tenant uuid.UUID
		for _, m := range rows {
			if m.TenantID != uuid.Nil {
				tenant = m.TenantID
				break
			}
		}
		if tenant == uuid.Nil {
			return errNotFound
		}
		imp, err = db.Q.ImpersonationCreate(ctx, tx, dbq.ImpersonationCreateParams{
			TenantID: tenant, AdminUserID: a.Principal.UserID, UserID: req.UserID,
			Reason: strings.TrimSpace(req.Reason), TokenHash: hash, ExpiresAt: expires,
		})
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, tenant, "impersonation.started", "user", req.UserID.String(),
			map[string]any{"reason": imp.Reason, "minutes": req.Minutes, "impersonation_id": imp.ID})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": imp.ID, "token": token, "user_id": imp.UserID, "tenant_id": imp.TenantID, "expires_at": imp.ExpiresAt,
		"header": "X-Impersonation",
	})
	return nil
}

// OutboxEmail is one recorded email.
type OutboxEmail struct {
	ID             uuid.UUID  `json:"id"`
	TenantID       uuid.UUID  `json:"tenant_id"`
	IdempotencyKey string     `json:"idempotency_key"`
	To             string     `json:"to"`
	Subject        string     `json:"subject"`
	BodyText       string     `json:"body_text"`
	CreatedAt      time.Time  `json:"created_at"`
	SentAt         *time.Time `json:"sent_at"`
	ProviderID     string     `json:"provider_id"`
}

func (s *Server) adminOutboxList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	params := dbq.EmailOutboxListAllParams{Lim: 50}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return invalid("limit", "limit must be an integer from 1 to 500")
		}
		params.Lim = int32(n)
	}
	if v := q.Get("to"); v != "" {
		v = strings.ToLower(v)
		params.ToAddress = &v
	}
	if v := q.Get("tenant_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return invalid("tenant_id", "tenant_id must be a UUID")
		}
		params.TenantID = uuid.NullUUID{UUID: id, Valid: true}
	}
	var rows []dbq.EmailOutbox
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		if rows, err = db.Q.EmailOutboxListAll(ctx, tx, params); err != nil {
			return err
		}
		return auditOutboxRead(ctx, tx, r, a, rows)
	})
	if err != nil {
		return err
	}
	out := make([]OutboxEmail, 0, len(rows))
	for _, m := range rows {
		out = append(out, OutboxEmail{ID: m.ID, TenantID: m.TenantID, IdempotencyKey: m.IdempotencyKey, To: m.ToAddress,
			Subject: m.Subject, BodyText: m.BodyText, CreatedAt: m.CreatedAt, SentAt: m.SentAt, ProviderID: m.ProviderID})
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

// auditOutboxRead records an outbox read in the log of each tenant whose
// emails it returned (the entries carry the reading admin as actor): the
// bodies can hold recovery links, so who read which tenant's mail is kept.
// A read that returned nothing showed nothing and is not recorded.
func auditOutboxRead(ctx context.Context, tx pgx.Tx, r *http.Request, a *auth.Access, rows []dbq.EmailOutbox) error {
	var order []uuid.UUID
	ids := map[uuid.UUID][]string{}
	for _, m := range rows {
		if _, ok := ids[m.TenantID]; !ok {
			order = append(order, m.TenantID)
		}
		ids[m.TenantID] = append(ids[m.TenantID], m.ID.String())
	}
	q := r.URL.Query()
	for _, t := range order {
		if err := audit(ctx, tx, r, a, t, "outbox.read", "email_outbox", "", map[string]any{
			"emails": ids[t], "to": q.Get("to"), "tenant_id": q.Get("tenant_id"),
		}); err != nil {
			return err
		}
	}
	return nil
}
