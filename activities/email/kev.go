package email

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/intel"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
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
		subject, text := a.kevAlert(batch)
		for _, m := range members {
			if !recipientRoles[m.Role] || m.Email == "" {
				continue
			}
			if _, err := a.Send(ctx, Message{
				TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/kev/%s/%s", batch[0].BatchID, m.UserID),
				To: m.Email, Subject: subject, Text: text, Category: "alert",
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

func (a *Activities) kevAlert(batch []dbq.FindingAlertUnemailedRow) (string, string) {
	subject := fmt.Sprintf("[SecureOps] ALERT: %d finding(s) now known exploited (CISA KEV)", len(batch))
	var b strings.Builder
	fmt.Fprintf(&b, "CISA added the CVEs of %d of your open finding(s) to its Known Exploited Vulnerabilities catalogue:\n"+
		"attackers are exploiting them. Their deadline is now your critical SLA.\n\n", len(batch))
	for _, f := range batch[:min(len(batch), kevAlertListed)] {
		line := fmt.Sprintf("- [priority %d, %s] %s", f.Priority, f.Severity, f.Title)
		if len(f.Cves) > 0 {
			line += " (" + strings.Join(f.Cves, ", ") + ")"
		}
		where := f.Url
		if where == "" && f.Host != "" {
			where = fmt.Sprintf("%s:%d", f.Host, f.Port)
		}
		if where == "" {
			where = f.ScanTarget
		}
		if where != "" {
			line += " on " + where
		}
		if f.KevDateAdded.Valid {
			line += ", in KEV since " + f.KevDateAdded.Time.Format(time.DateOnly)
		}
		b.WriteString(line + "\n")
		if a.PublicURL != "" {
			fmt.Fprintf(&b, "  %s/app/findings/%s\n", a.PublicURL, f.ID)
		}
	}
	if len(batch) > kevAlertListed {
		fmt.Fprintf(&b, "… and %d more.\n", len(batch)-kevAlertListed)
	}
	if a.PublicURL != "" {
		fmt.Fprintf(&b, "\nAll of them: %s/app/findings?kev=true&sort=-priority\n", a.PublicURL)
	}
	return subject, b.String()
}
