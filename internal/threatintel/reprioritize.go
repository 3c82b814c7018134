package threatintel

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/webhookwire"
)

// AlertWindow bounds "newly entered KEV": a finding alerts when its CVE was
// added to the catalogue on or after the day the finding was first seen and
// within this window (a deployment's first load does not alert on years-old
// entries).
const AlertWindow = 30 * 24 * time.Hour

// PageSize is the number of open findings one re-prioritisation transaction
// takes.
const PageSize = 5000

// Page is what one re-prioritisation transaction did.
type Page struct {
	Seen    int       `json:"seen"`
	Updated int64     `json:"updated"`
	Alerts  int       `json:"alerts"`
	Last    uuid.UUID `json:"last"`
	// Done: this was the last page.
	Done bool `json:"done"`
}

// Reprioritizer re-prioritises open findings after a refresh.
type Reprioritizer struct {
	DB *db.DB
	// PublicURL links events to the portal ("" leaves links out).
	PublicURL string
	Now       func() time.Time
}

// Page re-prioritises the open findings after `after` (up to
// limit, in id order) in one transaction: their KEV and EPSS fields,
// priority and SLA deadline (db.EnrichFindings), and, in the same
// transaction, the KEV alerts this page decides (finding_alerts, one per
// finding ever) with a finding.kev webhook event per tenant and page.
// batchKey (the refresh's workflow id) makes a retried page's batch ids and
// event ids the same.
func (r *Reprioritizer) Page(ctx context.Context, after uuid.UUID, limit int, batchKey string) (Page, error) {
	if limit <= 0 {
		limit = PageSize
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	var p Page
	err := r.DB.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		res, err := db.EnrichFindings(ctx, tx, db.EnrichSelect{After: after, Limit: limit})
		if err != nil {
			return err
		}
		p = Page{Seen: res.Seen, Updated: res.Updated, Last: res.Last, Done: res.Seen < limit}
		if res.Seen == 0 {
			return nil
		}
		since := now.Add(-AlertWindow).UTC()
		alerts, err := db.Q.FindingAlertKEVInsert(ctx, tx, dbq.FindingAlertKEVInsertParams{
			BatchKey: batchKey + "/" + after.String(), After: after, Last: res.Last,
			Since: pgtype.Date{Time: time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, time.UTC), Valid: true},
		})
		if err != nil {
			return fmt.Errorf("record KEV alerts: %w", err)
		}
		p.Alerts = len(alerts)
		return r.enqueue(ctx, tx, alerts, now)
	})
	return p, err
}

// enqueue builds one finding.kev event per tenant batch and one delivery per
// subscribed webhook; the event id is the batch's, so a retry enqueues
// nothing twice.
func (r *Reprioritizer) enqueue(ctx context.Context, tx pgx.Tx, alerts []dbq.FindingAlertKEVInsertRow, at time.Time) error {
	for i := 0; i < len(alerts); {
		j := i
		for j < len(alerts) && alerts[j].BatchID == alerts[i].BatchID {
			j++
		}
		batch := alerts[i:j]
		data := webhookwire.FindingKEV{BatchID: batch[0].BatchID, Total: len(batch)}
		for _, a := range batch[:min(len(batch), webhookwire.MaxCriticalFindings)] {
			f := webhookwire.KEVFinding{
				ID: a.ID, Title: a.Title, Severity: a.Severity, CVEs: a.Cves, KnownRansomware: a.KnownRansomware,
				Priority: int(a.Priority), Host: a.Host, Port: int(a.Port), URL: a.Url, Component: a.Component,
				Version: a.ComponentVersion, Target: a.ScanTarget,
			}
			if a.KevDateAdded.Valid {
				f.KEVDateAdded = a.KevDateAdded.Time.Format(time.DateOnly)
			}
			if r.PublicURL != "" {
				f.Link = strings.TrimRight(r.PublicURL, "/") + "/app/findings/" + a.ID.String()
			}
			data.Findings = append(data.Findings, f)
		}
		id := KEVEventID(batch[0].BatchID)
		ev, err := webhookwire.NewEvent(id, webhookwire.EventFindingKEV, batch[0].TenantID, at, data)
		if err != nil {
			return err
		}
		body, err := ev.Body()
		if err != nil {
			return err
		}
		if err := db.Q.WebhookDeliveryEnqueue(ctx, tx, dbq.WebhookDeliveryEnqueueParams{
			TenantID: batch[0].TenantID, EventID: id, EventType: webhookwire.EventFindingKEV, Payload: body, CreatedAt: ev.CreatedAt,
		}); err != nil {
			return fmt.Errorf("enqueue finding.kev: %w", err)
		}
		i = j
	}
	return nil
}

// KEVEventID is the id of the finding.kev event of an alert batch.
func KEVEventID(batch uuid.UUID) string { return webhookwire.EventFindingKEV + "/" + batch.String() }

// TenantAlerts are a tenant's KEV alerts still to send.
type TenantAlerts struct {
	TenantID uuid.UUID `json:"tenant_id"`
	// Email: alerts not emailed yet.
	Email bool `json:"email"`
	// DeliveryIDs: finding.kev deliveries still pending.
	DeliveryIDs []uuid.UUID `json:"delivery_ids,omitempty"`
}

// Pending lists, per tenant, the KEV alerts not emailed and the finding.kev
// deliveries not delivered: what the refresh sends after re-prioritising,
// including what an earlier, interrupted refresh left.
func Pending(ctx context.Context, d *db.DB) ([]TenantAlerts, error) {
	var out []TenantAlerts
	err := d.InTx(ctx, platform, func(ctx context.Context, tx pgx.Tx) error {
		out = nil
		idx := map[uuid.UUID]int{}
		get := func(t uuid.UUID) *TenantAlerts {
			i, ok := idx[t]
			if !ok {
				i = len(out)
				idx[t] = i
				out = append(out, TenantAlerts{TenantID: t})
			}
			return &out[i]
		}
		tenants, err := db.Q.FindingAlertPendingTenants(ctx, tx)
		if err != nil {
			return err
		}
		for _, t := range tenants {
			get(t).Email = true
		}
		dels, err := db.Q.IntelKEVDeliveriesPending(ctx, tx)
		if err != nil {
			return err
		}
		for _, d := range dels {
			t := get(d.TenantID)
			t.DeliveryIDs = append(t.DeliveryIDs, d.ID)
		}
		return nil
	})
	return out, err
}
