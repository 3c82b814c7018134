package views

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DashboardData is GET /api/v1/dashboard as the page reads it.
type DashboardData struct {
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	GeneratedAt  time.Time `json:"generated_at"`
	OpenFindings struct {
		Total      int64            `json:"total"`
		BySeverity map[string]int64 `json:"by_severity"`
	} `json:"open_findings"`
	Trend []DashboardTrendDay `json:"trend"`
	MTTR  struct {
		Fixed int64    `json:"fixed"`
		Hours *float64 `json:"hours"`
	} `json:"mttr"`
	SLA struct {
		Days       map[string]int                  `json:"days"`
		Overrides  map[string]int                  `json:"overrides"`
		BySeverity map[string]DashboardSLASeverity `json:"by_severity"`
	} `json:"sla"`
	Scans struct {
		Total    int64            `json:"total"`
		ByStatus map[string]int64 `json:"by_status"`
		BySource map[string]int64 `json:"by_source"`
	} `json:"scans"`
	Usage struct {
		Tier                string           `json:"tier"`
		ConcurrentScanLimit int              `json:"concurrent_scan_limit"`
		Running             int64            `json:"running"`
		Queued              int64            `json:"queued"`
		Scans               int64            `json:"scans"`
		ScanSeconds         float64          `json:"scan_seconds"`
		BySource            map[string]int64 `json:"by_source"`
	} `json:"usage"`
	TopTargets []DashboardTargetRisk `json:"top_targets"`
}

// DashboardTrendDay is one UTC day of the trend.
type DashboardTrendDay struct {
	Date     string `json:"date"`
	New      int64  `json:"new"`
	Reopened int64  `json:"reopened"`
	Fixed    int64  `json:"fixed"`
}

// DashboardSLASeverity is one severity's SLA state.
type DashboardSLASeverity struct {
	Days              int      `json:"days"`
	Open              int64    `json:"open"`
	WithinSLA         int64    `json:"within_sla"`
	Overdue           int64    `json:"overdue"`
	OldestOverdueDays *float64 `json:"oldest_overdue_days"`
}

// DashboardTargetRisk is one of the riskiest targets.
type DashboardTargetRisk struct {
	Target   string           `json:"target"`
	TargetID *string          `json:"target_id"`
	TenantID string           `json:"tenant_id"`
	Risk     int64            `json:"risk"`
	Open     map[string]int64 `json:"open"`
}

// DashboardTenantNode is a tenant of the sub-tenant tree, its children nested.
type DashboardTenantNode struct {
	ID       string                 `json:"id"`
	ParentID *string                `json:"parent_id"`
	Name     string                 `json:"name"`
	Slug     string                 `json:"slug"`
	Tier     string                 `json:"tier"`
	Status   string                 `json:"status"`
	Depth    int                    `json:"depth"`
	Children []*DashboardTenantNode `json:"-"`
}

// DashboardScan is one recent scan.
type DashboardScan struct {
	ID            string         `json:"id"`
	Target        string         `json:"target"`
	Source        string         `json:"source"`
	Scanners      []string       `json:"scanners"`
	Status        string         `json:"status"`
	CreatedAt     time.Time      `json:"created_at"`
	FindingsTotal int            `json:"findings_total"`
	Counts        map[string]int `json:"counts"`
}

// DashboardUsageEvent is one billed scan (GET /api/v1/usage).
type DashboardUsageEvent struct {
	ScanID     string    `json:"scan_id"`
	Source     string    `json:"source"`
	Target     string    `json:"target"`
	Status     string    `json:"status"`
	DurationMS int64     `json:"duration_ms"`
	Findings   int32     `json:"findings"`
	CreatedAt  time.Time `json:"created_at"`
}

// DashboardTier is the acting tenant's plan and its limits (the catalogue).
type DashboardTier struct {
	Name, Title         string
	MonthlyPrice        string
	Scanners            []string
	MaxConcurrentScans  int
	MinScheduleInterval string
}

// DashboardView is everything the dashboard shows.
type DashboardView struct {
	Data          DashboardData
	SeverityChart string // Chart.js config JSON
	TrendChart    string
	Tree          *DashboardTenantNode // nil: no sub-tenants to show
	RecentScans   []DashboardScan
	ShowUsage     bool // billing:view
	UsageEvents   []DashboardUsageEvent
	Tier          DashboardTier
	NoTenant      bool // a platform admin acting in no tenant
}

// DashSeverities in the order pages list them.
var DashSeverities = []string{"critical", "high", "medium", "low", "info"}

// DashSeverityColours match app.css's --sev-* variables.
var DashSeverityColours = map[string]string{
	"critical": "#b3261e", "high": "#d9480f", "medium": "#b08800", "low": "#1971c2", "info": "#5c6370",
}

// slaSeverities have a remediation deadline.
var dashboardSLASeverities = []string{"critical", "high", "medium", "low"}

func dashboardDuration(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
}

// DashUTC is a time as pages show it: UTC, minutes.
func DashUTC(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// DashAgo is a relative hint beside a UTC time.
func DashAgo(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func dashQueryEscape(s string) string { return url.QueryEscape(s) }

func dashboardSeverityLabel(d DashboardData) string {
	parts := make([]string, 0, len(DashSeverities))
	for _, s := range DashSeverities {
		parts = append(parts, fmt.Sprintf("%s %d", s, d.OpenFindings.BySeverity[s]))
	}
	return "Open findings by severity: " + strings.Join(parts, ", ")
}
