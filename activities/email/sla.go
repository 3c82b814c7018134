package email

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/mailtmpl"
)

// SLANotices emails a tenant's owners and admins the findings due within
// three days and the overdue ones not emailed yet: one email per notice
// batch (recorded when the SLA workflow decided to notify) and recipient,
// keyed email/sla/<batch-id>/<user-id>, then marks the batch emailed. A
// retry or a reset workflow sends nothing twice.
func (a *Activities) SLANotices(ctx context.Context, in sla.EmailsInput) (sla.EmailsResult, error) {
	var (
		members []dbq.MembershipListByTenantRow
		notices []dbq.SLANoticeUnemailedRow
	)
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if members, err = db.Q.MembershipListByTenant(ctx, tx, in.TenantID); err != nil {
			return err
		}
		notices, err = db.Q.SLANoticeUnemailed(ctx, tx, in.TenantID)
		return err
	})
	var res sla.EmailsResult
	if err != nil {
		return res, err
	}
	for i := 0; i < len(notices); {
		j := i
		for j < len(notices) && notices[j].BatchID == notices[i].BatchID {
			j++
		}
		batch := notices[i:j]
		msg, err := a.render("sla-notice", a.slaNotice(batch))
		if err != nil {
			return res, err
		}
		for _, m := range members {
			if !recipientRoles[m.Role] || m.Email == "" {
				continue
			}
			if _, err := a.Send(ctx, Message{
				TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/sla/%s/%s", batch[0].BatchID, m.UserID),
				To: m.Email, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Category: "alert",
			}); err != nil {
				return res, err
			}
			res.Emails++
		}
		if err := a.markSLAEmailed(ctx, in.TenantID, batch[0].BatchID); err != nil {
			return res, err
		}
		res.Batches++
		i = j
	}
	return res, nil
}

func (a *Activities) markSLAEmailed(ctx context.Context, tenant, batch uuid.UUID) error {
	return a.DB.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.SLANoticeMarkEmailed(ctx, tx, dbq.SLANoticeMarkEmailedParams{TenantID: tenant, BatchID: batch})
	})
}

// slaNoticeListed bounds the findings one email lists per stage.
const slaNoticeListed = 50

func (a *Activities) slaNotice(batch []dbq.SLANoticeUnemailedRow) mailtmpl.SLANotice {
	d := mailtmpl.SLANotice{URL: a.PublicURL}
	for _, f := range batch {
		fd := mailtmpl.Finding{Title: f.Title, CVEs: f.Cves, Where: mailtmpl.Where(f.Url, f.Host, int(f.Port), f.ScanTarget),
			Severity: f.Severity, Priority: int(f.Priority), Due: f.DueAt.UTC().Format("2006-01-02 15:04 UTC"), KEV: f.Kev}
		if a.PublicURL != "" {
			fd.Link = fmt.Sprintf("%s/app/findings/%s", a.PublicURL, f.ID)
		}
		if f.Stage == "overdue" {
			d.OverdueTotal++
			if len(d.Overdue) < slaNoticeListed {
				d.Overdue = append(d.Overdue, fd)
			}
		} else {
			d.SoonTotal++
			if len(d.Soon) < slaNoticeListed {
				d.Soon = append(d.Soon, fd)
			}
		}
	}
	d.OverdueMore, d.SoonMore = d.OverdueTotal-len(d.Overdue), d.SoonTotal-len(d.Soon)
	return d
}
