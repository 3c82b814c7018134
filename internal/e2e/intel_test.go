package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/contract/intel"
	"github.com/secureops/secureops/internal/threatintel"
)

// kevFeed serves a KEV catalogue with an ETag, answering If-None-Match with
// 304; next swaps in another catalogue.
type kevFeed struct {
	body atomic.Pointer[[]byte]
	tag  atomic.Pointer[string]
	hits atomic.Int32
	nots atomic.Int32
}

func (f *kevFeed) set(body []byte, tag string) { f.body.Store(&body); f.tag.Store(&tag) }

func (f *kevFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	tag := *f.tag.Load()
	if r.Header.Get("If-None-Match") == tag {
		f.nots.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", tag)
	_, _ = w.Write(*f.body.Load())
}

// withKEV is the embedded catalogue plus extra entries added today.
func withKEV(t *testing.T, released time.Time, extra ...string) []byte {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(threatintel.EmbeddedKEV(), &c); err != nil {
		t.Fatal(err)
	}
	c["catalogVersion"] = released.Format("2006.01.02")
	c["dateReleased"] = released.Format(time.RFC3339)
	vs := c["vulnerabilities"].([]any)
	for _, cve := range extra {
		vs = append(vs, map[string]any{"cveID": cve, "vendorProject": "Acme", "product": "libpng", "vulnerabilityName": "Test",
			"dateAdded": released.Format(time.DateOnly), "knownRansomwareCampaignUse": "Known"})
	}
	c["vulnerabilities"] = vs
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitRefreshes waits until n IntelRefresh runs completed and returns the
// newest.
func (p *platform) waitRefreshes(t *testing.T, n int) *workflowpb.WorkflowExecutionInfo {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := p.temporal.ListWorkflow(context.Background(), listReq("WorkflowType = '"+intel.WorkflowName+"'"))
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		var newest *workflowpb.WorkflowExecutionInfo
		for _, e := range resp.Executions {
			switch e.Status {
			case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
				done++
				if newest == nil || e.StartTime.AsTime().After(newest.StartTime.AsTime()) {
					newest = e
				}
			case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
				err := p.temporal.GetWorkflow(context.Background(), e.Execution.GetWorkflowId(), e.Execution.GetRunId()).Get(context.Background(), nil)
				t.Fatalf("the intel refresh %s ended %v: %v", e.Execution.GetWorkflowId(), e.Status, err)
			}
		}
		if done >= n {
			return newest
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d intel refreshes completed, want %d", done, n)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

type listedFinding struct {
	ID             string   `json:"id"`
	Title          string   `json:"title"`
	Severity       string   `json:"severity"`
	CVEs           []string `json:"cves"`
	KEV            bool     `json:"kev"`
	KEVDateAdded   *string  `json:"kev_date_added"`
	EPSS           *float64 `json:"epss"`
	EPSSPercentile *float64 `json:"epss_percentile"`
	Priority       *int     `json:"priority"`
	SLADueAt       *string  `json:"sla_due_at"`
	FirstSeenAt    string   `json:"first_seen_at"`
}

func (p *platform) findings(t *testing.T, query string) ([]listedFinding, int) {
	t.Helper()
	var all []listedFinding
	cursor := ""
	for page := 0; page < 20; page++ {
		q := query
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		req, _ := http.NewRequest("GET", p.api.URL+"/api/v1/findings?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+p.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Items      []listedFinding `json:"items"`
			NextCursor *string         `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, resp.StatusCode
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, body.Items...)
		if body.NextCursor == nil {
			return all, resp.StatusCode
		}
		cursor = *body.NextCursor
	}
	t.Fatalf("%s: the cursor does not end", query)
	return nil, 0
}

// The intel refresh end to end: the schedule's first run loads KEV (the
// embedded copy, then the feed); an imported Trivy report's findings carry
// KEV, priority and deadline at once; the API sorts and filters by them;
// a CVE the feed adds later alerts the tenant once (email + finding.kev
// delivery), and a run with nothing new (304) alerts nothing.
func TestIntelRefreshEndToEnd(t *testing.T) {
	feed := &kevFeed{}
	feed.set(threatintel.EmbeddedKEV(), `"kev-1"`)
	srv := httptest.NewServer(feed)
	defer srv.Close()
	p := startWith(t, options{configure: func(c *config.Config) { c.KEVURL = srv.URL + "/kev.json" }})
	ctx := context.Background()
	first := p.waitRefreshes(t, 1)

	super, err := pgx.Connect(ctx, p.superDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	var kevRows int
	var etag string
	if err := super.QueryRow(ctx, "SELECT rows, etag FROM intel_sources WHERE name = 'kev'").Scan(&kevRows, &etag); err != nil || kevRows != 1404 || etag != `"kev-1"` {
		t.Fatalf("KEV source: %d rows, etag %q, %v", kevRows, etag, err)
	}

	code, body := p.upload(t, map[string]string{"scanner": "trivy", "target": "image:registry.acme.test/app:1"}, fixture(t, "trivy/scheme_2_many_vulns.json"))
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	if sc := p.waitScan(t, body["id"].(string)); sc["status"] != "completed" {
		t.Fatalf("import: %v", sc)
	}

	// Sorted by priority, paged two at a time: the KEV medium first among
	// the mediums, above the non-KEV mediums.
	all, code := p.findings(t, "sort=-priority&limit=2")
	if code != http.StatusOK || len(all) != 5 {
		t.Fatalf("sort=-priority: %d, %d findings", code, len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Priority == nil || all[i-1].Priority == nil || *all[i].Priority > *all[i-1].Priority {
			t.Fatalf("not sorted by priority: %+v", all)
		}
	}
	asc, _ := p.findings(t, "sort=priority&limit=3")
	if len(asc) != 5 || *asc[0].Priority > *asc[4].Priority {
		t.Fatalf("sort=priority: %+v", asc)
	}
	var kevMedium *listedFinding
	for i, f := range all {
		if f.Priority == nil || f.SLADueAt == nil {
			t.Fatalf("%s has no priority or deadline: %+v", f.Title, f)
		}
		if f.KEV {
			kevMedium = &all[i]
		}
	}
	if kevMedium == nil || kevMedium.Severity != "medium" || kevMedium.CVEs[0] != "CVE-2020-15999" || kevMedium.KEVDateAdded == nil {
		t.Fatalf("the KEV finding: %+v", kevMedium)
	}
	for _, f := range all {
		if !f.KEV && (f.Severity == "medium" || f.Severity == "low") && *f.Priority >= *kevMedium.Priority {
			t.Errorf("non-KEV %s %s (priority %d) not below the KEV medium (%d)", f.Severity, f.Title, *f.Priority, *kevMedium.Priority)
		}
	}
	seen, _ := time.Parse(time.RFC3339Nano, kevMedium.FirstSeenAt)
	due, _ := time.Parse(time.RFC3339Nano, *kevMedium.SLADueAt)
	if !due.Equal(seen.AddDate(0, 0, 7)) {
		t.Errorf("KEV medium due %v, want first seen + 7 critical days (%v)", due, seen.AddDate(0, 0, 7))
	}
	if kev, _ := p.findings(t, "kev=true"); len(kev) != 1 || kev[0].ID != kevMedium.ID {
		t.Errorf("kev=true: %+v", kev)
	}
	if notKEV, _ := p.findings(t, "kev=false"); len(notKEV) != 4 {
		t.Errorf("kev=false: %d findings", len(notKEV))
	}
	code, detail := p.do(t, "GET", "/api/v1/findings/"+kevMedium.ID, "", "")
	if code != http.StatusOK || detail["kev"] != true || detail["priority"] == nil || detail["kev_date_added"] != *kevMedium.KEVDateAdded {
		t.Errorf("detail: %d %v", code, detail)
	}

	// EPSS and SLA filters, on values set in the database.
	var critical, high string
	for _, f := range all {
		switch f.Severity {
		case "critical":
			critical = f.ID
		case "high":
			high = f.ID
		}
	}
	if _, err := super.Exec(ctx, `UPDATE findings SET epss = CASE WHEN id = $1 THEN 0.91 ELSE 0.02 END,
		sla_due_at = CASE WHEN id = $1 THEN now() - interval '1 day' WHEN id = $2 THEN now() + interval '2 days' ELSE sla_due_at END`, critical, high); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{"epss_min=0.5": critical, "sla=overdue": critical, "sla=due_soon": high} {
		if got, code := p.findings(t, q); code != http.StatusOK || len(got) != 1 || got[0].ID != want {
			t.Errorf("%s: %d %+v, want only %s", q, code, got, want)
		}
	}
	if got, _ := p.findings(t, "sort=-epss"); len(got) != 5 || got[0].ID != critical {
		t.Errorf("sort=-epss: %+v", got)
	}
	for _, q := range []string{"kev=maybe", "epss_min=2", "epss_min=x", "sla=late", "sort=-epss_percentile"} {
		if _, code := p.findings(t, q); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}

	// A CVE of the report enters KEV: the next refresh alerts the tenant's
	// owner once (email) and enqueues one finding.kev delivery.
	var user string
	if err := super.QueryRow(ctx, "INSERT INTO users (id, email) VALUES (gen_random_uuid(), 'owner@acme.test') RETURNING id").Scan(&user); err != nil {
		t.Fatal(err)
	}
	if _, err := super.Exec(ctx, "INSERT INTO memberships (user_id, tenant_id, role) VALUES ($1, $2, 'client_owner')", user, p.tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := super.Exec(ctx, "INSERT INTO webhooks (tenant_id, url, secret, events) VALUES ($1, 'https://hooks.acme.test/kev', repeat('s', 32), '{finding.kev}')", p.tenant); err != nil {
		t.Fatal(err)
	}
	var criticalCVE string
	for _, f := range all {
		if f.ID == critical {
			criticalCVE = f.CVEs[0]
		}
	}
	feed.set(withKEV(t, time.Now().UTC(), criticalCVE), `"kev-2"`)
	h := p.temporal.ScheduleClient().GetHandle(ctx, intel.ScheduleID)
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}); err != nil {
		t.Fatal(err)
	}
	second := p.waitRefreshes(t, 2)
	if second.Execution.GetRunId() == first.Execution.GetRunId() {
		t.Fatal("no second refresh")
	}
	var alerts, deliveries, emails int
	_ = super.QueryRow(ctx, "SELECT count(*) FROM finding_alerts WHERE tenant_id = $1", p.tenant).Scan(&alerts)
	_ = super.QueryRow(ctx, "SELECT count(*) FROM webhook_deliveries WHERE tenant_id = $1 AND event_type = 'finding.kev'", p.tenant).Scan(&deliveries)
	_ = super.QueryRow(ctx, "SELECT count(*) FROM email_outbox WHERE tenant_id = $1 AND idempotency_key LIKE 'email/kev/%'", p.tenant).Scan(&emails)
	if alerts != 1 || deliveries != 1 || emails != 1 {
		t.Fatalf("after the CVE entered KEV: %d alerts, %d deliveries, %d emails; want one each", alerts, deliveries, emails)
	}
	if got, _ := p.findings(t, "kev=true&sort=-priority"); len(got) != 2 || got[0].ID != critical {
		t.Errorf("kev=true after the refresh: %+v", got)
	}
	recordHistory(t, p.temporal, second.Execution.GetWorkflowId(), "../../workflows/intelflow/testdata/refresh_alert.json")

	// Nothing new (304): no second alert. (Schedule runs are named by the
	// second: the next one must not reuse this one's id.)
	time.Sleep(time.Until(second.StartTime.AsTime().Truncate(time.Second).Add(1100 * time.Millisecond)))
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}); err != nil {
		t.Fatal(err)
	}
	p.waitRefreshes(t, 3)
	_ = super.QueryRow(ctx, "SELECT count(*) FROM email_outbox WHERE tenant_id = $1 AND idempotency_key LIKE 'email/kev/%'", p.tenant).Scan(&emails)
	_ = super.QueryRow(ctx, "SELECT count(*) FROM webhook_deliveries WHERE tenant_id = $1 AND event_type = 'finding.kev'", p.tenant).Scan(&deliveries)
	if emails != 1 || deliveries != 1 || feed.nots.Load() < 1 {
		t.Fatalf("a refresh with nothing new: %d emails, %d deliveries, %d 304s", emails, deliveries, feed.nots.Load())
	}
}
