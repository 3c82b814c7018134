package api

// Triage: a tenant's triage rules (evaluated after the built-in rules by the
// Triage workflow, internal/triagerules) and analysts' verdicts on the
// decisions that wait for them (the workflow's approve and reject updates).
// Reading rules needs findings:triage; writing them integrations:configure
// (owners and admins: a rule may propose closing findings for the tenant).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/triage"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/reach"
	"github.com/secureops/secureops/internal/triagerules"
)

// TriageView is a finding's latest triage decision.
type TriageView struct {
	Decision   string  `json:"decision"`
	Confidence float64 `json:"confidence"`
	Reasoning  string  `json:"reasoning"`
	Source     string  `json:"source"`
	Model      *string `json:"model"`
	Status     string  `json:"status"`
	ApprovedBy *string `json:"approved_by"`
}

func triageViewOf(t dbq.FindingTriage) *TriageView {
	v := &TriageView{Decision: t.Decision, Confidence: float32ToFloat(t.Confidence), Reasoning: t.Reasoning,
		Source: t.Source, Status: t.Status}
	if t.Model != "" {
		v.Model = &t.Model
	}
	if t.ApprovedBy != "" {
		v.ApprovedBy = &t.ApprovedBy
	}
	return v
}

// float32ToFloat widens a real without float32 noise (0.95 stays 0.95).
func float32ToFloat(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// latestTriage reads the latest triage row of each finding listed.
func latestTriage(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]*TriageView, error) {
	out := make(map[uuid.UUID]*TriageView, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.Q.FindingTriageLatest(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	for _, t := range rows {
		out[t.FindingID] = triageViewOf(t)
	}
	return out, nil
}

type triageRuleRequest struct {
	Position   *int    `json:"position"`
	Name       *string `json:"name"`
	Scanner    *string `json:"scanner"`
	RuleID     *string `json:"rule_id"`
	CVE        *string `json:"cve"`
	CWE        *int32  `json:"cwe"`
	Target     *string `json:"target"`
	Title      *string `json:"title"`
	TitleRegex *bool   `json:"title_regex"`
	Action     *string `json:"action"`
	Decision   *string `json:"decision"`
	Severity   *string `json:"severity"`
	// AutoApprove gives the rule the caller's standing approval: its
	// closing decisions close findings without waiting for an analyst.
	AutoApprove *bool `json:"auto_approve"`
}

// apply lays the request over r (a PATCH leaves absent fields as they are);
// actor is who asks (the approval's owner when auto_approve is set).
func (q triageRuleRequest) apply(r *triagerules.Rule, actor string) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	if q.Position != nil {
		r.Position = *q.Position
	}
	set(&r.Name, q.Name)
	set(&r.Scanner, q.Scanner)
	set(&r.RuleID, q.RuleID)
	set(&r.CVE, q.CVE)
	set(&r.Target, q.Target)
	set(&r.Title, q.Title)
	set(&r.Action, q.Action)
	set(&r.Severity, q.Severity)
	if q.CWE != nil {
		r.CWE = *q.CWE
	}
	if q.TitleRegex != nil {
		r.TitleRegex = *q.TitleRegex
	}
	if q.Decision != nil {
		r.Decision = triagerules.Decision(*q.Decision)
	}
	switch {
	case q.AutoApprove == nil:
	case *q.AutoApprove:
		r.ApprovedBy = actor
	default:
		r.ApprovedBy = ""
	}
}

type triageRuleView struct {
	ID         uuid.UUID `json:"id"`
	Position   int32     `json:"position"`
	Name       string    `json:"name"`
	Scanner    string    `json:"scanner"`
	RuleID     string    `json:"rule_id"`
	CVE        string    `json:"cve"`
	CWE        int32     `json:"cwe"`
	Target     string    `json:"target"`
	Title      string    `json:"title"`
	TitleRegex bool      `json:"title_regex"`
	Action     string    `json:"action"`
	Decision   string    `json:"decision"`
	Severity   string    `json:"severity"`
	// ApprovedBy: whose standing approval the rule's closing decisions
	// carry (null: they wait for an analyst).
	ApprovedBy  *string    `json:"approved_by"`
	FromFinding *uuid.UUID `json:"from_finding"`
	CreatedBy   string     `json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func triageRuleViewOf(r dbq.TriageRule) triageRuleView {
	v := triageRuleView{ID: r.ID, Position: r.Position, Name: r.Name, Scanner: r.Scanner, RuleID: r.RuleID, CVE: r.Cve,
		CWE: r.Cwe, Target: r.Target, Title: r.Title, TitleRegex: r.TitleRegex, Action: r.Action, Decision: r.Decision,
		Severity: r.Severity, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.ApprovedBy != "" {
		v.ApprovedBy = &r.ApprovedBy
	}
	if r.FromFinding.Valid {
		v.FromFinding = &r.FromFinding.UUID
	}
	return v
}

func (s *Server) triageRuleList(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var rows []dbq.TriageRule
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) (err error) {
		rows, err = db.Q.TriageRuleList(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	items := make([]triageRuleView, 0, len(rows))
	for _, t := range rows {
		items = append(items, triageRuleViewOf(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) triageRuleCreate(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req triageRuleRequest
	if err := firstErr(requireTenant(a), decodeJSON(r, &req, 16<<10)); err != nil {
		return err
	}
	var rule triagerules.Rule
	req.apply(&rule, actorOf(a))
	if err := rule.Validate(); err != nil {
		return err
	}
	var row dbq.TriageRule
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) (err error) {
		row, err = createTriageRule(ctx, tx, a, rule, req.Position == nil, uuid.NullUUID{})
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "triage_rule.created", "triage_rule", row.ID.String(), triageRuleViewOf(row))
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/triage/rules/"+row.ID.String())
	writeJSON(w, http.StatusCreated, triageRuleViewOf(row))
	return nil
}

// createTriageRule stores a validated rule of the caller's tenant, last in
// order when last is set (else at rule.Position), within the tenant's limit.
func createTriageRule(ctx context.Context, tx pgx.Tx, a *auth.Access, rule triagerules.Rule, last bool, from uuid.NullUUID) (dbq.TriageRule, error) {
	n, err := db.Q.TriageRuleCount(ctx, tx, a.TenantID)
	if err != nil {
		return dbq.TriageRule{}, err
	}
	if n >= triagerules.MaxRules {
		return dbq.TriageRule{}, domainerr.New(domainerr.Conflict, fmt.Sprintf("a tenant has at most %d triage rules; delete one first", triagerules.MaxRules))
	}
	if last {
		rule.Position = int(n) * 10 // after the others
	}
	return db.Q.TriageRuleCreate(ctx, tx, dbq.TriageRuleCreateParams{
		TenantID: a.TenantID, Position: int32(rule.Position), Name: rule.Name, Scanner: rule.Scanner, RuleID: rule.RuleID,
		Cve: rule.CVE, Cwe: rule.CWE, Target: rule.Target, Title: rule.Title, TitleRegex: rule.TitleRegex,
		Action: rule.Action, Decision: string(rule.Decision), Severity: rule.Severity, CreatedBy: actorOf(a),
		ApprovedBy: rule.ApprovedBy, FromFinding: from,
	})
}

// triageRuleGet reads a rule in scope and checks the caller at its tenant.
func triageRuleGet(ctx context.Context, tx pgx.Tx, id uuid.UUID) (dbq.TriageRule, error) {
	row, err := db.Q.TriageRuleGet(ctx, tx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return row, domainerr.ErrNotFound
	}
	if err != nil {
		return row, err
	}
	return row, reach.Check(ctx, tx, row.TenantID)
}

func (s *Server) triageRuleUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var req triageRuleRequest
	if err := decodeJSON(r, &req, 16<<10); err != nil {
		return err
	}
	var row dbq.TriageRule
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		cur, err := triageRuleGet(ctx, tx, id)
		if err != nil {
			return err
		}
		rule := triagerules.FromRow(cur)
		req.apply(&rule, actorOf(a))
		if err := rule.Validate(); err != nil {
			return err
		}
		row, err = db.Q.TriageRuleUpdate(ctx, tx, dbq.TriageRuleUpdateParams{
			ID: id, Position: int32(rule.Position), Name: rule.Name, Scanner: rule.Scanner, RuleID: rule.RuleID,
			Cve: rule.CVE, Cwe: rule.CWE, Target: rule.Target, Title: rule.Title, TitleRegex: rule.TitleRegex,
			Action: rule.Action, Decision: string(rule.Decision), Severity: rule.Severity, ApprovedBy: rule.ApprovedBy,
		})
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, row.TenantID, "triage_rule.updated", "triage_rule", id.String(), triageRuleViewOf(row))
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, triageRuleViewOf(row))
	return nil
}

func (s *Server) triageRuleDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		cur, err := triageRuleGet(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := db.Q.TriageRuleDelete(ctx, tx, id); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, cur.TenantID, "triage_rule.deleted", "triage_rule", id.String(), triageRuleViewOf(cur))
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type triageVerdictRequest struct {
	Comment string `json:"comment"`
	// Remember turns the verdict into a tenant rule: always this decision
	// for this scanner rule on this target (with the analyst's standing
	// approval when it closes findings).
	Remember bool `json:"remember"`
}

// verdictView is the finding after a verdict, with the rule it made.
type verdictView struct {
	FindingView
	Rule *triageRuleView `json:"rule,omitempty"`
}

// rememberedRule is the rule an analyst's verdict on f asks for: for f's
// scanner rule on f's target, the approved decision (or valid, when the
// analyst rejected a closing one), approved by the analyst when it closes.
func rememberedRule(f findings.Stored, decision triagerules.Decision, approve bool, actor string) (triagerules.Rule, error) {
	if f.Scanner == "" || f.RuleID == "" {
		return triagerules.Rule{}, invalid("remember", "this finding names no scanner rule to remember the verdict for; create a triage rule with other conditions instead")
	}
	target := f.ScanTarget
	if target == "" {
		target = f.Target
	}
	r := triagerules.Rule{Scanner: f.Scanner, RuleID: f.RuleID, Target: target, Action: triagerules.ActionSetDecision}
	switch {
	case !approve:
		r.Decision = triagerules.Valid
	case decision == triagerules.Suppress:
		r.Action = triagerules.ActionSuppress
	default:
		r.Decision = decision
	}
	if approve && decision.Closes() {
		r.ApprovedBy = actor
	}
	what := string(r.Decision)
	if r.Action == triagerules.ActionSuppress {
		what = "suppress"
	}
	r.Name = truncateRunes(fmt.Sprintf("Analyst: always %s for %s %s on %s", what, f.Scanner, f.RuleID, target), triagerules.MaxTitleLen)
	return r, r.Validate()
}

func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// findingTriageVerdict approves or rejects the finding's latest proposed
// triage decision: the update on triage/<scan-id> of that decision's scan.
// An approved false positive (or suppression) sets the finding's status as
// a PATCH would (internal/findings.Triage, in the workflow's activity).
func (s *Server) findingTriageVerdict(approve bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUUID(r, "id")
		if err != nil {
			return err
		}
		var req triageVerdictRequest
		if r.ContentLength != 0 {
			if err := decodeJSON(r, &req, 16<<10); err != nil {
				return err
			}
		}
		if len(req.Comment) > findings.MaxCommentLen {
			return invalid("comment", "comment must be at most 4000 characters")
		}
		var latest dbq.FindingTriage
		var verdict triage.Verdict
		var rule triagerules.Rule // the rule asked for (Remember)
		err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
			f, err := findings.Get(ctx, tx, id)
			if err != nil {
				return err
			}
			latest, err = db.Q.FindingTriageLatestOf(ctx, tx, id)
			if errors.Is(err, pgx.ErrNoRows) || (err == nil && latest.Status != triagerules.StatusProposed) {
				return domainerr.New(domainerr.Conflict, "no triage decision on this finding waits for approval")
			}
			if err != nil {
				return err
			}
			verdict = triage.Verdict{FindingID: id, Actor: actorOf(a), Role: string(a.Role), Comment: req.Comment}
			if req.Remember { // refused before anything is decided
				rule, err = rememberedRule(f, triagerules.Decision(latest.Decision), approve, actorOf(a))
			}
			return err
		})
		if err != nil {
			return err
		}
		name := triage.UpdateReject
		if approve {
			name = triage.UpdateApprove
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: triage.WorkflowID(latest.ScanID), UpdateName: name, Args: []any{verdict},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		var res triage.Resolved
		if err == nil {
			err = h.Get(ctx, &res)
		}
		if err != nil {
			return verdictError(err)
		}
		// The verdict and the status change were recorded by the workflow's
		// activity (finding_triage, finding_events); the audit log says who
		// asked, from where.
		var v verdictView
		err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
			f, err := findings.Get(ctx, tx, id)
			if err != nil {
				return err
			}
			tv, err := latestTriage(ctx, tx, []uuid.UUID{id})
			if err != nil {
				return err
			}
			v.FindingView = findingView(f)
			v.Triage = tv[id]
			if err := audit(ctx, tx, r, a, f.TenantID, "finding.triage_"+res.Status, "finding", id.String(),
				map[string]any{"decision": res.Decision, "scan_id": latest.ScanID, "status": f.Status, "comment": req.Comment}); err != nil {
				return err
			}
			if !req.Remember {
				return nil
			}
			row, err := db.Q.TriageRuleFind(ctx, tx, dbq.TriageRuleFindParams{TenantID: f.TenantID, Scanner: rule.Scanner,
				RuleID: rule.RuleID, Target: rule.Target, Action: rule.Action, Decision: string(rule.Decision)})
			switch {
			case err == nil && row.ApprovedBy == rule.ApprovedBy: // asked before: one rule
			case err == nil:
				row, err = db.Q.TriageRuleUpdate(ctx, tx, dbq.TriageRuleUpdateParams{
					ID: row.ID, Position: row.Position, Name: row.Name, Scanner: row.Scanner, RuleID: row.RuleID, Cve: row.Cve,
					Cwe: row.Cwe, Target: row.Target, Title: row.Title, TitleRegex: row.TitleRegex, Action: row.Action,
					Decision: row.Decision, Severity: row.Severity, ApprovedBy: rule.ApprovedBy})
				if err == nil {
					err = audit(ctx, tx, r, a, f.TenantID, "triage_rule.updated", "triage_rule", row.ID.String(), triageRuleViewOf(row))
				}
			case errors.Is(err, pgx.ErrNoRows):
				row, err = createTriageRule(ctx, tx, a, rule, true, uuid.NullUUID{UUID: id, Valid: true})
				if err == nil {
					err = audit(ctx, tx, r, a, f.TenantID, "triage_rule.created", "triage_rule", row.ID.String(), triageRuleViewOf(row))
				}
			}
			if err != nil {
				return err
			}
			rv := triageRuleViewOf(row)
			v.Rule = &rv
			return nil
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

// verdictError answers a refused or impossible verdict as a conflict: the
// triage ended (14 days passed), or its validator refused (role, state).
func verdictError(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return domainerr.Wrap(domainerr.Conflict, "the triage of this finding has ended; triage it with PATCH /api/v1/findings/{id}", err)
	}
	var act *temporal.ActivityError
	var app *temporal.ApplicationError
	if !errors.As(err, &act) && errors.As(err, &app) {
		return domainerr.Wrap(domainerr.Conflict, app.Message(), err)
	}
	return err
}
