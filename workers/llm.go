package workers

import (
	"context"
	"strconv"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/llmtriage"
	"github.com/secureops/secureops/internal/triagerules"
)

// llmDecider puts internal/llmtriage's client behind the Triage workflow's
// seam (triagerules.Decider): the workflow keeps its own types, the client
// its own; the opt-in, the cache and the retries are the client's.
type llmDecider struct{ c *llmtriage.Client }

func (d llmDecider) Decide(ctx context.Context, tenant uuid.UUID, items []triagerules.Item, examples []triagerules.Example) ([]triagerules.Answer, error) {
	in := make([]llmtriage.Item, len(items))
	for i, it := range items {
		cwes := make([]string, len(it.CWEs))
		for j, c := range it.CWEs {
			cwes[j] = "CWE-" + strconv.Itoa(int(c))
		}
		epss := 0.0
		if it.EPSS != nil {
			epss = *it.EPSS
		}
		in[i] = llmtriage.Item{
			FindingID: it.FindingID, Fingerprint: it.Fingerprint, Scanner: it.Scanner, RuleID: it.RuleID,
			Title: it.Title, Severity: it.Severity, Target: it.Target, Component: it.Component,
			Evidence: it.Evidence, Description: it.Description, CVEs: it.CVEs, CWEs: cwes,
			KEV: it.KEV, EPSS: epss, RulesDecision: string(it.Rules.Decision), RulesReasoning: it.Rules.Reasoning,
		}
	}
	ex := make([]llmtriage.Example, len(examples))
	for i, e := range examples {
		ex[i] = llmtriage.Example{RuleID: e.RuleID, Title: e.Title, Decision: string(e.Decision), Reason: e.Reason}
		if len(e.CWEs) > 0 {
			ex[i].CWE = "CWE-" + strconv.Itoa(int(e.CWEs[0]))
		}
	}
	answers, err := d.c.Decide(ctx, tenant, in, ex...)
	out := make([]triagerules.Answer, len(answers))
	for i, a := range answers {
		out[i] = triagerules.Answer{
			FindingID: a.FindingID, Decision: triagerules.Decision(a.Decision), Confidence: a.Confidence,
			Reasoning: a.Reasoning, Remediation: a.Remediation, Model: a.Model, PromptVersion: a.PromptVersion,
		}
	}
	return out, err
}
