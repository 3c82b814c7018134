// Package deadlines holds the activities of a tenant's SLA timers (contract:
// internal/contract/sla): deciding, at the workflow's clock, which open
// findings became due soon or overdue — recorded once per finding and stage
// in sla_notices, with the finding.sla_breached event of overdue criticals,
// in one transaction — and when the next such instant is; and making sure
// every active tenant has its SLA workflow.
package deadlines

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/webhookwire"
)

// Activities reach Postgres and, for EnsureAll, Temporal.
type Activities struct {
	DB     *db.DB
	Client client.Client
	// PublicURL links finding.sla_breached events to the portal.
	PublicURL string
}

var platform = db.Scope{PlatformAdmin: true}

// Register binds the activities to their names.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	sla.Check.Register(reg, a.Check)
	sla.Ensure.Register(reg, a.EnsureAll)
}

// BatchID is the notice batch a check with this key decides for a tenant:
// the same on every retry of the check.
func BatchID(tenant uuid.UUID, batchKey string) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("sla/"+tenant.String()+"/"+batchKey))
}

// EventID is the id of the finding.sla_breached event of a notice batch.
func EventID(batch uuid.UUID) string {
	return webhookwire.EventFindingSLABreached + "/" + batch.String()
}

// Check records, in one transaction, the tenant's notices due at in.Now
// (once per finding and stage) and the finding.sla_breached event of the
// overdue criticals among them, then says what is left to send and when the
// next finding comes due soon or overdue.
func (a *Activities) Check(ctx context.Context, in sla.CheckInput) (sla.CheckResult, error) {
	var res sla.CheckResult
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		res = sla.CheckResult{}
		t, err := db.Q.SLATenantDays(ctx, tx, in.TenantID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if t.Status != "active" && t.Status != "onboarding" {
			return nil
		}
		res.Active = true
		batch := BatchID(in.TenantID, in.BatchKey)
		notices, err := db.Q.SLANoticeInsert(ctx, tx, dbq.SLANoticeInsertParams{
			TenantID: in.TenantID, Now: in.Now, DueSoonSecs: sla.DueSoon.Seconds(), BatchID: batch,
		})
		if err != nil {
			return fmt.Errorf("record SLA notices: %w", err)
		}
		var breached []dbq.SLANoticeInsertRow
		for _, n := range notices {
			switch n.Stage {
			case "overdue":
				res.Overdue++
				if findings.Severity(n.Severity) == findings.SeverityCritical {
					breached = append(breached, n)
				}
			case "due_soon":
				res.DueSoon++
			}
		}
		res.Breached = len(breached)
		if err := a.enqueue(ctx, tx, in, batch, breached); err != nil {
			return err
		}
		pending, err := db.Q.SLANoticePendingBatches(ctx, tx, in.TenantID)
		if err != nil {
			return err
		}
		res.Email = len(pending) > 0
		if res.DeliveryIDs, err = db.Q.SLABreachedDeliveriesPending(ctx, tx, in.TenantID); err != nil {
			return err
		}
		next, err := db.Q.SLANextInstant(ctx, tx, dbq.SLANextInstantParams{TenantID: in.TenantID, Now: in.Now, DueSoonSecs: sla.DueSoon.Seconds()})
		if err != nil {
			return err
		}
		if next.Year() < 9999 {
			res.Next = next.UTC()
		}
		return nil
	})
	return res, err
}

// enqueue builds the batch's finding.sla_breached event and one delivery
// per subscribed webhook; the event id is the batch's, so a retry enqueues
// nothing twice.
func (a *Activities) enqueue(ctx context.Context, tx pgx.Tx, in sla.CheckInput, batch uuid.UUID, breached []dbq.SLANoticeInsertRow) error {
	if len(breached) == 0 {
		return nil
	}
	data := webhookwire.FindingSLABreached{BatchID: batch, Total: len(breached)}
	for _, n := range breached[:min(len(breached), webhookwire.MaxCriticalFindings)] {
		f := webhookwire.SLABreachedFinding{
			ID: n.ID, Title: n.Title, Severity: n.Severity, CVEs: n.Cves, KEV: n.Kev, Priority: int(n.Priority),
			SLADueAt: n.SlaDueAt.UTC(), Host: n.Host, Port: int(n.Port), URL: n.Url, Component: n.Component,
			Version: n.ComponentVersion, Target: n.ScanTarget,
		}
		if a.PublicURL != "" {
			f.Link = strings.TrimRight(a.PublicURL, "/") + "/app/findings/" + n.ID.String()
		}
		data.Findings = append(data.Findings, f)
	}
	id := EventID(batch)
	ev, err := webhookwire.NewEvent(id, webhookwire.EventFindingSLABreached, in.TenantID, in.Now, data)
	if err != nil {
		return err
	}
	body, err := ev.Body()
	if err != nil {
		return err
	}
	if err := db.Q.WebhookDeliveryEnqueue(ctx, tx, dbq.WebhookDeliveryEnqueueParams{
		TenantID: in.TenantID, EventID: id, EventType: webhookwire.EventFindingSLABreached, Payload: body, CreatedAt: ev.CreatedAt,
	}); err != nil {
		return fmt.Errorf("enqueue finding.sla_breached: %w", err)
	}
	return nil
}

// EnsureAll starts the SLA workflow of every active tenant whose workflow
// ended or was never started (idempotent: a running one is left asleep). It
// returns how many tenants it reached.
func (a *Activities) EnsureAll(ctx context.Context) (int, error) {
	var ids []uuid.UUID
	err := a.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		ids, err = db.Q.SLATenantsActive(ctx, tx)
		return err
	})
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, id := range ids {
		if err := sla.Start(ctx, a.Client, id); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
