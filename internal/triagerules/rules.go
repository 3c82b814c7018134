// Package triagerules holds the triage decisions the rules make, in one
// place: the built-in first decision every finding gets (Builtin), the
// tenant's own rules evaluated after it in position order (Rule, Evaluate),
// the guard on a model's answers (Guard) and the seam a model plugs into
// (Decider). Pure functions: the activities (activities/triaging) read and
// write the rows, the workflow (workflows/triageflow) waits for analysts.
//
// The built-in rules, first match wins:
//
//  1. CVE in CISA's KEV catalogue → valid (0.95): exploited in the wild.
//  2. EPSS ≥ 0.5 → valid (0.9): likely exploited within 30 days.
//  3. Severity info → valid (0.6): informational (a banner, a version); the
//     severity stays info.
//  4. A scanner rule known to be noisy (KnownNoisy) → needs_review (0.5).
//  5. Critical or high with a CVE, or CVSS ≥ 7 → valid (0.8).
//  6. A CVE in a named component (a package scanner's finding) → valid (0.75).
//  7. Anything else → needs_review (0.5): no rule confirms it.
//
// The built-in rules never close a finding; only a tenant's rules (and a
// model) may propose false_positive or suppress, and an analyst approves it.
package triagerules

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/findings"
)

// Decision is a triage decision on a finding.
type Decision string

// The decisions.
const (
	Valid         Decision = "valid"
	FalsePositive Decision = "false_positive"
	NeedsReview   Decision = "needs_review"
	// Suppress: real but not to be acted on (a tenant rule's action); an
	// approved suppression sets the finding's status to accepted_risk.
	Suppress Decision = "suppress"
)

// Decisions a rule's set_decision may set.
var Decisions = []Decision{Valid, FalsePositive, NeedsReview}

// Closes reports whether the decision would close the finding: it then waits
// for an analyst as proposed.
func (d Decision) Closes() bool { return d == FalsePositive || d == Suppress }

// FindingStatus is the finding status an approved closing decision sets
// (through findings.Triage); "" for decisions that do not close.
func (d Decision) FindingStatus() string {
	switch d {
	case FalsePositive:
		return "false_positive"
	case Suppress:
		return "accepted_risk"
	}
	return ""
}

// Triage statuses of a decision row.
const (
	StatusProposed = "proposed"
	StatusApproved = "approved"
	StatusRejected = "rejected"
)

// RowStatus is the status a decision is recorded with: proposed when it
// would close the finding, approved (by nobody: it changes nothing) otherwise.
func (d Decision) RowStatus() string {
	if d.Closes() {
		return StatusProposed
	}
	return StatusApproved
}

// Open reports whether a finding in this status is triaged: closed findings
// (fixed, false_positive, accepted_risk) are not.
func Open(status string) bool { return status == "new" || status == "open" || status == "reopened" }

// Result is a rules' decision on one finding.
type Result struct {
	Decision   Decision
	Confidence float64
	Reasoning  string
	// Severity is set when a tenant rule set it ("" otherwise).
	Severity string
	// RuleID is the last tenant rule that changed the decision (nil: built in).
	RuleID *uuid.UUID
	// SeverityRule is the last tenant rule that set Severity.
	SeverityRule *uuid.UUID
	// ApprovedBy is that rule's standing approval (Rule.ApprovedBy): a
	// closing decision it set needs no analyst. "" otherwise.
	ApprovedBy string
}

// RowStatus is the status the rules' decision is recorded with: as
// Decision.RowStatus, but a closing decision of a rule an analyst approved
// beforehand is approved.
func (r Result) RowStatus() string {
	if r.Decision.Closes() && r.ApprovedBy != "" {
		return StatusApproved
	}
	return r.Decision.RowStatus()
}

// EPSSLikely is the EPSS score from which a finding counts as likely exploited.
const EPSSLikely = 0.5

// KnownNoisy lists scanner rules whose findings are often not actionable
// (scanner → rule id prefixes): detections of technology, WAFs and missing
// hardening headers.
var KnownNoisy = map[string][]string{
	"nuclei": {"tech-detect", "waf-detect", "http-missing-security-headers", "ssl-dns-names", "favicon-detect", "options-method"},
	"zap":    {"10015", "10020", "10021", "10027", "10036", "10037", "10096"},
	"nmap":   {"banner"},
}

func noisy(scanner, rule string) bool {
	for _, p := range KnownNoisy[strings.ToLower(scanner)] {
		if strings.HasPrefix(strings.ToLower(rule), p) {
			return true
		}
	}
	return false
}

// Builtin is the documented first decision (see the package comment).
func Builtin(f findings.Stored) Result {
	sev := findings.Severity(strings.ToLower(string(f.Severity)))
	switch {
	case f.KEV:
		return Result{Valid, 0.95, "CVE in CISA's KEV catalogue: exploited in the wild", "", nil, nil, ""}
	case f.EPSS != nil && *f.EPSS >= EPSSLikely:
		return Result{Valid, 0.9, fmt.Sprintf("EPSS %.2f ≥ %.1f: likely to be exploited soon", *f.EPSS, EPSSLikely), "", nil, nil, ""}
	case sev == findings.SeverityInfo:
		return Result{Valid, 0.6, "informational finding (banner, version or configuration detail): kept at info", "", nil, nil, ""}
	case noisy(f.Scanner, f.RuleID):
		return Result{NeedsReview, 0.5, fmt.Sprintf("%s rule %s is known to be noisy: an analyst should confirm it", f.Scanner, f.RuleID), "", nil, nil, ""}
	case (sev == findings.SeverityCritical || sev == findings.SeverityHigh) && len(f.CVEs) > 0, f.CVSSScore >= 7:
		return Result{Valid, 0.8, fmt.Sprintf("%s severity with a known CVE or CVSS %.1f", sev, f.CVSSScore), "", nil, nil, ""}
	case len(f.CVEs) > 0 && f.Component != "":
		return Result{Valid, 0.75, fmt.Sprintf("%s %s is affected by %s", f.Component, f.ComponentVersion, f.CVEs[0]), "", nil, nil, ""}
	}
	return Result{NeedsReview, 0.5, "no rule confirms the finding: an analyst should review it", "", nil, nil, ""}
}

// Rule actions.
const (
	ActionSetDecision = "set_decision"
	ActionSetSeverity = "set_severity"
	ActionSuppress    = "suppress"
)

// Bounds of a rule's conditions.
const (
	MaxTitleLen = 200
	MaxRules    = 200 // per tenant
)

// Rule is a tenant's triage rule: every non-empty condition must match
// (scanner and CVE exactly, case-insensitive; rule id and target exactly or
// as a prefix ending in *; title as a case-insensitive substring or, with
// TitleRegex, an RE2 expression — linear time, at most 200 characters).
type Rule struct {
	ID         uuid.UUID
	Position   int
	Name       string
	Scanner    string
	RuleID     string
	CVE        string
	CWE        int32
	Target     string
	Title      string
	TitleRegex bool
	Action     string
	Decision   Decision
	Severity   string
	// ApprovedBy is who approved the rule's closing decisions beforehand
	// (an analyst asking "always for this rule on this target", or an
	// owner): they close findings without waiting. "" : they wait.
	ApprovedBy string

	re *regexp.Regexp
}

// FromRow is the domain's view of a stored rule (not yet validated).
func FromRow(r dbq.TriageRule) Rule {
	return Rule{ID: r.ID, Position: int(r.Position), Name: r.Name, Scanner: r.Scanner, RuleID: r.RuleID,
		CVE: r.Cve, CWE: r.Cwe, Target: r.Target, Title: r.Title, TitleRegex: r.TitleRegex, Action: r.Action,
		Decision: Decision(r.Decision), Severity: r.Severity, ApprovedBy: r.ApprovedBy}
}

// Validate checks a rule and compiles its title expression.
func (r *Rule) Validate() error {
	switch r.Action {
	case ActionSetDecision:
		if !slices.Contains(Decisions, r.Decision) {
			return domainerr.InvalidField("decision", "decision must be one of valid, false_positive, needs_review")
		}
		r.Severity = ""
	case ActionSetSeverity:
		if !findings.Severity(r.Severity).Valid() {
			return domainerr.InvalidField("severity", "severity must be one of critical, high, medium, low, info")
		}
		r.Decision = ""
	case ActionSuppress:
		r.Decision, r.Severity = "", ""
	default:
		return domainerr.InvalidField("action", "action must be one of set_decision, set_severity, suppress")
	}
	if r.Position < 0 {
		return domainerr.InvalidField("position", "position must be 0 or more")
	}
	if len(r.Title) > MaxTitleLen || len(r.Name) > MaxTitleLen {
		return domainerr.InvalidField("title", fmt.Sprintf("title and name are limited to %d characters", MaxTitleLen))
	}
	if len(r.Scanner) > 64 || len(r.CVE) > 64 || len(r.RuleID) > 500 || len(r.Target) > 500 || r.CWE < 0 {
		return domainerr.InvalidField("condition", "scanner and cve are limited to 64 characters, rule_id and target to 500; cwe must be positive")
	}
	if r.Scanner == "" && r.RuleID == "" && r.CVE == "" && r.CWE == 0 && r.Target == "" && r.Title == "" {
		return domainerr.InvalidField("condition", "a rule needs at least one condition (scanner, rule_id, cve, cwe, target or title)")
	}
	r.re = nil
	if r.TitleRegex {
		re, err := regexp.Compile("(?i)" + r.Title)
		if err != nil {
			return domainerr.InvalidField("title", "title is not a valid regular expression: "+err.Error())
		}
		r.re = re
	}
	return nil
}

func matchPattern(pattern, value string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(strings.ToLower(value), strings.ToLower(p))
	}
	return strings.EqualFold(pattern, value)
}

// Matches reports whether every condition of the rule holds for f. A rule
// that was not validated (its expression not compiled) never matches on a
// title expression.
func (r *Rule) Matches(f findings.Stored) bool {
	if (r.Scanner != "" || r.RuleID != "") && !r.matchesReporter(f) {
		return false
	}
	if r.CVE != "" && !slices.ContainsFunc(f.CVEs, func(c string) bool { return strings.EqualFold(c, r.CVE) }) {
		return false
	}
	if r.CWE != 0 && !slices.Contains(f.CWEs, r.CWE) {
		return false
	}
	if r.Target != "" && !matchPattern(r.Target, f.ScanTarget) && !matchPattern(r.Target, f.Target) {
		return false
	}
	if r.Title != "" {
		if r.TitleRegex {
			if r.re == nil || !r.re.MatchString(f.Title) {
				return false
			}
		} else if !strings.Contains(strings.ToLower(f.Title), strings.ToLower(r.Title)) {
			return false
		}
	}
	return true
}

// matchesReporter: the scanner and rule-id conditions hold for one scanner
// that reported f (a finding several scanners reported matches a rule for
// any of them), or for f's own scanner and rule.
func (r *Rule) matchesReporter(f findings.Stored) bool {
	one := func(scanner, rule string) bool {
		return (r.Scanner == "" || strings.EqualFold(r.Scanner, scanner)) && (r.RuleID == "" || matchPattern(r.RuleID, rule))
	}
	if one(f.Scanner, f.RuleID) {
		return true
	}
	for _, rep := range f.Reporters {
		if one(rep.Scanner, rep.RuleID) {
			return true
		}
	}
	return false
}

func (r *Rule) label() string {
	if r.Name != "" {
		return fmt.Sprintf("tenant rule %q", r.Name)
	}
	return "tenant rule #" + fmt.Sprint(r.Position)
}

// Evaluate is the rules' decision on f: the built-in decision, then every
// matching tenant rule in the order given (Sort them first), a later rule
// overriding an earlier one. Rules must have been validated.
func Evaluate(f findings.Stored, rules []Rule) Result {
	res := Builtin(f)
	for i := range rules {
		r := &rules[i]
		if !r.Matches(f) {
			continue
		}
		id := r.ID
		switch r.Action {
		case ActionSetDecision:
			res.Decision, res.Confidence, res.RuleID, res.ApprovedBy = r.Decision, 1, &id, r.ApprovedBy
			res.Reasoning = fmt.Sprintf("%s sets %s", r.label(), r.Decision)
		case ActionSuppress:
			res.Decision, res.Confidence, res.RuleID, res.ApprovedBy = Suppress, 1, &id, r.ApprovedBy
			res.Reasoning = r.label() + " suppresses it"
		case ActionSetSeverity:
			res.Severity, res.SeverityRule = r.Severity, &id
			res.Reasoning = fmt.Sprintf("%s; %s sets severity %s", res.Reasoning, r.label(), r.Severity)
		}
	}
	return res
}

// Sort orders rules for evaluation: by position, ties in the order given
// (the store lists them by creation).
func Sort(rules []Rule) {
	slices.SortStableFunc(rules, func(a, b Rule) int { return a.Position - b.Position })
}

// Item is what a model sees of one finding (with the rules' decision).
// Evidence is untrusted scanner output: a Decider fences and truncates it.
type Item struct {
	FindingID        uuid.UUID
	Fingerprint      string
	Scanner          string
	RuleID           string
	Title            string
	Severity         string
	Target           string
	Component        string
	ComponentVersion string
	CVEs             []string
	CWEs             []int32
	KEV              bool
	EPSS             *float64
	Description      string
	Evidence         string
	Rules            Result
}

// ItemOf is the model's view of a finding.
func ItemOf(f findings.Stored, r Result) Item {
	return Item{FindingID: f.ID, Fingerprint: f.Fingerprint, Scanner: f.Scanner, RuleID: f.RuleID, Title: f.Title,
		Severity: string(f.Severity), Target: f.Target, Component: f.Component, ComponentVersion: f.ComponentVersion,
		CVEs: f.CVEs, CWEs: f.CWEs, KEV: f.KEV, EPSS: f.EPSS, Description: f.Description, Evidence: f.Evidence, Rules: r}
}

// Answer is a model's decision on one item.
type Answer struct {
	FindingID     uuid.UUID
	Decision      Decision
	Confidence    float64
	Reasoning     string
	Remediation   string
	Model         string
	PromptVersion string
}

// Decider is the seam a model plugs into (internal/llmtriage): it answers
// for some or all of the items (in any order, at most one answer per item);
// an error or a missing answer leaves the rules' decision standing. The
// implementation decides whether the tenant opted in (no opt-in: no answers).
type Decider interface {
	Decide(ctx context.Context, tenant uuid.UUID, items []Item, examples []Example) ([]Answer, error)
}

// MaxExamples is how many analyst precedents a Decider is given at most.
const MaxExamples = 8

// Example is an analyst's earlier verdict on a finding of the same scanner
// rule or a shared CWE, a precedent for the model. A rejected closing
// decision is shown as valid: the analyst kept the finding open.
type Example struct {
	RuleID   string
	CWEs     []int32
	Title    string
	Decision Decision
	Reason   string
}

// NeverFalsePositive is the one KEV/EPSS guard on a model's answers (Guard
// here, llmtriage.Guard): a finding in CISA's KEV catalogue or with EPSS ≥
// EPSSLikely is never a false positive on a model's word. It reports why, for
// the reasoning, and whether the finding is so guarded.
func NeverFalsePositive(kev bool, epss *float64) (why string, guarded bool) {
	switch {
	case kev:
		return "it is in the CISA KEV catalogue (exploited in the wild)", true
	case epss != nil && *epss >= EPSSLikely:
		return fmt.Sprintf("its EPSS is %.2f (≥ %.1f)", *epss, EPSSLikely), true
	}
	return "", false
}

// Guard bounds a model's answer: a KEV finding or one with EPSS ≥ 0.5 is
// never a false positive (it becomes needs_review), confidence stays in
// 0–1, and an unknown decision is needs_review.
func Guard(it Item, a Answer) Answer {
	if !slices.Contains(Decisions, a.Decision) {
		a.Decision = NeedsReview
	}
	if _, exploited := NeverFalsePositive(it.KEV, it.EPSS); a.Decision == FalsePositive && exploited {
		a.Decision = NeedsReview
		a.Reasoning = "the model proposed a false positive for an exploited or likely exploited CVE; an analyst must review it. " + a.Reasoning
	}
	a.Confidence = min(max(a.Confidence, 0), 1)
	if len(a.Reasoning) > 4000 {
		a.Reasoning = a.Reasoning[:4000]
	}
	return a
}
