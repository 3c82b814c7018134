package email

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/contract/report"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/mailtmpl"
)

// ReportReady emails a ready report's link: to the user who asked for it, or
// (a report an API key asked for) to the tenant's owners and admins. Keyed
// email/report/<report-id>/<user-id>: a retry or a reset workflow emails no
// one twice.
func (a *Activities) ReportReady(ctx context.Context, in report.Input) (report.EmailResult, error) {
	var (
		r       dbq.Report
		members []dbq.MembershipListByTenantRow
	)
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if r, err = db.Q.ReportGet(ctx, tx, in.ReportID); err != nil {
			return err
		}
		members, err = db.Q.MembershipListByTenant(ctx, tx, in.TenantID)
		return err
	})
	var res report.EmailResult
	if err != nil {
		return res, err
	}
	var to []dbq.MembershipListByTenantRow
	for _, m := range members {
		if r.RequestedBy.Valid && m.UserID == r.RequestedBy.UUID && m.Email != "" {
			to = append(to, m)
		}
	}
	if len(to) == 0 {
		for _, m := range members {
			if recipientRoles[m.Role] && m.Email != "" {
				to = append(to, m)
			}
		}
	}
	msg, err := a.render("report-ready", mailtmpl.ReportReady{Kind: r.Kind, Base: strings.TrimRight(a.PublicURL, "/") + "/api/v1/reports/" + r.ID.String()})
	if err != nil {
		return res, err
	}
	for _, m := range to {
		if _, err := a.Send(ctx, Message{
			TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/report/%s/%s", r.ID, m.UserID),
			To: m.Email, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Category: "report",
		}); err != nil {
			return res, err
		}
		res.Emails++
	}
	err = a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.ReportMarkEmailed(ctx, tx, r.ID)
	})
	return res, err
}
