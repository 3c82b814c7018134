package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"

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
