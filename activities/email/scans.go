package email

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
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
		subject, text := summary(sc, link)
		if _, err := a.Send(ctx, Message{
			TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/scan/%s/%s", sc.ID, m.UserID),
			To: m.Email, Subject: subject, Text: text, Category: "scan",
		}); err != nil {
			return res, err
		}
		res.Summaries++
		if len(criticals) == 0 {
			continue
		}
		subject, text = alert(sc, criticals, link)
		if _, err := a.Send(ctx, Message{
			TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/critical/%s/%s", sc.ID, m.UserID),
			To: m.Email, Subject: subject, Text: text, Category: "alert",
		}); err != nil {
			return res, err
		}
		res.Alerts++
	}
	return res, nil
}

func summary(sc dbq.Scan, link string) (string, string) {
	if sc.Status == "failed" {
		reason := "see the scan for details"
		if sc.Error != nil {
			reason = *sc.Error
		}
		return fmt.Sprintf("[SecureOps] Scan of %s failed", sc.Target),
			fmt.Sprintf("The scan of %s failed: %s\n\n%s\n", sc.Target, reason, link)
	}
	subject := fmt.Sprintf("[SecureOps] Scan of %s: %d critical, %d high (%d new, %d fixed)",
		sc.Target, sc.CountCritical, sc.CountHigh, sc.DiffNew, sc.DiffFixed)
	var b strings.Builder
	fmt.Fprintf(&b, "The scan of %s (%s) completed.\n\n", sc.Target, strings.Join(sc.Scanners, ", "))
	fmt.Fprintf(&b, "Findings: %d critical, %d high, %d medium, %d low, %d info\n",
		sc.CountCritical, sc.CountHigh, sc.CountMedium, sc.CountLow, sc.CountInfo)
	fmt.Fprintf(&b, "Since the previous scan: %d new, %d still open, %d fixed, %d reopened\n\n",
		sc.DiffNew, sc.DiffOpen, sc.DiffFixed, sc.DiffReopened)
	fmt.Fprintf(&b, "%s\n", link)
	return subject, b.String()
}

func alert(sc dbq.Scan, cs []dbq.WebhookScanNewCriticalsRow, link string) (string, string) {
	total := int(cs[0].Total)
	subject := fmt.Sprintf("[SecureOps] ALERT: %d new critical finding(s) on %s", total, sc.Target)
	var b strings.Builder
	fmt.Fprintf(&b, "The scan of %s found %d new critical finding(s):\n\n", sc.Target, total)
	for _, c := range cs {
		where := c.Url
		if where == "" && c.Host != "" {
			where = fmt.Sprintf("%s:%d", c.Host, c.Port)
		}
		line := "- " + c.Title
		if len(c.Cves) > 0 {
			line += " (" + strings.Join(c.Cves, ", ") + ")"
		}
		if where != "" {
			line += " at " + where
		}
		b.WriteString(line + "\n")
	}
	if total > len(cs) {
		fmt.Fprintf(&b, "… and %d more.\n", total-len(cs))
	}
	fmt.Fprintf(&b, "\n%s\n", link)
	return subject, b.String()
}
