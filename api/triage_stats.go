package api

// GET /api/v1/triage/stats: how the tenant's triage decisions are spread over
// sources (rules, llm, analyst), rules (built-in or the tenant's) and
// decisions, and how often the rules' and the model's decisions matched an
// analyst's verdict on the same finding and scan.

import (
	"context"
	"net/http"
	"time"

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
	var feedback []dbq.TriageStatsFeedbackRow
	var reports []dbq.TriageStatsReportFeedbackRow
	var comments []dbq.TriageFeedbackCommentsRow
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) (err error) {
		if decisions, err = db.Q.TriageStatsDecisions(ctx, tx, a.TenantID); err != nil {
			return err
		}
		if feedback, err = db.Q.TriageStatsFeedback(ctx, tx, a.TenantID); err != nil {
			return err
		}
		if reports, err = db.Q.TriageStatsReportFeedback(ctx, tx, a.TenantID); err != nil {
			return err
		}
		if comments, err = db.Q.TriageFeedbackComments(ctx, tx, dbq.TriageFeedbackCommentsParams{TenantID: a.TenantID, Lim: 20}); err != nil {
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
		"feedback":  feedbackStats(feedback, reports, comments),
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

type feedbackCount struct {
	Source     string  `json:"source,omitempty"`
	RuleID     *string `json:"rule_id,omitempty"`
	RuleName   string  `json:"rule_name,omitempty"`
	Kind       string  `json:"kind,omitempty"`         // reports: executive | technical
	ProseBy    string  `json:"prose_source,omitempty"` // reports: rules | model:<name>
	Useful     int64   `json:"useful"`
	NotUseful  int64   `json:"not_useful"`
	UsefulRate float64 `json:"useful_rate"` // useful / all (0 when none)
}

func (c *feedbackCount) add(useful, not int64) {
	c.Useful += useful
	c.NotUseful += not
	if n := c.Useful + c.NotUseful; n > 0 {
		c.UsefulRate = float64(c.Useful) / float64(n)
	}
}

type feedbackComment struct {
	Subject   string    `json:"subject"` // triage (a finding's answer) or report
	SubjectID string    `json:"subject_id"`
	Source    string    `json:"source"` // the answer's or the prose's source
	Useful    bool      `json:"useful"`
	Comment   string    `json:"comment"`
	At        time.Time `json:"at"`
}

// feedbackStats is what people said of triage answers (per source and rule)
// and reports (per kind and prose source), with the latest comments.
func feedbackStats(triage []dbq.TriageStatsFeedbackRow, reports []dbq.TriageStatsReportFeedbackRow, comments []dbq.TriageFeedbackCommentsRow) map[string]any {
	bySource := []*feedbackCount{{Source: "rules"}, {Source: "llm"}}
	perRule := make([]feedbackCount, 0, len(triage))
	for _, g := range triage {
		for _, t := range bySource {
			if t.Source == g.Source {
				t.add(g.Useful, g.NotUseful)
			}
		}
		one := feedbackCount{Source: g.Source, RuleID: nullUUIDString(g.RuleID), RuleName: g.RuleName}
		one.add(g.Useful, g.NotUseful)
		perRule = append(perRule, one)
	}
	rep := make([]feedbackCount, 0, len(reports))
	for _, g := range reports {
		one := feedbackCount{Kind: g.Kind, ProseBy: g.ProseSource}
		one.add(g.Useful, g.NotUseful)
		rep = append(rep, one)
	}
	cs := make([]feedbackComment, 0, len(comments))
	for _, c := range comments {
		cs = append(cs, feedbackComment{Subject: c.Subject, SubjectID: c.SubjectID, Source: c.Source, Useful: c.Useful,
			Comment: c.Comment, At: c.At})
	}
	return map[string]any{"rules": bySource[0], "llm": bySource[1], "by_rule": perRule, "reports": rep, "comments": cs}
}
