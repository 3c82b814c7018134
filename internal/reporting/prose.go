// Package reporting renders a report (contract report): prose from a Writer
// (a model when one is configured, else RulesWriter), then Markdown
// (text/template), HTML (goldmark, sanitised by bluemonday so nothing a model
// wrote runs in a browser) and PDF (fpdf with an embedded UTF-8 font and a
// severity chart drawn by go-analyze/charts). The numbers come only from
// Facts: a writer's text is prose around them, never their source.
package reporting

import (
	"context"
	"fmt"
	"strings"

	"github.com/secureops/secureops/internal/contract/report"
)

// Facts are a report's numbers (the contract's type).
type Facts = report.Facts

// Writer writes a report's prose (Markdown) from its facts. The seam where a
// model plugs in; nil means RulesWriter.
type Writer interface {
	Prose(ctx context.Context, kind string, facts Facts) (string, error)
}

// Named is a Writer that says who it is (a model's name), for the report's
// provenance; a Writer that is not Named is recorded as "model".
type Named interface{ Name() string }

// SourceRules is the provenance of rules-made prose.
const SourceRules = "rules"

// Source is the provenance recorded for prose w wrote.
func Source(w Writer) string {
	if w == nil {
		return SourceRules
	}
	if _, ok := w.(RulesWriter); ok {
		return SourceRules
	}
	if n, ok := w.(Named); ok && n.Name() != "" {
		return "model:" + n.Name()
	}
	return "model"
}

// RulesWriter writes deterministic prose from the facts alone: the prose of
// every report when no model is configured, or when the model fails.
type RulesWriter struct{}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Prose implements Writer.
func (RulesWriter) Prose(_ context.Context, kind string, f Facts) (string, error) {
	var b strings.Builder
	crit, high := f.OpenBySeverity["critical"], f.OpenBySeverity["high"]
	scope := "During this period"
	if f.ScanID != nil {
		scope = "This scan of " + f.Target
	}
	switch {
	case f.Total == 0:
		fmt.Fprintf(&b, "%s found no findings. ", scopeVerb(scope))
	case crit+high == 0:
		fmt.Fprintf(&b, "%s covers %s, %d of them open; none of the open ones is critical or high. ",
			scope, plural(f.Total, "finding", "findings"), f.Open)
	default:
		fmt.Fprintf(&b, "%s covers %s, %d of them open, including %s and %s that need attention first. ",
			scope, plural(f.Total, "finding", "findings"), f.Open, plural(crit, "critical", "criticals"), plural(high, "high", "highs"))
	}
	if f.KEVOpen > 0 {
		fmt.Fprintf(&b, "%s listed in CISA's Known Exploited Vulnerabilities catalogue: attackers use them today, so they come first whatever their severity. ",
			plural(f.KEVOpen, "open finding is", "open findings are"))
	}
	if f.SLAOverdue > 0 {
		fmt.Fprintf(&b, "%s past its remediation deadline. ", plural(f.SLAOverdue, "finding is", "findings are"))
	}
	if f.New > 0 || f.Fixed > 0 {
		fmt.Fprintf(&b, "%s appeared and %s fixed in the window. ", plural(f.New, "finding", "findings"), plural(f.Fixed, "was", "were"))
	}
	b.WriteString("\n\n")
	if kind == report.KindTechnical {
		if len(f.Top) > 0 {
			t := f.Top[0]
			fmt.Fprintf(&b, "The highest priority open finding is \"%s\" (%s, priority %d", t.Title, t.Severity, t.Priority)
			if t.KEV {
				b.WriteString(", in KEV")
			}
			if t.EPSS != nil {
				fmt.Fprintf(&b, ", EPSS %.2f", *t.EPSS)
			}
			b.WriteString("). Work down the table below in priority order: it weighs severity, exploitation in the wild (KEV) and its likelihood (EPSS).\n")
		} else {
			b.WriteString("No finding is open.\n")
		}
	} else {
		switch {
		case f.KEVOpen > 0 || crit > 0:
			b.WriteString("Recommendation: fix the known exploited and critical findings this week, and review the overdue ones with their owners.\n")
		case f.SLAOverdue > 0 || high > 0:
			b.WriteString("Recommendation: plan the high findings into the next sprint and bring the overdue ones back within their deadline.\n")
		default:
			b.WriteString("Recommendation: keep scanning on schedule; the exposure is low.\n")
		}
	}
	return b.String(), nil
}

func scopeVerb(scope string) string {
	if scope == "During this period" {
		return "This period"
	}
	return scope
}
