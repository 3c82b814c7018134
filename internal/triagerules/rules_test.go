package triagerules

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/findings"
)

func ptr[T any](v T) *T { return &v }

func TestBuiltin(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    findings.Stored
		want Decision
		in   string // in the reasoning
	}{
		{"kev", findings.Stored{Severity: "medium", KEV: true, CVEs: []string{"CVE-2021-44228"}}, Valid, "KEV"},
		{"kev beats noisy", findings.Stored{Severity: "low", KEV: true, Scanner: "nuclei", RuleID: "tech-detect"}, Valid, "KEV"},
		{"epss high", findings.Stored{Severity: "low", EPSS: ptr(0.5)}, Valid, "EPSS 0.50"},
		{"epss low", findings.Stored{Severity: "low", EPSS: ptr(0.49)}, NeedsReview, "no rule"},
		{"info banner", findings.Stored{Severity: "info", Scanner: "nmap", RuleID: "banner", Title: "OpenSSH banner"}, Valid, "informational"},
		{"noisy nuclei", findings.Stored{Severity: "medium", Scanner: "nuclei", RuleID: "http-missing-security-headers:x-frame-options"}, NeedsReview, "noisy"},
		{"noisy zap", findings.Stored{Severity: "low", Scanner: "ZAP", RuleID: "10021"}, NeedsReview, "noisy"},
		{"high with cve", findings.Stored{Severity: "high", CVEs: []string{"CVE-2023-1"}}, Valid, "high severity"},
		{"cvss 7", findings.Stored{Severity: "medium", CVSSScore: 7}, Valid, "CVSS 7.0"},
		{"package cve", findings.Stored{Severity: "medium", CVEs: []string{"CVE-2023-2"}, Component: "openssl", ComponentVersion: "3.0.1"}, Valid, "openssl 3.0.1"},
		{"nothing", findings.Stored{Severity: "medium", Scanner: "zap", RuleID: "40012"}, NeedsReview, "no rule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Builtin(tc.f)
			if r.Decision != tc.want || !strings.Contains(r.Reasoning, tc.in) {
				t.Errorf("Builtin = %+v, want %s with %q", r, tc.want, tc.in)
			}
			if r.Decision.Closes() {
				t.Errorf("a built-in rule closed a finding: %+v", r)
			}
			if r.Confidence <= 0 || r.Confidence > 1 || strings.Contains(r.Reasoning, "\n") {
				t.Errorf("confidence %v or reasoning %q not one line", r.Confidence, r.Reasoning)
			}
		})
	}
}

func rule(t *testing.T, r Rule) Rule {
	t.Helper()
	if r.ID == uuid.Nil {
		r.ID = uuid.New()
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate(%+v): %v", r, err)
	}
	return r
}

func TestRuleMatches(t *testing.T) {
	f := findings.Stored{Scanner: "trivy", RuleID: "CVE-2023-44487", Title: "HTTP/2 Rapid Reset in golang.org/x/net",
		CVEs: []string{"CVE-2023-44487"}, CWEs: []int32{400}, Target: "docker.io/library/app:1",
		ScanTarget: "image:docker.io/library/app:1", Severity: "high"}
	for _, tc := range []struct {
		name string
		r    Rule
		want bool
	}{
		{"scanner", Rule{Scanner: "Trivy"}, true},
		{"other scanner", Rule{Scanner: "zap"}, false},
		{"rule id exact", Rule{RuleID: "cve-2023-44487"}, true},
		{"rule id prefix", Rule{RuleID: "CVE-2023-*"}, true},
		{"rule id other", Rule{RuleID: "CVE-2024-*"}, false},
		{"cve", Rule{CVE: "cve-2023-44487"}, true},
		{"cwe", Rule{CWE: 400}, true},
		{"other cwe", Rule{CWE: 79}, false},
		{"target prefix", Rule{Target: "image:docker.io/library/*"}, true},
		{"target exact", Rule{Target: "docker.io/library/app:1"}, true},
		{"title substring", Rule{Title: "rapid reset"}, true},
		{"title regex", Rule{Title: `^http/\d rapid`, TitleRegex: true}, true},
		{"title regex miss", Rule{Title: `^rapid`, TitleRegex: true}, false},
		{"all conditions", Rule{Scanner: "trivy", CVE: "CVE-2023-44487", Title: "nope"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Action = ActionSuppress
			r := rule(t, tc.r)
			if got := r.Matches(f); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRuleValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Rule
	}{
		{"no condition", Rule{Action: ActionSuppress}},
		{"unknown action", Rule{Scanner: "zap", Action: "delete"}},
		{"decision missing", Rule{Scanner: "zap", Action: ActionSetDecision}},
		{"decision suppress", Rule{Scanner: "zap", Action: ActionSetDecision, Decision: Suppress}},
		{"severity bad", Rule{Scanner: "zap", Action: ActionSetSeverity, Severity: "urgent"}},
		{"bad regex", Rule{Title: "(", TitleRegex: true, Action: ActionSuppress}},
		{"long title", Rule{Title: strings.Repeat("a", MaxTitleLen+1), Action: ActionSuppress}},
		{"negative position", Rule{Scanner: "zap", Action: ActionSuppress, Position: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.r.Validate(); err == nil {
				t.Errorf("Validate(%+v) accepted", tc.r)
			}
		})
	}
	// An unvalidated regex rule never matches (nothing compiled it).
	r := Rule{Title: ".*", TitleRegex: true, Action: ActionSuppress}
	if r.Matches(findings.Stored{Title: "x"}) {
		t.Error("an uncompiled expression matched")
	}
}

// Tenant rules apply in position order, a later match overriding an
// earlier one; severity and decision actions compose.
func TestEvaluateOrder(t *testing.T) {
	f := findings.Stored{Scanner: "zap", RuleID: "40012", Title: "Cross Site Scripting (Reflected)", Severity: "high",
		ScanTarget: "https://lab.example.com", Target: "https://lab.example.com/q"}
	fp := rule(t, Rule{Position: 10, Name: "lab", Target: "https://lab.example.com*", Action: ActionSetDecision, Decision: FalsePositive})
	valid := rule(t, Rule{Position: 20, Name: "xss is real", Title: "cross site", Action: ActionSetDecision, Decision: Valid})
	sev := rule(t, Rule{Position: 5, Name: "lower", Scanner: "zap", Action: ActionSetSeverity, Severity: "low"})
	sup := rule(t, Rule{Position: 30, Name: "quiet", RuleID: "40012", Action: ActionSuppress})

	for _, tc := range []struct {
		name     string
		rules    []Rule
		want     Decision
		severity string
		rule     *Rule
	}{
		{"none", nil, NeedsReview, "", nil},
		{"fp", []Rule{fp}, FalsePositive, "", &fp},
		{"later overrides", []Rule{valid, fp}, Valid, "", &valid},
		{"severity composes", []Rule{fp, sev}, FalsePositive, "low", &fp},
		{"suppress last", []Rule{sup, fp, valid, sev}, Suppress, "low", &sup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := append([]Rule(nil), tc.rules...)
			Sort(rs)
			r := Evaluate(f, rs)
			if r.Decision != tc.want || r.Severity != tc.severity {
				t.Fatalf("Evaluate = %+v, want %s severity %q", r, tc.want, tc.severity)
			}
			if tc.rule == nil {
				if r.RuleID != nil {
					t.Errorf("rule id %v, want built in", r.RuleID)
				}
			} else if r.RuleID == nil || *r.RuleID != tc.rule.ID || !strings.Contains(r.Reasoning, tc.rule.Name) {
				t.Errorf("Evaluate = %+v, want rule %s", r, tc.rule.Name)
			}
			if r.Decision.Closes() != (r.Decision.RowStatus() == StatusProposed) {
				t.Errorf("row status %s for %s", r.Decision.RowStatus(), r.Decision)
			}
		})
	}
	if FalsePositive.FindingStatus() != "false_positive" || Suppress.FindingStatus() != "accepted_risk" || Valid.FindingStatus() != "" {
		t.Error("FindingStatus")
	}
}

func TestGuard(t *testing.T) {
	kev := Item{KEV: true}
	likely := Item{EPSS: ptr(0.7)}
	plain := Item{EPSS: ptr(0.1)}
	for _, tc := range []struct {
		name string
		it   Item
		a    Answer
		want Decision
		conf float64
	}{
		{"kev fp", kev, Answer{Decision: FalsePositive, Confidence: 0.9}, NeedsReview, 0.9},
		{"likely fp", likely, Answer{Decision: FalsePositive, Confidence: 0.9}, NeedsReview, 0.9},
		{"plain fp", plain, Answer{Decision: FalsePositive, Confidence: 2}, FalsePositive, 1},
		{"unknown", plain, Answer{Decision: "delete", Confidence: -1}, NeedsReview, 0},
		{"valid", kev, Answer{Decision: Valid, Confidence: 0.4}, Valid, 0.4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Guard(tc.it, tc.a)
			if got.Decision != tc.want || got.Confidence != tc.conf {
				t.Errorf("Guard = %+v, want %s %v", got, tc.want, tc.conf)
			}
		})
	}
}

// A closing decision waits for an analyst unless the rule that set it
// carries a standing approval; a later rule without one takes it away; a
// severity rule is named apart from the decision's rule.
func TestStandingApproval(t *testing.T) {
	f := findings.Stored{Severity: "high", Scanner: "trivy", RuleID: "CVE-2020-28196", ScanTarget: "image:a", CVEs: []string{"CVE-2020-28196"}}
	approved := Rule{ID: uuid.New(), Position: 1, Scanner: "trivy", RuleID: "CVE-2020-28196", Target: "image:a",
		Action: ActionSetDecision, Decision: FalsePositive, ApprovedBy: "user:1"}
	plain := Rule{ID: uuid.New(), Position: 2, CVE: "CVE-2020-28196", Action: ActionSuppress}
	sev := Rule{ID: uuid.New(), Position: 3, Scanner: "trivy", Action: ActionSetSeverity, Severity: "low"}
	other := approved
	other.Target = "image:b"
	for _, r := range []*Rule{&approved, &plain, &sev, &other} {
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	res := Evaluate(f, []Rule{approved, sev})
	if res.RowStatus() != StatusApproved || res.ApprovedBy != "user:1" || *res.RuleID != approved.ID || *res.SeverityRule != sev.ID || res.Severity != "low" {
		t.Fatalf("approved rule: %+v", res)
	}
	if res := Evaluate(f, []Rule{approved, plain}); res.RowStatus() != StatusProposed || res.ApprovedBy != "" || res.Decision != Suppress {
		t.Fatalf("a later plain rule: %+v", res)
	}
	if res := Evaluate(f, []Rule{other}); res.RowStatus() != StatusApproved || res.Decision != Valid || res.RuleID != nil {
		t.Fatalf("another target's rule: %+v", res)
	}
	valid := Rule{ID: uuid.New(), Scanner: "trivy", Action: ActionSetDecision, Decision: Valid, ApprovedBy: "user:2"}
	_ = valid.Validate()
	if res := Evaluate(f, []Rule{valid}); res.RowStatus() != StatusApproved || res.Decision.Closes() {
		t.Fatalf("approved valid: %+v", res)
	}
}

// A finding two scanners reported matches a rule written for either.
func TestRuleMatchesAnyReporter(t *testing.T) {
	f := findings.Stored{Severity: "medium", Scanner: "nikto", RuleID: "999975", ScanTarget: "https://app.test",
		Reporters: []findings.Reporter{{Scanner: "nikto", RuleID: "999975"}, {Scanner: "secureops", RuleID: "missing-x-frame-options"}}}
	r := Rule{Scanner: "secureops", RuleID: "missing-x-frame-*", Action: ActionSuppress}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if !r.Matches(f) {
		t.Error("a rule for the second reporter does not match")
	}
	mixed := Rule{Scanner: "nikto", RuleID: "missing-x-frame-*", Action: ActionSuppress}
	_ = mixed.Validate()
	if mixed.Matches(f) {
		t.Error("the scanner of one reporter and the rule of another match together")
	}
}
