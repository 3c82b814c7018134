// Package webhooks holds the activities of tenant notifications: turning a
// finished scan into events and one delivery per subscribed webhook, and
// sending each delivery, signed, to its receiver. A delivery is keyed by
// (webhook, event id) and event ids are derived from the scan, so retries,
// resets and repeated runs never enqueue or send an event twice.
package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/webhookwire"
)

// Activities reach Postgres (tenant-scoped) and tenants' receivers.
type Activities struct {
	DB *db.DB
	// Policy decides which addresses a delivery may reach
	// (config.WebhookPolicy): public ones, so webhooks cannot be aimed at
	// internal services, not even the ranges opened for scanning.
	Policy   targets.Policy
	Resolver targets.Resolver // nil: the system resolver
	// PublicURL is the portal's base URL for links in events
	// ("https://app.example.com"); links are left out when it is empty.
	PublicURL string
	// Timeout bounds one HTTP delivery attempt (default 10 s).
	Timeout time.Duration
	Log     *slog.Logger
}

// ScanCompletedEventID and FindingCriticalEventID are the idempotency keys
// of a scan's events.
func ScanCompletedEventID(scanID uuid.UUID) string {
	return webhookwire.EventScanCompleted + "/" + scanID.String()
}

// FindingCriticalEventID: see ScanCompletedEventID.
func FindingCriticalEventID(scanID uuid.UUID) string {
	return webhookwire.EventFindingCritical + "/" + scanID.String()
}

func (a *Activities) scanLink(id uuid.UUID) string {
	if a.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(a.PublicURL, "/") + "/app/scans/" + id.String()
}

// Prepare builds the finished scan's events — scan.completed always,
// finding.critical when the scan saw critical findings for the first time —
// enqueues one delivery per active subscribed webhook, and returns every
// delivery of these events still to send. Running it again enqueues nothing
// twice; it only adds webhooks subscribed since.
func (a *Activities) Prepare(ctx context.Context, in scan.Ref) (notify.Prepared, error) {
	var out notify.Prepared
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		sc, err := db.Q.ScanGet(ctx, tx, in.ScanID)
		if errors.Is(err, pgx.ErrNoRows) {
			return temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" does not exist", notify.ErrScanGone, err)
		}
		if err != nil {
			return err
		}
		switch sc.Status {
		case "completed", "failed", "cancelled":
		default:
			return temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" has not finished (status "+sc.Status+")", notify.ErrScanNotFinished, nil)
		}
		// The event's time is the scan's end, not the time of this run: every
		// retry and every webhook sees the same event.
		at := sc.CreatedAt
		if sc.FinishedAt != nil {
			at = *sc.FinishedAt
		}
		link := a.scanLink(sc.ID)
		completed := webhookwire.ScanCompleted{
			ScanID: sc.ID, Target: sc.Target, Status: sc.Status, Scanners: sc.Scanners,
			Counts: webhookwire.SeverityCounts{
				Critical: int(sc.CountCritical), High: int(sc.CountHigh), Medium: int(sc.CountMedium),
				Low: int(sc.CountLow), Info: int(sc.CountInfo),
			},
			Diff:      webhookwire.Diff{New: int(sc.DiffNew), Open: int(sc.DiffOpen), Fixed: int(sc.DiffFixed), Reopened: int(sc.DiffReopened)},
			StartedAt: sc.StartedAt, FinishedAt: sc.FinishedAt, URL: link,
		}
		if sc.Error != nil {
			completed.Error = *sc.Error
		}
		ids := []string{ScanCompletedEventID(sc.ID)}
		if err := enqueue(ctx, tx, in.TenantID, ids[0], webhookwire.EventScanCompleted, at, completed); err != nil {
			return err
		}
		crit, err := db.Q.WebhookScanNewCriticals(ctx, tx, dbq.WebhookScanNewCriticalsParams{ScanID: sc.ID, Lim: webhookwire.MaxCriticalFindings})
		if err != nil {
			return err
		}
		if len(crit) > 0 {
			data := webhookwire.FindingCritical{ScanID: sc.ID, Target: sc.Target, Total: int(crit[0].Total), URL: link}
			for _, f := range crit {
				data.Findings = append(data.Findings, webhookwire.CriticalFinding{
					ID: f.ID, Title: f.Title, Severity: "critical", CVEs: f.Cves, Host: f.Host, Port: int(f.Port),
					URL: f.Url, Component: f.Component, Version: f.ComponentVersion, Target: f.ScanTarget,
				})
			}
			id := FindingCriticalEventID(sc.ID)
			ids = append(ids, id)
			if err := enqueue(ctx, tx, in.TenantID, id, webhookwire.EventFindingCritical, at, data); err != nil {
				return err
			}
		}
		out.DeliveryIDs, err = db.Q.WebhookDeliveryUnsent(ctx, tx, dbq.WebhookDeliveryUnsentParams{TenantID: in.TenantID, EventIds: ids})
		return err
	})
	return out, err
}

func enqueue(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, id, typ string, at time.Time, data any) error {
	ev, err := webhookwire.NewEvent(id, typ, tenant, at, data)
	if err != nil {
		return err
	}
	body, err := ev.Body()
	if err != nil {
		return err
	}
	return db.Q.WebhookDeliveryEnqueue(ctx, tx, dbq.WebhookDeliveryEnqueueParams{
		TenantID: tenant, EventID: id, EventType: typ, Payload: body, CreatedAt: ev.CreatedAt,
	})
}

// Deliver sends one delivery, unless it was delivered already, and records
// the attempt. 2xx delivers; 410 switches the webhook off; other 3xx/4xx
// (except 408 and 429) fail for good; 408, 429, 5xx and network errors
// return a retryable DeliveryFailed error for Temporal to retry with
// backoff. A 2xx whose recording fails is sent again on retry: receivers
// de-duplicate on X-SecureOps-Event-Id.
func (a *Activities) Deliver(ctx context.Context, in notify.DeliveryRef) (notify.DeliverResult, error) {
	var row dbq.WebhookDeliveryForSendRow
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		row, err = db.Q.WebhookDeliveryForSend(ctx, tx, in.DeliveryID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return notify.DeliverResult{Status: "gone"}, nil
	}
	if err != nil {
		return notify.DeliverResult{}, err
	}
	if row.Status == "delivered" {
		return notify.DeliverResult{Status: "delivered", Skipped: true}, nil
	}
	if !row.Active {
		return notify.DeliverResult{Status: "failed"}, a.markFailed(ctx, in, "the webhook is switched off")
	}
	var ev webhookwire.Event
	if err := json.Unmarshal(row.Payload, &ev); err != nil {
		return notify.DeliverResult{}, temporal.NewNonRetryableApplicationError("stored event is not valid JSON: "+err.Error(), scan.ErrInvalidArgument, err)
	}
	c := &webhookwire.Client{Policy: a.Policy, Resolver: a.Resolver, Timeout: a.Timeout}
	start := time.Now()
	resp, sendErr := c.Send(ctx, row.Url, row.Secret, ev, start)
	took := time.Since(start)

	status, code, msg := "pending", 0, ""
	var result error
	switch {
	// The tenant sees one sentence for every failure before an HTTP answer:
	// what a name resolved to, or whether a port refused or timed out, would
	// make webhooks a DNS and port-scan oracle. Operators find the detail in
	// the log and the workflow history.
	case sendErr != nil && (errors.Is(sendErr, targets.ErrNotAllowed) || errors.Is(sendErr, targets.ErrInvalid)):
		status, msg = "failed", msgRefused
		a.logger().WarnContext(ctx, "webhook delivery refused by the address policy", "delivery_id", in.DeliveryID, "error", sendErr)
		result = temporal.NewNonRetryableApplicationError(msg, notify.ErrURLRefused, nil)
	case sendErr != nil:
		msg = msgNoAnswer
		a.logger().WarnContext(ctx, "webhook delivery failed", "delivery_id", in.DeliveryID, "error", sendErr)
		result = temporal.NewApplicationError(msg+": "+sendErr.Error(), notify.ErrDeliveryFailed)
	default:
		code = resp.StatusCode
		status, result = outcome(resp)
		if result != nil {
			var ae *temporal.ApplicationError
			if errors.As(result, &ae) {
				msg = ae.Message()
			}
		}
	}
	// The attempt is history even when the activity's deadline cut it short.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = a.DB.InTx(rctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		sc := pgtype.Int4{}
		if code != 0 {
			sc = pgtype.Int4{Int32: int32(code), Valid: true}
		}
		if _, err := db.Q.WebhookDeliveryRecordAttempt(ctx, tx, dbq.WebhookDeliveryRecordAttemptParams{
			ID: in.DeliveryID, Status: status, StatusCode: sc, Error: truncate(msg, 1000), DurationMs: int32(took.Milliseconds()),
		}); err != nil {
			return err
		}
		if code == 410 {
			return db.Q.WebhookDeactivate(ctx, tx, dbq.WebhookDeactivateParams{
				ID: row.WebhookID, Reason: fmt.Sprintf("the receiver answered 410 Gone on %s", start.UTC().Format(time.RFC3339)),
			})
		}
		return nil
	})
	if err != nil {
		return notify.DeliverResult{}, fmt.Errorf("record delivery attempt: %w", err)
	}
	if result != nil {
		return notify.DeliverResult{}, result
	}
	return notify.DeliverResult{Status: status, StatusCode: code}, nil
}

// What a tenant reads about a delivery that got no HTTP answer.
const (
	msgRefused  = "the webhook's URL is not allowed: it must be a public https address"
	msgNoAnswer = "no answer from the receiver (connection failed or timed out)"
)

func (a *Activities) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// MarkFailed marks a pending delivery failed; a delivered or already failed
// one is left as it is.
func (a *Activities) MarkFailed(ctx context.Context, in notify.MarkFailedInput) error {
	return a.markFailed(ctx, notify.DeliveryRef{TenantID: in.TenantID, DeliveryID: in.DeliveryID}, in.Reason)
}

func (a *Activities) markFailed(ctx context.Context, in notify.DeliveryRef, reason string) error {
	return a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.Q.WebhookDeliveryMarkFailed(ctx, tx, dbq.WebhookDeliveryMarkFailedParams{ID: in.DeliveryID, Reason: truncate(reason, 1000)})
		return err
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Register binds the activities to their names in internal/contract/notify.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	notify.Prepare.Register(reg, a.Prepare)
	notify.Deliver.Register(reg, a.Deliver)
	notify.MarkFailed.Register(reg, a.MarkFailed)
}
