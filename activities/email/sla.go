package email

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
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
		subject, text := a.slaNotice(batch)
		for _, m := range members {
			if !recipientRoles[m.Role] || m.Email == "" {
				continue
			}
			if _, err := a.Send(ctx, Message{
				TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/sla/%s/%s", batch[0].BatchID, m.UserID),
				To: m.Email, Subject: subject, Text: text, Category: "alert",
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

func (a *Activities) slaNotice(batch []dbq.SLANoticeUnemailedRow) (string, string) {
	var overdue, soon []dbq.SLANoticeUnemailedRow
	for _, n := range batch {
		if n.Stage == "overdue" {
			overdue = append(overdue, n)
		} else {
			soon = append(soon, n)
		}
	}
	var parts []string
	if len(overdue) > 0 {
		parts = append(parts, fmt.Sprintf("%d finding(s) overdue", len(overdue)))
	}
	if len(soon) > 0 {
		parts = append(parts, fmt.Sprintf("%d due within 3 days", len(soon)))
	}
	subject := "[SecureOps] SLA: " + strings.Join(parts, ", ")
	var b strings.Builder
	section := func(title string, rows []dbq.SLANoticeUnemailedRow) {
		if len(rows) == 0 {
			return
		}
		b.WriteString(title + "\n")
		for _, f := range rows[:min(len(rows), slaNoticeListed)] {
			line := fmt.Sprintf("- [%s, priority %d] %s", f.Severity, f.Priority, f.Title)
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
			line += ", due " + f.DueAt.UTC().Format("2006-01-02 15:04 UTC")
			if f.Kev {
				line += " (known exploited: critical deadline)"
			}
			b.WriteString(line + "\n")
			if a.PublicURL != "" {
				fmt.Fprintf(&b, "  %s/app/findings/%s\n", a.PublicURL, f.ID)
			}
		}
		if len(rows) > slaNoticeListed {
			fmt.Fprintf(&b, "… and %d more.\n", len(rows)-slaNoticeListed)
		}
		b.WriteString("\n")
	}
	section("Past their remediation deadline:", overdue)
	section("Due within 3 days:", soon)
	if a.PublicURL != "" {
		fmt.Fprintf(&b, "Overdue: %s/app/findings?sla=overdue\nDue soon: %s/app/findings?sla=due_soon\n", a.PublicURL, a.PublicURL)
	}
	b.WriteString("Deadlines are first seen plus your SLA days per severity (Dashboard → SLA).\n")
	return subject, b.String()
}
