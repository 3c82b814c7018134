// Package triaging holds the activities of the Triage workflow (contract:
// internal/contract/triage): recording the rules' (and a model's) decisions
// on a scan's open findings, and an analyst's verdict on a proposed one. The
// rules live in internal/triagerules, the status change in internal/findings.
package triaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/triage"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/faults"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/triagerules"
)

var q = dbq.New()

// PageSize is the findings one transaction decides.
const PageSize = 500

// Activities reach Postgres in the scan's tenant scope.
type Activities struct {
	DB *db.DB
	// Decider is a model (internal/llmtriage) asked after the rules; nil: no
	// model, the rules' decisions stand.
	Decider triagerules.Decider
	Log     *slog.Logger
}

// Register binds the activities to their names.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	triage.Evaluate.Register(reg, a.Evaluate)
	triage.Resolve.Register(reg, a.Resolve)
}

func (a *Activities) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// Rules reads a tenant's rules, validated and in evaluation order (a rule
// that no longer validates is skipped).
func Rules(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID) ([]triagerules.Rule, error) {
	rows, err := q.TriageRuleList(ctx, tx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]triagerules.Rule, 0, len(rows))
	for _, r := range rows {
		rule := triagerules.FromRow(r)
		if rule.Validate() == nil {
			out = append(out, rule)
		}
	}
	triagerules.Sort(out)
	return out, nil
}

// Evaluate records the rules' decision on every open finding of the scan
// (once per finding: a retry or reset adds no row), asks the model when one
// is plugged in, and lists the findings whose decision waits for an analyst.
func (a *Activities) Evaluate(ctx context.Context, in triage.Input) (triage.Evaluated, error) {
	defer temporalx.KeepAlive(ctx, triage.HeartbeatEvery)()
	var out triage.Evaluated
	scope := db.TenantScope(in.TenantID)
	var rules []triagerules.Rule
	if err := a.DB.InTx(ctx, scope, func(ctx context.Context, tx pgx.Tx) (err error) {
		rules, err = Rules(ctx, tx, in.TenantID)
		return err
	}); err != nil {
		return out, err
	}
	after := uuid.Nil
	for {
		var items []triagerules.Item
		var n int
		err := a.DB.InTx(ctx, scope, func(ctx context.Context, tx pgx.Tx) error {
			rows, err := q.TriageScanFindings(ctx, tx, dbq.TriageScanFindingsParams{ScanID: in.ScanID, AfterID: after, Lim: PageSize})
			if err != nil {
				return err
			}
			n = len(rows)
			var resevered []uuid.UUID
			for _, row := range rows {
				after = row.ID
				f := findings.FromRow(row)
				if !triagerules.Open(f.Status) {
					continue
				}
				res := triagerules.Evaluate(f, rules)
				added, err := addRow(ctx, tx, in, f.ID, rowOfRules(res))
				if err != nil {
					return err
				}
				out.Findings++
				if added && res.Severity != "" {
					changed, err := setSeverity(ctx, tx, f, res)
					if err != nil {
						return err
					}
					if changed {
						resevered = append(resevered, f.ID)
					}
				}
				if res.RowStatus() == triagerules.StatusApproved && res.Decision.Closes() {
					// An analyst approved this rule's closing decisions
					// beforehand: the finding closes now, no model asked.
					if added {
						if err := closeByRule(ctx, tx, f, res); err != nil {
							return err
						}
					}
					continue
				}
				items = append(items, triagerules.ItemOf(f, res))
			}
			if len(resevered) > 0 { // priority and deadline follow the severity
				if _, err := db.EnrichFindings(ctx, tx, db.EnrichSelect{IDs: resevered}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		if a.Decider != nil && len(items) > 0 {
			m, err := a.ask(ctx, in, items)
			if err != nil {
				return out, err
			}
			out.Model += m
		}
		if n < PageSize {
			break
		}
	}
	faults.PauseFor(faults.TriageEvaluated, in.TenantID.String())
	err := a.DB.InTx(ctx, scope, func(ctx context.Context, tx pgx.Tx) error {
		ids, err := q.FindingTriagePending(ctx, tx, in.ScanID)
		out.Pending = ids
		return err
	})
	return out, err
}

// ask has the model decide a page; a failing model leaves the rules'
// decisions standing (it is logged, not retried).
func (a *Activities) ask(ctx context.Context, in triage.Input, items []triagerules.Item) (int, error) {
	examples, err := a.examples(ctx, in.TenantID, items)
	if err != nil {
		return 0, err
	}
	answers, err := a.Decider.Decide(ctx, in.TenantID, items, examples)
	if err != nil {
		a.log().Warn("triage model failed; the rules' decisions stand", "scan_id", in.ScanID, "error", err)
		return 0, nil
	}
	byID := make(map[uuid.UUID]triagerules.Item, len(items))
	for _, it := range items {
		byID[it.FindingID] = it
	}
	n := 0
	err = a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		for _, ans := range answers {
			it, ok := byID[ans.FindingID]
			if !ok {
				continue // not one we asked about
			}
			delete(byID, ans.FindingID)
			ans = triagerules.Guard(it, ans)
			if _, err := addRow(ctx, tx, in, it.FindingID, dbq.FindingTriageAddParams{
				Source: "llm", Model: ans.Model, PromptVersion: ans.PromptVersion, Decision: string(ans.Decision),
				Confidence: float32(ans.Confidence), Reasoning: ans.Reasoning, Status: ans.Decision.RowStatus(),
			}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// examples reads the tenant's latest analyst verdicts (at most
// triagerules.MaxExamples, newest first) on findings of the page's scanner
// rules or CWEs.
func (a *Activities) examples(ctx context.Context, tenant uuid.UUID, items []triagerules.Item) ([]triagerules.Example, error) {
	var ruleIDs []string
	var cwes []int32
	for _, it := range items {
		if it.RuleID != "" {
			ruleIDs = append(ruleIDs, it.RuleID)
		}
		cwes = append(cwes, it.CWEs...)
	}
	var out []triagerules.Example
	err := a.DB.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		rows, err := q.TriageAnalystExamples(ctx, tx, dbq.TriageAnalystExamplesParams{
			TenantID: tenant, RuleIds: ruleIDs, Cwes: cwes, Lim: triagerules.MaxExamples})
		for _, r := range rows {
			ex := triagerules.Example{RuleID: r.RuleID, CWEs: r.Cwes, Title: r.Title,
				Decision: triagerules.Decision(r.Decision), Reason: r.Reasoning}
			if r.Status == triagerules.StatusRejected {
				ex.Decision = triagerules.Valid
				ex.Reason = "an analyst rejected " + r.Decision + ": " + r.Reasoning
			}
			out = append(out, ex)
		}
		return err
	})
	return out, err
}

func rowOfRules(r triagerules.Result) dbq.FindingTriageAddParams {
	p := dbq.FindingTriageAddParams{Source: "rules", Decision: string(r.Decision), Severity: r.Severity,
		Confidence: float32(r.Confidence), Reasoning: r.Reasoning, Status: r.RowStatus()}
	if p.Status == triagerules.StatusApproved && r.Decision.Closes() {
		p.ApprovedBy = r.ApprovedBy
	}
	if r.RuleID != nil {
		p.RuleID = uuid.NullUUID{UUID: *r.RuleID, Valid: true}
	}
	return p
}

// addRow records a decision once per scan, finding and source; added is
// false when a retried or reset run finds it recorded.
func addRow(ctx context.Context, tx dbq.DBTX, in triage.Input, finding uuid.UUID, p dbq.FindingTriageAddParams) (added bool, err error) {
	p.TenantID, p.ScanID, p.FindingID = in.TenantID, in.ScanID, finding
	n, err := q.FindingTriageAdd(ctx, tx, p)
	return n == 1, err
}

// setSeverity applies a tenant rule's severity to f, with an event saying
// which rule; changed is false when f already had it.
func setSeverity(ctx context.Context, tx dbq.DBTX, f findings.Stored, res triagerules.Result) (changed bool, err error) {
	was, err := q.FindingSetSeverity(ctx, tx, dbq.FindingSetSeverityParams{ID: f.ID, Severity: res.Severity})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, q.FindingEventAdd(ctx, tx, dbq.FindingEventAddParams{
		TenantID: f.TenantID, FindingID: f.ID, Actor: ruleActor(res.SeverityRule), FromStatus: f.Status, ToStatus: f.Status,
		Comment: truncate(fmt.Sprintf("severity %s → %s: %s", was, res.Severity, res.Reasoning), findings.MaxCommentLen),
	})
}

// closeByRule closes f as a person's PATCH would (findings.Triage), on the
// standing approval of the rule that decided.
func closeByRule(ctx context.Context, tx dbq.DBTX, f findings.Stored, res triagerules.Result) error {
	_, err := findings.Triage(ctx, tx, f.ID, findings.Decision{
		Status:  res.Decision.FindingStatus(),
		Comment: truncate(fmt.Sprintf("triage: %s (approved beforehand by %s)", res.Reasoning, res.ApprovedBy), findings.MaxCommentLen),
		Actor:   ruleActor(res.RuleID),
	})
	return err
}

// ruleActor names the tenant rule that acted ("triage_rule:<id>").
func ruleActor(rule *uuid.UUID) string {
	if rule == nil {
		return "triage"
	}
	return "triage_rule:" + rule.String()
}

// Resolve records an analyst's verdict on the finding's proposed decision
// in this scan; an approved closing decision sets the finding's status
// through findings.Triage (as a person's PATCH does). Idempotent: a retry
// finds the analyst's row and changes nothing.
func (a *Activities) Resolve(ctx context.Context, in triage.ResolveInput) (triage.Resolved, error) {
	defer temporalx.KeepAlive(ctx, triage.HeartbeatEvery)()
	var out triage.Resolved
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		latest, err := q.FindingTriageInScan(ctx, tx, dbq.FindingTriageInScanParams{ScanID: in.ScanID, FindingID: in.Verdict.FindingID})
		if errors.Is(err, pgx.ErrNoRows) {
			return temporal.NewNonRetryableApplicationError("no triage of this finding in this scan", triage.ErrNotPending, nil)
		}
		if err != nil {
			return err
		}
		out = triage.Resolved{FindingID: in.Verdict.FindingID, Decision: latest.Decision, Status: latest.Status}
		if latest.Source == "analyst" {
			return readStatus(ctx, tx, &out) // a retry: already recorded
		}
		if latest.Status != triagerules.StatusProposed {
			return temporal.NewNonRetryableApplicationError("the decision does not wait for an analyst", triage.ErrNotPending, nil)
		}
		out.Status = triagerules.StatusRejected
		if in.Approve {
			out.Status = triagerules.StatusApproved
		}
		reason := in.Verdict.Comment
		if reason == "" {
			reason = latest.Reasoning
		}
		if _, err := addRow(ctx, tx, triage.Input{TenantID: in.TenantID, ScanID: in.ScanID}, in.Verdict.FindingID, dbq.FindingTriageAddParams{
			Source: "analyst", Model: latest.Model, PromptVersion: latest.PromptVersion, Decision: latest.Decision,
			Severity: latest.Severity, Confidence: 1, Reasoning: truncate(reason, 4000), RuleID: latest.RuleID,
			Status: out.Status, ApprovedBy: in.Verdict.Actor,
		}); err != nil {
			return err
		}
		if status := triagerules.Decision(latest.Decision).FindingStatus(); in.Approve && status != "" {
			comment := "triage approved: " + latest.Reasoning
			if in.Verdict.Comment != "" {
				comment = "triage approved: " + in.Verdict.Comment
			}
			t, err := findings.Triage(ctx, tx, in.Verdict.FindingID, findings.Decision{
				Status: status, Comment: truncate(comment, findings.MaxCommentLen), Actor: in.Verdict.Actor,
			})
			if err != nil {
				return err
			}
			out.Finding = t.Finding.Status
			return nil
		}
		return readStatus(ctx, tx, &out)
	})
	return out, err
}

func readStatus(ctx context.Context, tx dbq.DBTX, out *triage.Resolved) error {
	f, err := q.FindingGet(ctx, tx, out.FindingID)
	out.Finding = f.Status
	return err
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
