package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/portal/views"
	"github.com/secureops/secureops/internal/tiers"
)

func (p *Portal) dashboardRoutes(r chi.Router) {
	r.Get("/app", p.page(p.dashboard))
}

const nilTenant = "00000000-0000-0000-0000-000000000000"

// dashboard shows the acting tenant (and its sub-tenants) at a glance: all
// numbers are the API's (GET /api/v1/dashboard), so the page and the API
// never disagree.
func (p *Portal) dashboard(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	var dv views.DashboardView
	if v.TenantID == "" || v.TenantID == nilTenant {
		// A platform admin acting in no tenant: the dashboard is a tenant's.
		dv.NoTenant = true
		return render(w, r, views.Dashboard(p.pageMeta(r, "Dashboard", v), dv))
	}
	if err := p.get(r, "/api/v1/dashboard", nil, &dv.Data); err != nil {
		return err
	}
	var scans struct {
		Items []views.DashboardScan `json:"items"`
	}
	if err := p.get(r, "/api/v1/scans", url.Values{"limit": {"5"}}, &scans); err != nil {
		return err
	}
	dv.RecentScans = scans.Items
	if v.Can("billing:view") {
		var usage struct {
			Items []views.DashboardUsageEvent `json:"items"`
		}
		if err := p.get(r, "/api/v1/usage", url.Values{"limit": {"5"}}, &usage); err != nil {
			return err
		}
		dv.ShowUsage, dv.UsageEvents = true, usage.Items
	}
	{
		var tree struct {
			Items []*views.DashboardTenantNode `json:"items"`
		}
		if err := p.get(r, "/api/v1/tenants/"+url.PathEscape(v.TenantID)+"/tree", nil, &tree); err != nil && StatusOf(err) != http.StatusNotFound {
			return err
		}
		dv.Tree = dashboardTree(v.TenantID, tree.Items)
	}
	tierName := v.Tier
	if tierName == "" {
		tierName = dv.Data.Usage.Tier
	}
	if t, ok := tiers.Get(tierName); ok {
		dv.Tier = views.DashboardTier{
			Name: t.Name, Title: t.Title, MonthlyPrice: fmt.Sprintf("$%d / month", t.MonthlyCents/100),
			Scanners: t.Scanners, MaxConcurrentScans: t.MaxConcurrentScans,
			MinScheduleInterval: views.Every(t.MinScheduleInterval),
		}
	}
	dv.SeverityChart = severityChart(dv.Data)
	dv.TrendChart = trendChart(dv.Data)
	return render(w, r, views.Dashboard(p.pageMeta(r, "Dashboard", v), dv))
}

// dashboardTree nests the API's flat tree under root; nil when the tenant
// has no sub-tenants.
func dashboardTree(root string, nodes []*views.DashboardTenantNode) *views.DashboardTenantNode {
	byID := map[string]*views.DashboardTenantNode{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	top := byID[root]
	if top == nil {
		return nil
	}
	for _, n := range nodes {
		if n.ParentID == nil || n.ID == root {
			continue
		}
		if parent := byID[*n.ParentID]; parent != nil {
			parent.Children = append(parent.Children, n)
		}
	}
	if len(top.Children) == 0 {
		return nil
	}
	return top
}

func chartJSON(cfg any) string {
	b, err := json.Marshal(cfg)
	if err != nil {
		return "{}"
	}
	return string(b)
}

type chartAxis = map[string]any

// severityChart is the open findings by severity, in severity colours.
func severityChart(d views.DashboardData) string {
	labels := make([]string, 0, len(views.DashSeverities))
	data := make([]int64, 0, len(views.DashSeverities))
	colours := make([]string, 0, len(views.DashSeverities))
	for _, s := range views.DashSeverities {
		labels = append(labels, s)
		data = append(data, d.OpenFindings.BySeverity[s])
		colours = append(colours, views.DashSeverityColours[s])
	}
	return chartJSON(map[string]any{
		"type": "bar",
		"data": map[string]any{
			"labels":   labels,
			"datasets": []any{map[string]any{"label": "Open findings", "data": data, "backgroundColor": colours}},
		},
		"options": map[string]any{
			"animation": false, "responsive": true, "maintainAspectRatio": false,
			"plugins": map[string]any{"legend": map[string]any{"display": false}},
			"scales":  map[string]any{"y": chartAxis{"beginAtZero": true, "ticks": chartAxis{"precision": 0}}},
		},
	})
}

// trendChart is new, reopened and fixed findings per UTC day.
func trendChart(d views.DashboardData) string {
	labels := make([]string, 0, len(d.Trend))
	newer, fixed, reopened := make([]int64, 0, len(d.Trend)), make([]int64, 0, len(d.Trend)), make([]int64, 0, len(d.Trend))
	for _, day := range d.Trend {
		labels = append(labels, day.Date)
		newer = append(newer, day.New)
		fixed = append(fixed, day.Fixed)
		reopened = append(reopened, day.Reopened)
	}
	line := func(label, colour string, data []int64) map[string]any {
		return map[string]any{"label": label, "data": data, "borderColor": colour, "backgroundColor": colour, "tension": 0.2, "pointRadius": 2}
	}
	return chartJSON(map[string]any{
		"type": "line",
		"data": map[string]any{
			"labels": labels,
			"datasets": []any{
				line("New", views.DashSeverityColours["high"], newer),
				line("Fixed", "#2f9e44", fixed),
				line("Reopened", views.DashSeverityColours["medium"], reopened),
			},
		},
		"options": map[string]any{
			"animation": false, "responsive": true, "maintainAspectRatio": false,
			"interaction": map[string]any{"mode": "index", "intersect": false},
			"scales":      map[string]any{"y": chartAxis{"beginAtZero": true, "ticks": chartAxis{"precision": 0}}},
		},
	})
}
