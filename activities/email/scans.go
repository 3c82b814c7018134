package email

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/mailtmpl"
)

// recipientRoles get a scan's emails: the people who run the tenant.
var recipientRoles = map[string]bool{"client_owner": true, "client_admin": true}

// ScanEmails sends the tenant's owners and admins a summary of a finished scan
// (counts by severity, new and fixed, a link) and, when the scan found new
// critical findings, a separate alert listing them. Keys are per scan and
// recipient, so a retried activity or a re-run notification sends nothing
// twice.
func (a *Activities) ScanEmails(ctx context.Context, in notify.ScanEmailsInput) (notify.ScanEmailsResult, error) {
	var (
		sc        dbq.Scan
		members   []dbq.MembershipListByTenantRow
		criticals []dbq.WebhookScanNewCriticalsRow
	)
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if sc, err = db.Q.ScanGet(ctx, tx, in.ScanID); err != nil {
			return err
		}
		if members, err = db.Q.MembershipListByTenant(ctx, tx, in.TenantID); err != nil {
			return err
		}
		criticals, err = db.Q.WebhookScanNewCriticals(ctx, tx, dbq.WebhookScanNewCriticalsParams{ScanID: in.ScanID, Lim: 20})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return notify.ScanEmailsResult{}, temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" does not exist", notify.ErrScanGone, err)
	}
	if err != nil {
		return notify.ScanEmailsResult{}, err
	}
	if sc.Status != "completed" && sc.Status != "failed" {
		return notify.ScanEmailsResult{}, nil // cancelled or unfinished: nothing to report
	}
	link := a.PublicURL + "/app/scans/" + sc.ID.String()
	var res notify.ScanEmailsResult
	for _, m := range members {
		if !recipientRoles[m.Role] || m.Email == "" {
			continue
		}
		sum, err := a.render("scan-summary", summary(sc, link))
		if err != nil {
			return res, err
		}
		if _, err := a.Send(ctx, Message{
			TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/scan/%s/%s", sc.ID, m.UserID),
			To: m.Email, Subject: sum.Subject, Text: sum.Text, HTML: sum.HTML, Category: "scan",
		}); err != nil {
			return res, err
		}
		res.Summaries++
		if len(criticals) == 0 {
			continue
		}
		al, err := a.render("scan-critical", alert(sc, criticals, link))
		if err != nil {
			return res, err
		}
		if _, err := a.Send(ctx, Message{
			TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/critical/%s/%s", sc.ID, m.UserID),
			To: m.Email, Subject: al.Subject, Text: al.Text, HTML: al.HTML, Category: "alert",
		}); err != nil {
			return res, err
		}
		res.Alerts++
	}
	return res, nil
}

func summary(sc dbq.Scan, link string) mailtmpl.ScanSummary {
	d := mailtmpl.ScanSummary{
		Target: sc.Target, Scanners: sc.Scanners, Failed: sc.Status == "failed", Link: link,
		Critical: int(sc.CountCritical), High: int(sc.CountHigh), Medium: int(sc.CountMedium), Low: int(sc.CountLow), Info: int(sc.CountInfo),
		New: int(sc.DiffNew), StillOpen: int(sc.DiffOpen), Fixed: int(sc.DiffFixed), Reopened: int(sc.DiffReopened),
	}
	if d.Failed {
		d.Reason = "see the scan for details"
		if sc.Error != nil {
			d.Reason = *sc.Error
		}
	}
	return d
}

func alert(sc dbq.Scan, cs []dbq.WebhookScanNewCriticalsRow, link string) mailtmpl.ScanCritical {
	d := mailtmpl.ScanCritical{Target: sc.Target, Total: int(cs[0].Total), Link: link}
	for _, c := range cs {
		d.Findings = append(d.Findings, mailtmpl.Finding{Title: c.Title, CVEs: c.Cves, Where: mailtmpl.Where(c.Url, c.Host, int(c.Port), ""), Severity: "critical"})
	}
	d.More = max(d.Total-len(cs), 0)
	return d
}
