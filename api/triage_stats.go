package api

// GET /api/v1/triage/stats: how the tenant's triage decisions are spread over
// sources (rules, llm, analyst), rules (built-in or the tenant's) and
// decisions, and how often the rules' and the model's decisions matched an
// analyst's verdict on the same finding and scan.

import (
	"context"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

type triageStatsCount struct {
	Source   string  `json:"source"`
	RuleID   *string `json:"rule_id"` // the tenant rule (an analyst row: of the judged decision); null: built-in or a model
	RuleName string  `json:"rule_name,omitempty"`
	Decision string  `json:"decision"`
	Status   string  `json:"status"`
	Count    int64   `json:"count"`
}

type triageStatsAgreement struct {
	Source   string  `json:"source"`
	RuleID   *string `json:"rule_id,omitempty"` // per rule only; null: the built-in rules
	RuleName string  `json:"rule_name,omitempty"`
	Reviewed int64   `json:"reviewed"` // decisions an analyst judged
	Agreed   int64   `json:"agreed"`   // of which the analyst agreed with
	Rate     float64 `json:"rate"`     // agreed / reviewed (0 when none)
}

func (g *triageStatsAgreement) add(reviewed, agreed int64) {
	g.Reviewed += reviewed
	g.Agreed += agreed
	if g.Reviewed > 0 {
		g.Rate = float64(g.Agreed) / float64(g.Reviewed)
	}
}

func (s *Server) triageStats(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var decisions []dbq.TriageStatsDecisionsRow
	var agreement []dbq.TriageStatsAgreementRow
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) (err error) {
		if decisions, err = db.Q.TriageStatsDecisions(ctx, tx, a.TenantID); err != nil {
			return err
		}
		agreement, err = db.Q.TriageStatsAgreement(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	counts := make([]triageStatsCount, 0, len(decisions))
	for _, d := range decisions {
		counts = append(counts, triageStatsCount{Source: d.Source, RuleID: nullUUIDString(d.RuleID), RuleName: d.RuleName,
			Decision: d.Decision, Status: d.Status, Count: d.N})
	}
	// Per source (rules, llm) in total, then per rule.
	bySource := []*triageStatsAgreement{{Source: "rules"}, {Source: "llm"}}
	perRule := make([]triageStatsAgreement, 0, len(agreement))
	for _, g := range agreement {
		for _, t := range bySource {
			if t.Source == g.Source {
				t.add(g.Reviewed, g.Agreed)
			}
		}
		one := triageStatsAgreement{Source: g.Source, RuleID: nullUUIDString(g.RuleID), RuleName: g.RuleName}
		one.add(g.Reviewed, g.Agreed)
		perRule = append(perRule, one)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"decisions": counts,
		"agreement": map[string]any{"rules": bySource[0], "llm": bySource[1], "by_rule": perRule},
	})
	return nil
}

func nullUUIDString(u uuid.NullUUID) *string {
	if !u.Valid {
		return nil
	}
	s := u.UUID.String()
	return &s
}
