package views

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// FindingRow is a finding as the API shows it (GET /api/v1/findings).
type FindingRow struct {
	ID               string     `json:"id"`
	Title            string     `json:"title"`
	Severity         string     `json:"severity"`
	Status           string     `json:"status"`
	CVEs             []string   `json:"cves"`
	CWEs             []int32    `json:"cwes"`
	CVSSScore        float64    `json:"cvss_score"`
	CVSSVector       string     `json:"cvss_vector"`
	Component        string     `json:"component"`
	ComponentVersion string     `json:"component_version"`
	Host             string     `json:"host"`
	Port             int32      `json:"port"`
	Protocol         string     `json:"protocol"`
	URL              string     `json:"url"`
	Target           string     `json:"target"`
	Scanner          string     `json:"scanner"`
	RuleID           string     `json:"rule_id"`
	Description      string     `json:"description"`
	Remediation      string     `json:"remediation"`
	References       []string   `json:"references"`
	Evidence         string     `json:"evidence"`
	FirstSeenAt      time.Time  `json:"first_seen_at"`
	LastSeenAt       time.Time  `json:"last_seen_at"`
	StatusChangedAt  time.Time  `json:"status_changed_at"`
	FixedAt          *time.Time `json:"fixed_at"`
	ScanTarget       string     `json:"scan_target"`
	ReportedBy       string     `json:"reported_by"`
	FirstScanID      *string    `json:"first_scan_id"`
	LastScanID       *string    `json:"last_scan_id"`
	// Exploit intelligence and priority, set by the intel refresh and at
	// ingest (EPSS from FIRST, KEV from CISA).
	EPSS           *float64   `json:"epss,omitempty"`
	EPSSPercentile *float64   `json:"epss_percentile,omitempty"`
	KEV            *bool      `json:"kev,omitempty"`
	KEVDateAdded   *string    `json:"kev_date_added,omitempty"`
	Priority       *int       `json:"priority,omitempty"`
	SLADueAt       *time.Time `json:"sla_due_at,omitempty"`
}

// IsKEV reports whether CISA lists the finding's CVE as exploited.
func (f FindingRow) IsKEV() bool { return f.KEV != nil && *f.KEV }

// PriorityText is the 0–100 priority, or a dash before the first refresh.
func (f FindingRow) PriorityText() string {
	if f.Priority == nil {
		return "–"
	}
	return strconv.Itoa(*f.Priority)
}

// SLAOverdue reports whether the finding is open past its deadline.
func (f FindingRow) SLAOverdue(now time.Time) bool {
	return f.SLADueAt != nil && f.FixedAt == nil && now.After(*f.SLADueAt)
}

// FindingSorts are the list's orders a person can choose.
var FindingSorts = [][2]string{
	{"", "Most recently seen"}, {"-priority", "Highest priority"}, {"-epss", "Most likely exploited (EPSS)"},
	{"-severity", "Most severe"}, {"first_seen_at", "Oldest first"},
}

// FindingOccurrence is one scan that saw the finding.
type FindingOccurrence struct {
	ScanID    string    `json:"scan_id"`
	Target    string    `json:"target"`
	Source    string    `json:"source"`
	Status    string    `json:"scan_status"`
	Change    string    `json:"change"`
	Severity  string    `json:"severity"`
	CreatedAt time.Time `json:"created_at"`
}

// FindingEvent is one triage decision in a finding's history.
type FindingEvent struct {
	Actor      string    `json:"actor"`
	FromStatus string    `json:"from_status"`
	ToStatus   string    `json:"to_status"`
	Comment    string    `json:"comment"`
	CreatedAt  time.Time `json:"created_at"`
}

// FindingDetail is GET /api/v1/findings/{id}.
type FindingDetail struct {
	FindingRow
	Triage      *FindingTriage      `json:"triage"`
	Occurrences []FindingOccurrence `json:"occurrences"`
	Events      []FindingEvent      `json:"events"`
}

// FindingTriage is the latest decision of the Triage workflow on a finding:
// the rules', a model's or an analyst's.
type FindingTriage struct {
	Decision   string   `json:"decision"`
	Confidence *float64 `json:"confidence"`
	Reasoning  string   `json:"reasoning"`
	Source     string   `json:"source"`
	Model      *string  `json:"model"`
	Status     string   `json:"status"` // proposed, approved, rejected
	ApprovedBy *string  `json:"approved_by"`
}

// Waiting reports whether the decision waits for an analyst's verdict.
func (t *FindingTriage) Waiting() bool { return t != nil && t.Status == "proposed" }

// DecisionText is a decision as a person reads it.
func (t *FindingTriage) DecisionText() string {
	switch t.Decision {
	case "valid":
		return "A real issue"
	case "false_positive":
		return "A false positive"
	case "needs_review":
		return "Needs an analyst's review"
	case "suppress":
		return "Suppress"
	}
	return t.Decision
}

// FindingFilter is the list's filter form, as typed.
type FindingFilter struct {
	Severity, Status, Target, Scanner, CVE, Text string
	Limit                                        string
	Sort                                         string // one of FindingSorts
	KEV                                          bool   // only CISA KEV findings
	SLA                                          string // "", "overdue" or "due_soon"
}

// FindingsList is the findings page.
type FindingsList struct {
	Filter     FindingFilter
	Items      []FindingRow
	NextURL    string // "" on the last page
	FirstURL   string // "" on the first page
	Return     string // this page's query, for the bulk form to come back to
	Error      string // the API's words for a filter it refused
	FieldError map[string]string
	CanTriage  bool
	Flash      string
}

// FindingPage is one finding's page.
type FindingPage struct {
	D          FindingDetail
	CanTriage  bool
	Error      string
	FieldError map[string]string
	Status     string // the triage form's typed values
	Comment    string
	// Remembered says which rule a verdict made; FeedbackSaved that the
	// person's feedback on the answer was stored.
	Remembered    string
	FeedbackSaved bool
}

// FindingStatuses are the statuses a list filters by ("unresolved" is new,
// open and reopened).
var FindingStatuses = []string{"unresolved", "new", "open", "reopened", "fixed", "false_positive", "accepted_risk"}

// FindingTriageStatuses are what a person may set.
var FindingTriageStatuses = []string{"open", "false_positive", "accepted_risk", "fixed"}

// FindingStatusLabel is a status as a person reads it.
func FindingStatusLabel(s string) string {
	switch s {
	case "unresolved":
		return "Unresolved (new, open, reopened)"
	case "false_positive":
		return "False positive"
	case "accepted_risk":
		return "Accepted risk"
	case "":
		return "Any status"
	}
	return string(s[0]-32) + s[1:]
}

func findingURL(id string) templ.SafeURL { return templ.SafeURL("/app/findings/" + url.PathEscape(id)) }

func findingWhere(f FindingRow) string {
	host := f.Host
	if host == "" {
		host = f.Target
	}
	if f.Port > 0 {
		host += ":" + strconv.Itoa(int(f.Port))
		if f.Protocol != "" {
			host += "/" + f.Protocol
		}
	}
	if host == "" {
		host = f.ScanTarget
	}
	return host
}

func findingCWEs(cwes []int32) string {
	out := make([]string, len(cwes))
	for i, c := range cwes {
		out[i] = "CWE-" + strconv.Itoa(int(c))
	}
	return strings.Join(out, ", ")
}

func findingTriageSelected(fp FindingPage, s string) bool {
	if fp.Status != "" {
		return fp.Status == s
	}
	return fp.D.Status == s
}

// findingInvalid marks a field the API refused (no attribute otherwise:
// Pico styles aria-invalid="false" as valid).
func findingInvalid(errs map[string]string, field string) templ.Attributes {
	if errs[field] != "" {
		return templ.Attributes{"aria-invalid": "true", "aria-describedby": "err-" + field}
	}
	return templ.Attributes{}
}
