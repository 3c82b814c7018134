package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/reach"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/webhookwire"
)

// maxWebhooks bounds a tenant's active webhooks: every event fans out to
// each of them, in parallel, from one workflow.
const maxWebhooks = 20

type webhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

// WebhookView is the API representation of a webhook. Secret is present only
// in the response that created it.
type WebhookView struct {
	ID             uuid.UUID `json:"id"`
	TenantID       uuid.UUID `json:"tenant_id"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description"`
	Active         bool      `json:"active"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	Secret         string    `json:"secret,omitempty"`
}

func webhookViewOf(w dbq.WebhookGetRow) WebhookView {
	return WebhookView{ID: w.ID, TenantID: w.TenantID, URL: w.Url, Events: w.Events, Description: w.Description,
		Active: w.Active, DisabledReason: w.DisabledReason, CreatedAt: w.CreatedAt}
}

func (req *webhookRequest) validate(p targets.Policy) error {
	u, err := webhookwire.CheckURL(req.URL, p)
	if err != nil {
		return invalid("url", err.Error())
	}
	req.URL = u
	if len(req.Events) == 0 {
		req.Events = slices.Clone(webhookwire.Subscribable)
	}
	var events []string
	for _, e := range req.Events {
		if !slices.Contains(webhookwire.Subscribable, e) {
			return invalid("events", "events must be a list of "+strings.Join(webhookwire.Subscribable, ", "))
		}
		if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	req.Events = events
	req.Description = strings.TrimSpace(req.Description)
	if len(req.Description) > 500 {
		return invalid("description", "description must be at most 500 characters")
	}
	return nil
}

func (s *Server) webhookCreate(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req webhookRequest
	if err := firstErr(requireTenant(a), decodeJSON(r, &req, 16<<10)); err != nil {
		return err
	}
	if !a.MayCreateLasting() {
		return domainerr.New(domainerr.Forbidden, "an impersonating admin cannot create webhooks")
	}
	if err := req.validate(s.webhookPolicy()); err != nil {
		return err
	}
	secret := webhookwire.NewSecret()
	var row dbq.WebhookCreateRow
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		n, err := db.Q.WebhookCountActive(ctx, tx, a.TenantID)
		if err != nil {
			return err
		}
		if n >= maxWebhooks {
			return domainerr.New(domainerr.Conflict, "a tenant has at most 20 active webhooks; delete one first")
		}
		row, err = db.Q.WebhookCreate(ctx, tx, dbq.WebhookCreateParams{
			TenantID: a.TenantID, Url: req.URL, Secret: secret, Events: req.Events, Description: req.Description,
		})
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "webhook.created", "webhook", row.ID.String(), map[string]any{"url": row.Url, "events": row.Events})
	})
	if err != nil {
		return err
	}
	v := webhookViewOf(dbq.WebhookGetRow(row))
	v.Secret = secret
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/api/v1/webhooks/"+row.ID.String())
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) webhookList(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var rows []dbq.WebhookListRow
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		rows, err = db.Q.WebhookList(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]WebhookView, 0, len(rows))
	for _, h := range rows {
		out = append(out, webhookViewOf(dbq.WebhookGetRow(h)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (s *Server) webhookDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		h, err := db.Q.WebhookGet(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := reach.Check(ctx, tx, h.TenantID); err != nil {
			return err
		}
		// Its deliveries go with it; a delivery still being retried finds
		// nothing to send and ends.
		if _, err := db.Q.WebhookDelete(ctx, tx, id); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, h.TenantID, "webhook.deleted", "webhook", id.String(), map[string]any{"url": h.Url})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// DeliveryView is one delivery of an event to a webhook, with its attempts.
type DeliveryView struct {
	ID             uuid.UUID       `json:"id"`
	WebhookID      uuid.UUID       `json:"webhook_id"`
	EventID        string          `json:"event_id"`
	EventType      string          `json:"event_type"`
	Status         string          `json:"status"`
	Attempts       int32           `json:"attempts"`
	LastStatusCode *int32          `json:"last_status_code"`
	LastError      string          `json:"last_error,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	DeliveredAt    *time.Time      `json:"delivered_at"`
	Payload        json.RawMessage `json:"payload"`
	AttemptLog     []AttemptView   `json:"attempt_log"`
}

// AttemptView is one HTTP request of a delivery.
type AttemptView struct {
	Attempt    int32     `json:"attempt"`
	StatusCode *int32    `json:"status_code"`
	Error      string    `json:"error,omitempty"`
	DurationMS int32     `json:"duration_ms"`
	At         time.Time `json:"at"`
}

func int4Ptr(v pgtype.Int4) *int32 {
	if !v.Valid {
		return nil
	}
	return &v.Int32
}

func deliveryViewOf(d dbq.WebhookDelivery) DeliveryView {
	return DeliveryView{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		Attempts: d.Attempts, LastStatusCode: int4Ptr(d.LastStatusCode), LastError: d.LastError, CreatedAt: d.CreatedAt,
		DeliveredAt: d.DeliveredAt, Payload: d.Payload, AttemptLog: []AttemptView{}}
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	// Each delivery carries its event and attempts: pages stay small.
	limit = min(limit, 100)
	params := dbq.WebhookDeliveryListParams{WebhookID: id, Lim: int32(limit + 1)}
	if v := q.Get("status"); v != "" {
		if !slices.Contains([]string{"pending", "delivered", "failed"}, v) {
			return invalid("status", "status must be one of pending, delivered, failed")
		}
		params.Status = &v
	}
	if v := q.Get("cursor"); v != "" {
		ts, cid, err := decodeTimeCursor(v)
		if err != nil {
			return errCursor
		}
		params.BeforeCreated, params.BeforeID = &ts, uuid.NullUUID{UUID: cid, Valid: true}
	}
	var rows []dbq.WebhookDelivery
	var attempts []dbq.WebhookAttempt
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		h, err := db.Q.WebhookGet(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := reach.Check(ctx, tx, h.TenantID); err != nil {
			return err
		}
		if rows, err = db.Q.WebhookDeliveryList(ctx, tx, params); err != nil {
			return err
		}
		ids := make([]uuid.UUID, 0, len(rows))
		for _, d := range rows {
			ids = append(ids, d.ID)
		}
		attempts, err = db.Q.WebhookAttemptList(ctx, tx, ids)
		return err
	})
	if err != nil {
		return err
	}
	byDelivery := map[uuid.UUID][]AttemptView{}
	for _, at := range attempts {
		byDelivery[at.DeliveryID] = append(byDelivery[at.DeliveryID], AttemptView{
			Attempt: at.Attempt, StatusCode: int4Ptr(at.StatusCode), Error: at.Error, DurationMS: at.DurationMs, At: at.At,
		})
	}
	writeJSON(w, http.StatusOK, pageOf(rows, limit,
		func(d dbq.WebhookDelivery) string { return encodeTimeCursor(d.CreatedAt, d.ID) },
		func(d dbq.WebhookDelivery) DeliveryView {
			v := deliveryViewOf(d)
			if log := byDelivery[d.ID]; log != nil {
				v.AttemptLog = log
			}
			return v
		}))
	return nil
}

// webhookTest sends a ping event to the webhook through the same workflow
// and retries as real events, and answers with the delivery to watch.
func (s *Server) webhookTest(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var d dbq.WebhookDelivery
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		h, err := db.Q.WebhookGet(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := reach.Check(ctx, tx, h.TenantID); err != nil {
			return err
		}
		if !h.Active {
			return domainerr.New(domainerr.Conflict, "the webhook is switched off ("+h.DisabledReason+"); create a new one")
		}
		ev, err := webhookwire.NewEvent(webhookwire.EventPing+"/"+uuid.NewString(), webhookwire.EventPing, h.TenantID, time.Now(),
			webhookwire.Ping{WebhookID: h.ID, Message: "This is a test event from SecureOps."})
		if err != nil {
			return err
		}
		body, err := ev.Body()
		if err != nil {
			return err
		}
		d, err = db.Q.WebhookDeliveryCreate(ctx, tx, dbq.WebhookDeliveryCreateParams{
			TenantID: h.TenantID, WebhookID: h.ID, EventID: ev.ID, EventType: ev.Type, Payload: body, CreatedAt: ev.CreatedAt,
		})
		return err
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	_, err = s.Temporal.ExecuteWorkflow(ctx, notify.PingStartOptions(d.TenantID, d.ID), notify.WorkflowName, notify.Input{TenantID: d.TenantID, DeliveryIDs: []uuid.UUID{d.ID}})
	if err != nil {
		s.logErr(r, "start ping workflow", err)
		// Left pending it would look in flight forever.
		if ferr := s.DB.InTx(ctx, db.TenantScope(d.TenantID), func(ctx context.Context, tx pgx.Tx) error {
			_, err := db.Q.WebhookDeliveryMarkFailed(ctx, tx, dbq.WebhookDeliveryMarkFailedParams{ID: d.ID, Reason: "the test could not be started"})
			return err
		}); ferr != nil && !errors.Is(ferr, context.Canceled) {
			s.logErr(r, "mark an unstarted ping failed", ferr)
		}
		return domainerr.New(domainerr.Unavailable, "the test event could not be sent; try again shortly")
	}
	w.Header().Set("Location", "/api/v1/webhooks/"+id.String()+"/deliveries")
	writeJSON(w, http.StatusAccepted, deliveryViewOf(d))
	return nil
}

// webhookPolicy is where deliveries may go (config.WebhookPolicy): public
// addresses in production, loopback in dev and test, and never the ranges
// SCAN_ALLOWED_CIDRS opens to a tenant for scanning.
func (s *Server) webhookPolicy() targets.Policy {
	return targets.Policy{LoopbackOnly: s.Policy.LoopbackOnly}
}
