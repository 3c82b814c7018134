package email

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/intel"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/mailtmpl"
)

// KEVAlerts emails a tenant's owners and admins the findings whose CVE newly
// entered CISA's KEV catalogue and which were not emailed yet: one email per
// alert batch (recorded when the refresh decided to alert) and recipient,
// keyed email/kev/<batch-id>/<user-id>, then marks the batch emailed. A retry
// or a reset refresh sends nothing twice.
func (a *Activities) KEVAlerts(ctx context.Context, in intel.KEVEmailsInput) (intel.KEVEmailsResult, error) {
	var (
		members []dbq.MembershipListByTenantRow
		alerts  []dbq.FindingAlertUnemailedRow
	)
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if members, err = db.Q.MembershipListByTenant(ctx, tx, in.TenantID); err != nil {
			return err
		}
		alerts, err = db.Q.FindingAlertUnemailed(ctx, tx, in.TenantID)
		return err
	})
	var res intel.KEVEmailsResult
	if err != nil {
		return res, err
	}
	for i := 0; i < len(alerts); {
		j := i
		for j < len(alerts) && alerts[j].BatchID == alerts[i].BatchID {
			j++
		}
		batch := alerts[i:j]
		msg, err := a.render("kev-alert", a.kevAlert(batch))
		if err != nil {
			return res, err
		}
		for _, m := range members {
			if !recipientRoles[m.Role] || m.Email == "" {
				continue
			}
			if _, err := a.Send(ctx, Message{
				TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/kev/%s/%s", batch[0].BatchID, m.UserID),
				To: m.Email, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Category: "alert",
			}); err != nil {
				return res, err
			}
			res.Emails++
		}
		if err := a.markKEVEmailed(ctx, in.TenantID, batch[0].BatchID); err != nil {
			return res, err
		}
		res.Batches++
		i = j
	}
	return res, nil
}

func (a *Activities) markKEVEmailed(ctx context.Context, tenant, batch uuid.UUID) error {
	return a.DB.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.FindingAlertMarkEmailed(ctx, tx, dbq.FindingAlertMarkEmailedParams{TenantID: tenant, BatchID: batch})
	})
}

// kevAlertListed bounds the findings one email lists.
const kevAlertListed = 50

func (a *Activities) kevAlert(batch []dbq.FindingAlertUnemailedRow) mailtmpl.KEVAlert {
	d := mailtmpl.KEVAlert{Total: len(batch), More: max(len(batch)-kevAlertListed, 0)}
	for _, f := range batch[:min(len(batch), kevAlertListed)] {
		fd := mailtmpl.Finding{Title: f.Title, CVEs: f.Cves, Where: mailtmpl.Where(f.Url, f.Host, int(f.Port), f.ScanTarget),
			Severity: f.Severity, Priority: int(f.Priority), KEV: true}
		if f.KevDateAdded.Valid {
			fd.KEVSince = f.KevDateAdded.Time.Format(time.DateOnly)
		}
		if a.PublicURL != "" {
			fd.Link = fmt.Sprintf("%s/app/findings/%s", a.PublicURL, f.ID)
		}
		d.Findings = append(d.Findings, fd)
	}
	if a.PublicURL != "" {
		d.AllLink = a.PublicURL + "/app/findings?kev=true&sort=-priority"
	}
	return d
}
