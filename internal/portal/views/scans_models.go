package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ScanInfo is a scan as the pages show it (the API's scan JSON).
type ScanInfo struct {
	ID              string         `json:"id"`
	TargetID        *string        `json:"target_id"`
	Source          string         `json:"source"`
	Target          string         `json:"target"`
	Scanners        []string       `json:"scanners"`
	Status          string         `json:"status"`
	Progress        int            `json:"progress"`
	ProgressMessage string         `json:"progress_message"`
	WorkflowID      string         `json:"workflow_id"`
	Error           *string        `json:"error"`
	CreatedAt       time.Time      `json:"created_at"`
	StartedAt       *time.Time     `json:"started_at"`
	FinishedAt      *time.Time     `json:"finished_at"`
	Counts          map[string]int `json:"counts"`
	FindingsTotal   int            `json:"findings_total"`
	Diff            map[string]int `json:"diff"`
}

// Ended reports whether the scan is over (nothing more will change).
func (s ScanInfo) Ended() bool {
	return s.Status == "completed" || s.Status == "failed" || s.Status == "cancelled"
}

// ScanSeverities in the order pages list them.
var ScanSeverities = []string{"critical", "high", "medium", "low", "info"}

// ScannerStep is one scanner's part of a scan, as far as the scan's
// progress tells it.
type ScannerStep struct {
	Scanner string
	State   string // pending, running, done, failed, cancelled
}

// Steps derives each scanner's state from the scan's status and its
// progress message ("<scanner> running"): the scanners run in order.
func (s ScanInfo) Steps() []ScannerStep {
	cur := -1
	for i, name := range s.Scanners {
		if s.ProgressMessage == name+" running" || s.ProgressMessage == name {
			cur = i
		}
	}
	out := make([]ScannerStep, len(s.Scanners))
	for i, name := range s.Scanners {
		st := "pending"
		switch {
		case s.Status == "completed":
			st = "done"
		case cur >= 0 && i < cur:
			st = "done"
		case cur >= 0 && i == cur:
			switch s.Status {
			case "running":
				st = "running"
			case "failed":
				st = "failed"
			case "cancelled":
				st = "cancelled"
			}
		case s.Status == "cancelled" || s.Status == "failed":
			st = "stopped"
		}
		out[i] = ScannerStep{Scanner: name, State: st}
	}
	return out
}

// StatusText is the scan's status as a person reads it.
func (s ScanInfo) StatusText() string {
	switch s.Status {
	case "queued":
		return "Queued"
	case "running":
		return "Running"
	case "completed":
		return "Completed"
	case "failed":
		return "Failed"
	case "cancelled":
		return "Cancelled"
	}
	return s.Status
}

// Message is what the scan is doing now, for a person.
func (s ScanInfo) Message() string {
	switch {
	case s.Status == "queued" && s.ProgressMessage == "":
		return "Waiting to start"
	case s.Status == "completed":
		return "Finished"
	case s.Status == "cancelled":
		return "Cancelled by request"
	case s.Status == "failed":
		if s.Error != nil && *s.Error != "" {
			return *s.Error
		}
		return "The scan failed"
	case s.ProgressMessage != "":
		return s.ProgressMessage
	}
	return "Starting"
}

// Percent is the progress bar's value (100 when completed).
func (s ScanInfo) Percent() int {
	if s.Status == "completed" {
		return 100
	}
	return min(max(s.Progress, 0), 100)
}

// Count is the scan's findings of one severity.
func (s ScanInfo) Count(sev string) int { return s.Counts[sev] }

// ScanStatusClass maps a status to app.css' pill colours.
func ScanStatusClass(status string) string {
	switch status {
	case "completed", "verified", "not_required", "active", "done":
		return "pill pill-ok"
	case "running", "pending":
		return "pill pill-running"
	case "failed":
		return "pill pill-failed"
	case "cancelled", "paused", "stopped":
		return "pill pill-cancelled"
	}
	return "pill pill-queued"
}

// ScanLive is the live part of a scan's page (or list row).
type ScanLive struct {
	Scan ScanInfo
	// Row is the compact form in the scans list.
	Row bool
	// Note replaces live updates that stopped ("" while they go on).
	Note string
	// Final is the stream's last fragment: it loads the scan's changes.
	Final bool
	// CanCancel shows the cancel button while the scan runs (scans:start).
	CanCancel bool
}

// ElemID is the live container's id.
func (l ScanLive) ElemID() string {
	if l.Row {
		return "scan-row-live-" + l.Scan.ID
	}
	return "scan-live"
}

// StreamURL is where the page follows the scan.
func (l ScanLive) StreamURL() string {
	u := "/app/scans/" + l.Scan.ID + "/live"
	if l.Row {
		u += "?view=row"
	}
	return u
}

// ChoiceOption is one choice of a select.
type ChoiceOption struct{ Value, Label string }

// ScannerChoice is one scanner a person may pick.
type ScannerChoice struct{ Name, About string }

// ScannerChoices are the scanners the forms offer; the API refuses those
// the target's kind or the tenant's plan does not allow.
var ScannerChoices = []ScannerChoice{
	{"nmap", "ports and services"},
	{"secureops", "SecureOps' own web checks"},
	{"nikto", "web server checks"},
	{"nuclei", "known vulnerabilities by template"},
	{"zap", "web application scan"},
	{"trivy", "container images only"},
}

// ScanForm is the start-a-scan form with what was typed and the API's
// refusal.
type ScanForm struct {
	TargetID string
	Scanners map[string]bool
	Errors   map[string]string
	Error    string
}

// ScansPage is /app/scans.
type ScansPage struct {
	Scans      []ScanInfo
	Targets    []ChoiceOption
	NextCursor string
	Paged      bool // showing an older page
	Form       ScanForm
	// Notes replace live updates for the running scans beyond the first
	// few (a browser holds a few connections per site), by scan id.
	Notes map[string]string
}

// ScanFinding is one finding of a scan's changes.
type ScanFinding struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Status   string `json:"status"`
	Host     string `json:"host"`
	Port     int32  `json:"port"`
	Scanner  string `json:"scanner"`
	Change   string `json:"change"`
}

// Where is the finding's host and port.
func (f ScanFinding) Where() string {
	if f.Port != 0 {
		return f.Host + ":" + strconv.Itoa(int(f.Port))
	}
	return f.Host
}

// ScanChange is one list of the scan's diff.
type ScanChange struct {
	Change   string // new, fixed, reopened
	Title    string
	Empty    string
	Total    int
	Findings []ScanFinding
	More     bool
}

// ScanPage is /app/scans/{id}.
type ScanPage struct {
	Scan        ScanInfo
	Changes     []ScanChange
	WorkflowURL string // the Temporal Web UI (platform admins)
}

// ScanTime writes a time in UTC with a relative hint.
func ScanTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC") + " (" + ScanAgo(t) + ")"
}

// ScanTimePtr is ScanTime for an optional time.
func ScanTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return ScanTime(*t)
}

// ScanAgo is a relative time: "3 min ago", "in 2 h".
func ScanAgo(t time.Time) string {
	d := time.Since(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		if future {
			return "in under a minute"
		}
		return "just now"
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// ScanJoined lists names for a table cell.
func ScanJoined(names []string) string { return strings.Join(names, ", ") }
