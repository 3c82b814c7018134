package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/parsers"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/schedsync"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/webhookwire"
)

// loadSpec parses the embedded document with kin-openapi. kin-openapi
// v0.152.0 understands OpenAPI 3.1 (type arrays with "null", const,
// examples, JSON Schema 2020-12) and validates 3.1 documents with its
// 2020-12 validator, examples included.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(specYAML)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	return doc
}

func TestOpenAPISpecValidates(t *testing.T) {
	doc := loadSpec(t)
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	ctx := context.Background()
	if err := doc.Validate(ctx, openapi3.EnableExamplesValidation(), openapi3.EnableSchemaFormatValidation()); err != nil {
		t.Fatalf("validate: %v", err)
	}

	// The JSON served is the same document: it loads and validates too.
	b, err := OpenAPISpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("load served JSON: %v", err)
	}
	if err := fromJSON.Validate(ctx); err != nil {
		t.Fatalf("validate served JSON: %v", err)
	}

	wantIDs := map[string]string{
		"POST /api/v1/targets":                 "TargetCreate",
		"GET /api/v1/targets":                  "TargetList",
		"GET /api/v1/targets/{id}":             "TargetGet",
		"DELETE /api/v1/targets/{id}":          "TargetDelete",
		"POST /api/v1/targets/{id}/verify":     "TargetVerify",
		"POST /api/v1/scans":                   "ScanCreate",
		"GET /api/v1/scans":                    "ScanList",
		"POST /api/v1/scans/import":            "ScanImport",
		"GET /api/v1/scans/{id}":               "ScanGet",
		"GET /api/v1/scans/{id}/findings":      "ScanFindingsList",
		"DELETE /api/v1/sessions/current":      "SessionDelete",
		"GET /api/v1/findings":                 "FindingList",
		"PATCH /api/v1/findings":               "FindingBulkTriage",
		"GET /api/v1/findings/{id}":            "FindingGet",
		"PATCH /api/v1/findings/{id}":          "FindingTriage",
		"POST /api/v1/schedules":               "ScheduleCreate",
		"GET /api/v1/schedules":                "ScheduleList",
		"GET /api/v1/schedules/{id}":           "ScheduleGet",
		"PATCH /api/v1/schedules/{id}":         "ScheduleUpdate",
		"DELETE /api/v1/schedules/{id}":        "ScheduleDelete",
		"POST /api/v1/schedules/{id}/pause":    "SchedulePause",
		"POST /api/v1/schedules/{id}/resume":   "ScheduleResume",
		"POST /api/v1/schedules/{id}/trigger":  "ScheduleTrigger",
		"GET /api/v1/dashboard":                "DashboardGet",
		"PATCH /api/v1/dashboard/sla":          "DashboardSLAUpdate",
		"GET /api/v1/usage":                    "UsageList",
		"PATCH /api/v1/triage/settings":        "TriageSettingsUpdate",
		"POST /api/v1/webhooks":                "WebhookCreate",
		"GET /api/v1/webhooks":                 "WebhookList",
		"DELETE /api/v1/webhooks/{id}":         "WebhookDelete",
		"GET /api/v1/webhooks/{id}/deliveries": "WebhookDeliveryList",
		"POST /api/v1/webhooks/{id}/test":      "WebhookTest",
		"GET /healthz":                         "Healthz",
		"GET /readyz":                          "Readyz",
		"GET /metrics":                         "Metrics",
		"GET /api/v1/openapi.json":             "OpenAPISpec",
		"GET /docs":                            "Docs",
	}
	for key, id := range wantIDs {
		method, path, _ := strings.Cut(key, " ")
		item := doc.Paths.Find(path)
		if item == nil {
			t.Errorf("%s: path missing", key)
			continue
		}
		op := item.GetOperation(method)
		if op == nil {
			t.Errorf("%s: operation missing", key)
			continue
		}
		if op.OperationID != id {
			t.Errorf("%s: operationId %q, want %q", key, op.OperationID, id)
		}
		if len(op.Tags) == 0 {
			t.Errorf("%s: no tag", key)
		}
		// Public operations opt out of the document-wide authentication.
		public := strings.HasPrefix(key, "GET /healthz") || strings.HasPrefix(key, "GET /readyz") ||
			strings.HasPrefix(key, "GET /metrics") || strings.HasPrefix(key, "GET /docs") || key == "GET /api/v1/openapi.json"
		if public && (op.Security == nil || len(*op.Security) != 0) {
			t.Errorf("%s: a public operation must declare security: []", key)
		}
	}
	if len(doc.Security) != 3 {
		t.Errorf("top-level security lists %d schemes, want the 3 ways to authenticate", len(doc.Security))
	}
	for _, name := range []string{"sessionCookie", "sessionToken", "apiKey"} {
		if doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("security scheme %s missing", name)
		}
	}
	if s := doc.Components.SecuritySchemes["sessionCookie"].Value; s.In != "cookie" || s.Name != "ory_kratos_session" {
		t.Errorf("sessionCookie = %+v", s)
	}
	if s := doc.Components.SecuritySchemes["apiKey"].Value; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("apiKey = %+v", s)
	}

	// Every error answer of the API is a problem document.
	for key := range wantIDs {
		method, path, _ := strings.Cut(key, " ")
		for code, ref := range doc.Paths.Find(path).GetOperation(method).Responses.Map() {
			if code[0] != '4' && code[0] != '5' || key == "GET /readyz" {
				continue
			}
			mt := ref.Value.Content.Get("application/problem+json")
			if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Problem" {
				t.Errorf("%s %s: not an application/problem+json Problem", key, code)
			}
		}
	}
}

func TestOpenAPISchemasAcceptExamples(t *testing.T) {
	doc := loadSpec(t)
	schemas := doc.Components.Schemas
	check := func(name, body string, wantOK bool) {
		t.Helper()
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		err := schemas[name].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
		if (err == nil) != wantOK {
			t.Errorf("%s %s: err = %v, want ok=%v", name, body, err, wantOK)
		}
	}
	check("ScanCreateRequest", `{"target":"127.0.0.1:8000"}`, true)
	check("ScanCreateRequest", `{"target":"https://example.com","scanners":["nmap"]}`, true)
	check("ScanCreateRequest", `{"target_id":"4a7c1e93-2b5d-4f80-9e6a-1c3d5b7f9a02"}`, true)
	check("ScanCreateRequest", `{"target":"https://example.com","scanners":["zap","nuclei","nikto","secureops"]}`, true)
	check("ScanCreateRequest", `{"target":"image:nginx:1.27","scanners":["trivy"]}`, true)
	check("ScanCreateRequest", `{"target_id":"4a7c1e93-2b5d-4f80-9e6a-1c3d5b7f9a02","target":"example.com"}`, false)
	check("ScanCreateRequest", `{"target":""}`, false)
	check("ScanCreateRequest", `{}`, false)
	check("ScanCreateRequest", `{"target":"example.com","scanners":["nessus"]}`, false)
	check("ScanCreateRequest", `{"target":"example.com","scanners":["nmap","nmap"]}`, false)
	check("ScanCreateRequest", `{"target":"example.com","scanners":[]}`, false)
	check("ScanCreateRequest", `{"target":"example.com","extra":1}`, false)
	check("Problem", `{"type":"about:blank","title":"Bad Request","status":400,"errors":[{"field":"target","message":"empty"}]}`, true)
	check("FindingPage", `{"items":[],"next_cursor":null}`, true)
	check("FindingPage", `{"items":[],"next_cursor":"abc"}`, true)
	check("FindingPage", `{"items":[]}`, false)
	check("TargetCreateRequest", `{"value":"example.com"}`, true)
	check("TargetCreateRequest", `{"kind":"image","value":"nginx:1.27","name":"web"}`, true)
	check("TargetCreateRequest", `{"kind":"ip","value":"203.0.113.7"}`, false)
	check("TargetCreateRequest", `{"kind":"host"}`, false)
	check("FindingTriageRequest", `{"status":"false_positive","comment":"backported fix"}`, true)
	check("FindingTriageRequest", `{"status":"reopened"}`, false)
	check("FindingTriageRequest", `{"comment":"no status"}`, false)
	check("FindingBulkTriageRequest", `{"ids":["4a7c1e93-2b5d-4f80-9e6a-1c3d5b7f9a02"],"status":"open"}`, true)
	check("FindingBulkTriageRequest", `{"ids":[],"status":"open"}`, false)
	check("FindingBulkTriageRequest", `{"ids":["4a7c1e93-2b5d-4f80-9e6a-1c3d5b7f9a02","4a7c1e93-2b5d-4f80-9e6a-1c3d5b7f9a02"],"status":"open"}`, false)
	const tgt = `"target_id":"4a7c1e93-2b5d-4f80-9e6a-1c3d5b7f9a02"`
	check("ScheduleCreateRequest", `{`+tgt+`,"interval":"24h"}`, true)
	check("ScheduleCreateRequest", `{`+tgt+`,"cron":"0 3 * * 1","timezone":"Europe/Berlin","scanners":["nmap","nuclei"],"description":"weekly","paused":true}`, true)
	check("ScheduleCreateRequest", `{`+tgt+`,"interval":"1h30m"}`, true)
	check("ScheduleCreateRequest", `{`+tgt+`}`, false)
	check("ScheduleCreateRequest", `{`+tgt+`,"cron":"0 3 * * 1","interval":"24h"}`, false)
	check("ScheduleCreateRequest", `{"interval":"24h"}`, false)
	check("ScheduleCreateRequest", `{`+tgt+`,"interval":"daily"}`, false)
	check("ScheduleCreateRequest", `{`+tgt+`,"cron":""}`, false)
	check("ScheduleCreateRequest", `{`+tgt+`,"interval":"24h","scanners":[]}`, false)
	check("ScheduleCreateRequest", `{`+tgt+`,"interval":"24h","extra":1}`, false)
	check("ScheduleUpdateRequest", `{}`, true)
	check("ScheduleUpdateRequest", `{"interval":"6h","description":""}`, true)
	check("ScheduleUpdateRequest", `{"cron":"30 1 * * *","timezone":"America/New_York","scanners":["zap"]}`, true)
	check("ScheduleUpdateRequest", `{"cron":"30 1 * * *","interval":"6h"}`, false)
	check("ScheduleUpdateRequest", `{"paused":true}`, false)
	check("ScheduleUpdateRequest", `{`+tgt+`}`, false)
	check("SchedulePage", `{"items":[],"next_cursor":null}`, true)

	// The scanners documented are those the API accepts; the import
	// formats are exactly those the parsers read.
	var names []string
	for _, v := range schemas["ScannerName"].Value.Enum {
		names = append(names, v.(string))
	}
	if want := []string{"nmap", "nikto", "secureops", "zap", "trivy", "nuclei"}; !slices.Equal(names, want) {
		t.Errorf("ScannerName = %v, want %v", names, want)
	}
	var formats []string
	for _, v := range schemas["ReportFormat"].Value.Enum {
		formats = append(formats, v.(string))
	}
	if !slices.Equal(formats, parsers.Scanners) {
		t.Errorf("ReportFormat = %v, want parsers.Scanners %v", formats, parsers.Scanners)
	}
}

// TestOpenAPIMatchesHandlerTypes keeps the schemas honest: what the handlers
// actually encode must validate against the documented responses.
func TestOpenAPIMatchesHandlerTypes(t *testing.T) {
	doc := loadSpec(t)
	validate := func(name string, v any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var generic any
		if err := json.Unmarshal(b, &generic); err != nil {
			t.Fatal(err)
		}
		if err := doc.Components.Schemas[name].Value.VisitJSON(generic, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s %s: %v", name, b, err)
		}
	}
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	msg := "scanner failed"
	id := uuid.New()
	tid := uuid.New()
	queued := scanView(scans.FromRow(dbq.Scan{
		ID: id, TenantID: uuid.New(), Target: "127.0.0.1:8000", Scanners: []string{"nmap"},
		Status: "queued", WorkflowID: "scan/" + id.String(), CreatedAt: now,
		TargetID: uuid.NullUUID{UUID: tid, Valid: true}, Source: "scan", Complete: true,
	}))
	validate("Scan", queued)
	failed := scanView(scans.FromRow(dbq.Scan{
		ID: id, TenantID: uuid.New(), Target: "example.com", Scanners: []string{"nmap", "nuclei"},
		Status: "failed", Progress: 40, ProgressMessage: "nmap", WorkflowID: "scan/" + id.String(),
		Error: &msg, CountHigh: 2, CountInfo: 3, CreatedAt: now, StartedAt: &now, FinishedAt: &now,
		Source: "scan", Complete: true, DiffNew: 1, DiffOpen: 4, DiffFixed: 2, DiffReopened: 1,
	}))
	validate("Scan", failed)
	// An import of a partial report, its target since deleted.
	imported := scanView(scans.FromRow(dbq.Scan{
		ID: id, TenantID: uuid.New(), Target: "image:docker.io/library/nginx:1.27", Scanners: []string{"generic"},
		Status: "completed", Progress: 100, ProgressMessage: "done", WorkflowID: "scan/" + id.String(),
		CreatedAt: now, StartedAt: &now, FinishedAt: &now, Source: "import", Complete: false,
	}))
	validate("Scan", imported)
	validate("ScanCreateResponse", scanCreateResponse{ID: id, TargetID: tid, WorkflowID: "scan/" + id.String(), Status: "queued"})
	scanCur := encodeTimeCursor(now, id)
	validate("ScanPage", struct {
		Items      []ScanView `json:"items"`
		NextCursor *string    `json:"next_cursor"`
	}{Items: []ScanView{queued, failed, imported}, NextCursor: &scanCur})
	validate("ScanPage", struct {
		Items      []ScanView `json:"items"`
		NextCursor *string    `json:"next_cursor"`
	}{Items: []ScanView{}})
	// The import answer, as scanImport writes it.
	validate("ScanImportResponse", map[string]any{
		"id": id, "workflow_id": "scan/" + id.String(), "status": "queued", "target": "example.com",
		"scanner": "zap", "bytes": 120, "findings_in_report": 0,
	})
	// A report over one chunk is parsed by the worker: no count yet.
	validate("ScanImportResponse", map[string]any{
		"id": id, "workflow_id": "scan/" + id.String(), "status": "queued", "target": "example.com",
		"scanner": "zap", "bytes": 5 << 20,
	})

	sid := uuid.NullUUID{UUID: id, Valid: true}
	f := findingView(findings.FromRow(dbq.Finding{
		ID: uuid.New(), Fingerprint: "abc", Title: "t", Severity: "high", Status: "new",
		Cves: []string{"CVE-2023-38408"}, Cwes: []int32{79}, CvssScore: 9.8, Host: "127.0.0.1", Port: 22,
		Protocol: "tcp", Scanner: "nmap", Refs: []string{}, FirstSeenAt: now, LastSeenAt: now,
		StatusChangedAt: now, ScanTarget: "127.0.0.1:22", ReportedBy: "nmap", FirstScanID: sid, LastScanID: sid,
	}))
	validate("Finding", f)
	fixed := findingView(findings.FromRow(dbq.Finding{
		ID: uuid.New(), Fingerprint: "def", Title: "t", Severity: "info", Status: "fixed",
		Cves: []string{}, Cwes: []int32{}, Refs: []string{}, Target: "docker.io/library/nginx:1.27",
		Scanner: "trivy", FirstSeenAt: now, LastSeenAt: now, StatusChangedAt: now, FixedAt: &now,
		ScanTarget: "image:docker.io/library/nginx:1.27", ReportedBy: "trivy",
	}))
	validate("Finding", fixed)
	inScan := f
	inScan.Change = "reopened"
	cur := "abc"
	validate("FindingPage", findingPage{Items: []FindingView{f, fixed, inScan}, NextCursor: &cur})
	validate("FindingPage", findingPage{Items: []FindingView{}})
	validate("FindingDetail", findingDetail{
		FindingView: f,
		Occurrences: []occurrenceView{
			{ScanID: id, Target: "127.0.0.1:22", Source: "scan", Status: "completed", Change: "new", Severity: "high", CreatedAt: now},
			{ScanID: uuid.New(), Target: "127.0.0.1:22", Source: "import", Status: "running", Change: "fixed", Severity: "medium", CreatedAt: now},
		},
		Events: []eventView{{Actor: "user:" + uuid.NewString(), FromStatus: "new", ToStatus: "accepted_risk", Comment: "lab host", CreatedAt: now}},
	})
	validate("FindingDetail", findingDetail{FindingView: fixed, Occurrences: []occurrenceView{}, Events: []eventView{}})
	// The bulk triage answer, as findingBulkPatch writes it.
	validate("FindingBulkTriageResponse", map[string]any{"updated": 3, "unchanged": 1, "status": "false_positive"})

	// Targets in each verification state; the unverified ones carry instructions.
	tenant := uuid.New()
	domain := targetViewOf(targets.FromRow(dbq.Target{
		ID: tid, TenantID: tenant, Kind: "domain", Value: "example.com", Host: "example.com", Name: "site",
		VerificationToken: "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c", VerificationStatus: "unverified", CreatedAt: now,
	}))
	if domain.Instructions == nil || domain.Instructions.DNS == nil || domain.Instructions.HTTP == nil {
		t.Fatalf("an unverified domain has no DNS and HTTP instructions: %+v", domain)
	}
	validate("Target", domain)
	ip := targetViewOf(targets.FromRow(dbq.Target{
		ID: uuid.New(), TenantID: tenant, Kind: "host", Value: "203.0.113.7:8443", Host: "203.0.113.7",
		VerificationToken: "tok", VerificationStatus: "pending", VerificationChecks: 3,
		VerificationError: "no TXT record", VerificationStartedAt: &now, VerificationCheckedAt: &now, CreatedAt: now,
	}))
	if ip.Instructions == nil || ip.Instructions.DNS != nil || ip.Instructions.HTTP == nil {
		t.Fatalf("a pending IP target should have HTTP instructions only: %+v", ip)
	}
	validate("Target", ip)
	url := targetViewOf(targets.FromRow(dbq.Target{
		ID: uuid.New(), TenantID: tenant, Kind: "url", Value: "https://app.example.com/login", Host: "app.example.com",
		VerificationToken: "tok", VerificationStatus: "failed", VerificationChecks: 40, VerificationError: "timeout",
		VerificationStartedAt: &now, VerificationCheckedAt: &now, CreatedAt: now,
	}))
	validate("Target", url)
	verified := targetViewOf(targets.FromRow(dbq.Target{
		ID: uuid.New(), TenantID: tenant, Kind: "domain", Value: "example.org", Host: "example.org",
		VerificationToken: "tok", VerificationStatus: "verified", VerificationMethod: "dns", VerificationChecks: 1,
		VerificationStartedAt: &now, VerificationCheckedAt: &now, VerifiedAt: &now, CreatedAt: now,
	}))
	if verified.Instructions != nil {
		t.Errorf("a verified target carries instructions: %+v", verified)
	}
	validate("Target", verified)
	auto := targetViewOf(targets.FromRow(dbq.Target{
		ID: uuid.New(), TenantID: tenant, Kind: "host", Value: "127.0.0.1:8000", Host: "127.0.0.1",
		VerificationToken: "tok", VerificationStatus: "verified", VerificationMethod: "auto", VerifiedAt: &now, CreatedAt: now,
	}))
	validate("Target", auto)
	image := targetViewOf(targets.FromRow(dbq.Target{
		ID: uuid.New(), TenantID: tenant, Kind: "image", Value: "image:docker.io/library/nginx:1.27",
		VerificationToken: "tok", VerificationStatus: "not_required", CreatedAt: now,
	}))
	validate("Target", image)
	targetCur := encodeTimeCursor(now, tid)
	validate("TargetPage", struct {
		Items      []TargetView `json:"items"`
		NextCursor *string      `json:"next_cursor"`
	}{Items: []TargetView{domain, ip, url, verified, auto, image}, NextCursor: &targetCur})
	validate("TargetPage", struct {
		Items      []TargetView `json:"items"`
		NextCursor *string      `json:"next_cursor"`
	}{Items: []TargetView{}})

	// Schedules: with a live state from Temporal, and without (Temporal
	// could not be reached), timed by a cron or by an interval.
	schedID := uuid.New()
	withState := ScheduleView{
		ID: schedID, TenantID: tenant, TargetID: tid, Target: "example.com", Scanners: []string{"nmap", "nuclei"},
		Cron: "0 3 * * 1", TimeZone: "Europe/Berlin", Description: "weekly", ScheduleID: schedule.ID(schedID),
		CreatedAt: now, UpdatedAt: now,
		State: &schedsync.State{
			Paused: true, Note: "paused: the tenant is suspended", NextRuns: []time.Time{now, now.Add(7 * 24 * time.Hour)},
			RecentRuns: []schedsync.Run{{ScheduledAt: now, StartedAt: now, WorkflowID: "scheduled-scan/" + schedID.String() + "-2026-01-05T10:00:00Z"}},
			Running:    []string{"scheduled-scan/" + schedID.String() + "-2026-01-05T10:00:00Z"}, Actions: 3, Skipped: 1,
		},
	}
	validate("Schedule", withState)
	idle := withState
	idle.State = &schedsync.State{NextRuns: []time.Time{}, RecentRuns: []schedsync.Run{}, Running: []string{}}
	validate("Schedule", idle)
	noState := ScheduleView{
		ID: uuid.New(), TenantID: tenant, TargetID: uuid.New(), Target: "image:docker.io/library/nginx:1.27",
		Scanners: []string{"trivy"}, Interval: (24 * time.Hour).String(), TimeZone: "UTC", Paused: true,
		ScheduleID: schedule.ID(schedID), CreatedAt: now, UpdatedAt: now,
	}
	validate("Schedule", noState)
	schedCur := encodeTimeCursor(now, schedID)
	validate("SchedulePage", struct {
		Items      []ScheduleView `json:"items"`
		NextCursor *string        `json:"next_cursor"`
	}{Items: []ScheduleView{withState, idle, noState}, NextCursor: &schedCur})
	validate("SchedulePage", struct {
		Items      []ScheduleView `json:"items"`
		NextCursor *string        `json:"next_cursor"`
	}{Items: []ScheduleView{}})
	// A view must carry exactly one of cron and interval.
	both := noState
	both.Cron = "0 3 * * 1"
	if b, _ := json.Marshal(both); doc.Components.Schemas["Schedule"].Value.VisitJSON(mustGeneric(t, b), openapi3.EnableJSONSchema2020()) == nil {
		t.Errorf("Schedule accepts both cron and interval: %s", b)
	}

	// Webhooks: the list (one switched off), the creation answer with its
	// secret, and deliveries as the test and the delivery log write them.
	hookID := uuid.New()
	hook := webhookViewOf(dbq.WebhookGetRow{
		ID: hookID, TenantID: tenant, Url: "https://hooks.example.com/secureops",
		Events: []string{"scan.completed", "finding.critical"}, Description: "SOC pipeline", Active: true, CreatedAt: now,
	})
	validate("Webhook", hook)
	off := webhookViewOf(dbq.WebhookGetRow{
		ID: uuid.New(), TenantID: tenant, Url: "https://old.example.com/hook", Events: []string{"finding.critical"},
		DisabledReason: "the receiver answered 410 Gone on 2026-01-05T10:00:00Z", CreatedAt: now,
	})
	validate("Webhook", off)
	validate("WebhookList", map[string]any{"items": []WebhookView{hook, off}})
	validate("WebhookList", map[string]any{"items": []WebhookView{}})
	created := hook
	created.Secret = webhookwire.NewSecret()
	validate("WebhookCreated", created)
	if b, _ := json.Marshal(hook); doc.Components.Schemas["WebhookCreated"].Value.VisitJSON(mustGeneric(t, b), openapi3.EnableJSONSchema2020()) == nil {
		t.Errorf("WebhookCreated accepts a webhook without its secret: %s", b)
	}

	ping, err := webhookwire.NewEvent("ping/"+uuid.NewString(), webhookwire.EventPing, tenant, now,
		webhookwire.Ping{WebhookID: hookID, Message: "This is a test event from SecureOps."})
	if err != nil {
		t.Fatal(err)
	}
	pingBody, err := ping.Body()
	if err != nil {
		t.Fatal(err)
	}
	pending := deliveryViewOf(dbq.WebhookDelivery{
		ID: uuid.New(), TenantID: tenant, WebhookID: hookID, EventID: ping.ID, EventType: ping.Type,
		Payload: pingBody, Status: "pending", CreatedAt: ping.CreatedAt,
	})
	validate("WebhookDelivery", pending)
	code200, code503 := int32(200), int32(503)
	scanEvent := completedEvent(t, tenant, id, now)
	scanBody, err := scanEvent.Body()
	if err != nil {
		t.Fatal(err)
	}
	delivered := deliveryViewOf(dbq.WebhookDelivery{
		ID: uuid.New(), TenantID: tenant, WebhookID: hookID, EventID: scanEvent.ID, EventType: scanEvent.Type,
		Payload: scanBody, Status: "delivered", Attempts: 2, LastStatusCode: pgtype.Int4{Int32: 200, Valid: true},
		CreatedAt: now, DeliveredAt: &now,
	})
	delivered.AttemptLog = []AttemptView{
		{Attempt: 1, StatusCode: &code503, Error: "the receiver answered 503 Service Unavailable", DurationMS: 212, At: now},
		{Attempt: 2, StatusCode: &code200, DurationMS: 98, At: now},
	}
	validate("WebhookDelivery", delivered)
	critEvent := criticalEvent(t, tenant, id, now)
	critBody, err := critEvent.Body()
	if err != nil {
		t.Fatal(err)
	}
	failedDelivery := deliveryViewOf(dbq.WebhookDelivery{
		ID: uuid.New(), TenantID: tenant, WebhookID: hookID, EventID: critEvent.ID, EventType: critEvent.Type,
		Payload: critBody, Status: "failed", Attempts: 1,
		LastError: "the webhook's URL is not allowed: it must be a public https address",
		CreatedAt: now,
	})
	failedDelivery.AttemptLog = []AttemptView{{Attempt: 1, Error: failedDelivery.LastError, At: now}}
	validate("WebhookDelivery", failedDelivery)
	deliveryCur := encodeTimeCursor(now, delivered.ID)
	validate("WebhookDeliveryPage", struct {
		Items      []DeliveryView `json:"items"`
		NextCursor *string        `json:"next_cursor"`
	}{Items: []DeliveryView{pending, delivered, failedDelivery}, NextCursor: &deliveryCur})
	validate("WebhookDeliveryPage", struct {
		Items      []DeliveryView `json:"items"`
		NextCursor *string        `json:"next_cursor"`
	}{Items: []DeliveryView{}})

	// The dashboard, built by the handler's own helpers from rows as the
	// queries return them: a tenant with a critical override, and one with
	// nothing yet.
	from, to := now.AddDate(0, 0, -2).Truncate(24*time.Hour), now
	days, overrides := slaDays([]byte(`{"critical": 3}`))
	openRows := []severityOpen{
		{Severity: "critical", Open: 2, Overdue: 1, OldestAgeSeconds: 4.5 * 86400},
		{Severity: "high", Open: 7, OldestAgeSeconds: 3 * 86400},
		{Severity: "info", Open: 8, OldestAgeSeconds: 40 * 86400},
	}
	fixedRows := []dbq.DashboardFixedRow{
		{Day: from.AddDate(0, 0, 1).Format(time.DateOnly), Severity: "critical", Fixed: 1, OpenSeconds: 15300},
		{Day: now.Format(time.DateOnly), Severity: "medium", Fixed: 4, OpenSeconds: 592272},
	}
	diffRows := []dbq.DashboardScanDiffsRow{{Day: from.Format(time.DateOnly), New: 12}, {Day: now.Format(time.DateOnly), New: 3, Reopened: 1}}
	dash := DashboardView{TenantID: tenant, From: from, To: to, GeneratedAt: now, Trend: trend(from, to, diffRows, fixedRows), MTTR: mttr(fixedRows)}
	dash.OpenFindings, dash.SLA = openAndSLA(openRows, days, overrides)
	dash.Scans = scanCountsView{
		Total:    9,
		ByStatus: map[string]int64{"queued": 0, "running": 1, "completed": 7, "failed": 1, "cancelled": 0},
		BySource: map[string]int64{"scan": 8, "import": 1},
	}
	dash.Usage = usageSummaryView{
		Tier: "pro", ConcurrentScanLimit: 5, Running: 1, Scans: 8, ScanSeconds: 1843.27,
		BySource: map[string]int64{"scan": 7, "import": 1},
	}
	dash.TopTargets = []targetRisk{
		{Target: "example.com", TargetID: &tid, TenantID: tenant, Risk: 45,
			Open: map[string]int64{"critical": 2, "high": 4, "medium": 2, "low": 1, "info": 3}},
		{Target: "203.0.113.9:443", TenantID: uuid.New(), Risk: 5,
			Open: map[string]int64{"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0}},
	}
	if len(dash.Trend) != 3 || dash.SLA.BySeverity["critical"].OldestOverdueDays == nil || dash.MTTR.Hours == nil {
		t.Fatalf("unexpected dashboard: %+v", dash)
	}
	validate("Dashboard", dash)
	emptyDays, emptyOverrides := slaDays([]byte(`{}`))
	empty := DashboardView{TenantID: tenant, From: now, To: now, GeneratedAt: now, Trend: trend(now, now, nil, nil), MTTR: mttr(nil),
		Scans:      scanCountsView{ByStatus: zeroCounts([]string{"queued", "running", "completed", "failed", "cancelled"}), BySource: zeroCounts([]string{"scan", "import"})},
		Usage:      usageSummaryView{Tier: "basic", ConcurrentScanLimit: 1, BySource: map[string]int64{"scan": 0, "import": 0}},
		TopTargets: []targetRisk{},
	}
	empty.OpenFindings, empty.SLA = openAndSLA(nil, emptyDays, emptyOverrides)
	validate("Dashboard", empty)
	// The SLA answer, as dashboardSLAPatch writes it.
	validate("SLA", map[string]any{"days": days, "overrides": overrides})
	validate("SLA", map[string]any{"days": emptyDays, "overrides": emptyOverrides})

	// Usage records: a finished scan and an import cancelled before it started.
	usage := []UsageEventView{
		{ID: uuid.New(), TenantID: tenant, ScanID: id, Source: "scan", Scanners: []string{"nmap", "nuclei"}, Target: "example.com",
			Status: "completed", StartedAt: &now, FinishedAt: now.Add(251532 * time.Millisecond), DurationMS: 251532, Findings: 14, CreatedAt: now},
		{ID: uuid.New(), TenantID: uuid.New(), ScanID: uuid.New(), Source: "import", Scanners: []string{"zap"}, Target: "https://app.example.com",
			Status: "cancelled", FinishedAt: now, CreatedAt: now},
	}
	usageCur := encodeTimeCursor(now, usage[1].ID)
	validate("UsagePage", struct {
		Items      []UsageEventView `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}{Items: usage, NextCursor: &usageCur})
	validate("UsagePage", struct {
		Items      []UsageEventView `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}{Items: []UsageEventView{}})

	validate("Problem", Problem{Type: "about:blank", Title: "Bad Request", Status: 400, Errors: []FieldError{{Field: "target", Message: "m"}}})
}

// completedEvent is a scan.completed event as the notify activities build it.
func completedEvent(t *testing.T, tenant, scanID uuid.UUID, at time.Time) webhookwire.Event {
	t.Helper()
	ev, err := webhookwire.NewEvent("scan.completed/"+scanID.String(), webhookwire.EventScanCompleted, tenant, at, webhookwire.ScanCompleted{
		ScanID: scanID, Target: "example.com", Status: "completed", Scanners: []string{"nmap", "nuclei"},
		Counts:    webhookwire.SeverityCounts{Critical: 1, High: 2, Medium: 4, Low: 3, Info: 4},
		Diff:      webhookwire.Diff{New: 3, Open: 11, Fixed: 1},
		StartedAt: &at, FinishedAt: &at, URL: "https://app.example.com/scans/" + scanID.String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// criticalEvent is a finding.critical event as the notify activities build it.
func criticalEvent(t *testing.T, tenant, scanID uuid.UUID, at time.Time) webhookwire.Event {
	t.Helper()
	ev, err := webhookwire.NewEvent("finding.critical/"+scanID.String(), webhookwire.EventFindingCritical, tenant, at, webhookwire.FindingCritical{
		ScanID: scanID, Target: "example.com", Total: 2,
		Findings: []webhookwire.CriticalFinding{
			{ID: uuid.New(), Title: "OpenSSH regreSSHion", Severity: "critical", CVEs: []string{"CVE-2024-6387"},
				Host: "203.0.113.7", Port: 22, Component: "openssh", Version: "9.6p1", Target: "example.com"},
			{ID: uuid.New(), Title: "Exposed admin console", Severity: "critical", CVEs: []string{},
				URL: "https://example.com/admin", Target: "example.com"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// slaBreachedEvent is a finding.sla_breached event as the SLA activities build it.
func slaBreachedEvent(t *testing.T, tenant uuid.UUID, at time.Time) webhookwire.Event {
	t.Helper()
	batch := uuid.New()
	ev, err := webhookwire.NewEvent("finding.sla_breached/"+batch.String(), webhookwire.EventFindingSLABreached, tenant, at, webhookwire.FindingSLABreached{
		BatchID: batch, Total: 1,
		Findings: []webhookwire.SLABreachedFinding{{ID: uuid.New(), Title: "OpenSSH regreSSHion", Severity: "critical", CVEs: []string{"CVE-2024-6387"},
			Priority: 60, SLADueAt: at.Add(-time.Hour), Host: "203.0.113.7", Port: 22, Target: "example.com",
			Link: "https://app.example.com/app/findings/" + uuid.NewString()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestOpenAPIWebhookEvents checks the events, headers and signature the
// spec documents against internal/webhookwire, which sends them.
func TestOpenAPIWebhookEvents(t *testing.T) {
	doc := loadSpec(t)
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	tenant, scanID := uuid.New(), uuid.New()
	failed := completedEvent(t, tenant, scanID, now)
	var data webhookwire.ScanCompleted
	if err := json.Unmarshal(failed.Data, &data); err != nil {
		t.Fatal(err)
	}
	data.Status, data.Error, data.URL, data.StartedAt = "failed", "nmap: exit status 1", "", nil
	failed, err := webhookwire.NewEvent(failed.ID, failed.Type, tenant, now, data)
	if err != nil {
		t.Fatal(err)
	}
	ping, err := webhookwire.NewEvent("ping/"+uuid.NewString(), webhookwire.EventPing, tenant, now, webhookwire.Ping{WebhookID: uuid.New(), Message: "This is a test event from SecureOps."})
	if err != nil {
		t.Fatal(err)
	}
	for name, ev := range map[string]webhookwire.Event{
		"ScanCompletedEvent":      completedEvent(t, tenant, scanID, now),
		"FindingCriticalEvent":    criticalEvent(t, tenant, scanID, now),
		"FindingKEVEvent":         kevEvent(t, tenant, now),
		"FindingSLABreachedEvent": slaBreachedEvent(t, tenant, now),
		"PingEvent":               ping,
	} {
		body, err := ev.Body()
		if err != nil {
			t.Fatal(err)
		}
		for _, schema := range []string{name, "WebhookEvent"} {
			if err := doc.Components.Schemas[schema].Value.VisitJSON(mustGeneric(t, body), openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("%s %s: %v", schema, body, err)
			}
		}
		// Each event type is a top-level webhook with the delivery headers.
		op := doc.Webhooks[ev.Type]
		if op == nil || op.Post == nil {
			t.Errorf("webhooks.%s missing", ev.Type)
			continue
		}
		if got := op.Post.RequestBody.Value.Content.Get("application/json").Schema.Ref; got != "#/components/schemas/"+name {
			t.Errorf("webhooks.%s body is %s", ev.Type, got)
		}
		for _, h := range []string{webhookwire.HeaderSignature, webhookwire.HeaderEventID, webhookwire.HeaderEventType, "User-Agent"} {
			if p := op.Post.Parameters.GetByInAndName("header", h); p == nil || !p.Required {
				t.Errorf("webhooks.%s: header %s missing", ev.Type, h)
			}
		}
	}
	body, err := failed.Body()
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Components.Schemas["WebhookEvent"].Value.VisitJSON(mustGeneric(t, body), openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("failed scan %s: %v", body, err)
	}
	if len(doc.Webhooks) != 5 {
		t.Errorf("%d webhooks documented, want scan.completed, finding.critical, finding.kev, finding.sla_breached and ping", len(doc.Webhooks))
	}
	if ua := doc.Components.Parameters["WebhookUserAgent"].Value.Schema.Value.Const; ua != webhookwire.UserAgent {
		t.Errorf("User-Agent %v, want %q", ua, webhookwire.UserAgent)
	}

	// The subscribable types are the ones the API accepts.
	var types []string
	for _, v := range doc.Components.Schemas["WebhookEventType"].Value.Enum {
		types = append(types, v.(string))
	}
	if !slices.Equal(types, webhookwire.Subscribable) {
		t.Errorf("WebhookEventType = %v, want webhookwire.Subscribable %v", types, webhookwire.Subscribable)
	}

	// The worked example of the Webhooks tag is a real signature, and the
	// secret looks like the ones the API hands out.
	var desc string
	for _, tag := range doc.Tags {
		if tag.Name == "Webhooks" {
			desc = tag.Description
		}
	}
	const (
		secret  = "whsec_NOJ82nWVakljBrsp3yIGMssdNenPUs_so8NvkKq60gk"
		example = `{"id":"ping/2b7e4c19-8f3a-4d62-b0e5-9c1a7f3d6e48","type":"ping","created_at":"2026-01-05T10:00:00Z","tenant_id":"5d1c3a55-2f7e-4a0c-b1a9-6e2d7f3c8b90","data":{"webhook_id":"9a4e2c71-5b3f-4d86-a1e0-7c2f8b6d4e15","message":"This is a test event from SecureOps."}}`
	)
	sig := webhookwire.Sign(secret, time.Unix(1767607200, 0), []byte(example))
	for _, want := range []string{secret, example, "`" + sig + "`"} {
		if !strings.Contains(desc, want) {
			t.Errorf("the Webhooks tag lacks %q", want)
		}
	}
	if err := webhookwire.Verify(secret, sig, []byte(example), 0, time.Unix(1767607200, 0).Add(time.Minute)); err != nil {
		t.Errorf("the example signature does not verify: %v", err)
	}
	if p := regexp.MustCompile(doc.Components.Schemas["WebhookCreated"].Value.AllOf[1].Value.Properties["secret"].Value.Pattern); !p.MatchString(webhookwire.NewSecret()) || !p.MatchString(secret) {
		t.Errorf("the secret pattern %s does not match the secrets", p)
	}
	if p := regexp.MustCompile(doc.Components.Parameters["WebhookSignature"].Value.Schema.Value.Pattern); !p.MatchString(sig) {
		t.Errorf("the signature pattern %s does not match %s", p, sig)
	}

	// The URL errors documented are the ones the policy gives.
	examples := doc.Paths.Find("/api/v1/webhooks").Post.Responses.Status(400).Value.Content.Get("application/problem+json").Examples
	for name, url := range map[string]string{
		"https":      "http://hooks.example.com/secureops",
		"scheme":     "ftp://hooks.example.com/secureops",
		"notAllowed": "https://169.254.169.254/latest",
	} {
		_, err := webhookwire.CheckURL(url, targets.Policy{})
		ex := examples[name]
		if err == nil || ex == nil {
			t.Errorf("%s: err %v, example %v", name, err, ex)
			continue
		}
		if detail := ex.Value.Value.(map[string]any)["detail"]; detail != err.Error() {
			t.Errorf("%s: example detail %q, CheckURL says %q", name, detail, err)
		}
	}
}

func TestSpecOperations(t *testing.T) {
	ops, err := SpecOperations()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST /api/v1/targets",
		"GET /api/v1/targets",
		"GET /api/v1/targets/{id}",
		"DELETE /api/v1/targets/{id}",
		"POST /api/v1/targets/{id}/verify",
		"POST /api/v1/scans",
		"GET /api/v1/scans",
		"POST /api/v1/scans/import",
		"GET /api/v1/scans/{id}",
		"GET /api/v1/scans/{id}/findings",
		"GET /api/v1/scans/{id}/events",
		"POST /api/v1/scans/{id}/cancel",
		"GET /api/v1/findings",
		"PATCH /api/v1/findings",
		"GET /api/v1/findings/{id}",
		"PATCH /api/v1/findings/{id}",
		"POST /api/v1/schedules",
		"GET /api/v1/schedules",
		"GET /api/v1/schedules/{id}",
		"PATCH /api/v1/schedules/{id}",
		"DELETE /api/v1/schedules/{id}",
		"POST /api/v1/schedules/{id}/pause",
		"POST /api/v1/schedules/{id}/resume",
		"POST /api/v1/schedules/{id}/trigger",
		"GET /api/v1/dashboard",
		"PATCH /api/v1/dashboard/sla",
		"GET /api/v1/usage",
		"POST /api/v1/webhooks",
		"GET /api/v1/webhooks",
		"DELETE /api/v1/webhooks/{id}",
		"GET /api/v1/webhooks/{id}/deliveries",
		"POST /api/v1/webhooks/{id}/test",
		"GET /healthz",
		"GET /readyz",
		"GET /metrics",
		"GET /api/v1/openapi.json",
		"GET /docs",
	}
	for _, k := range want {
		if !ops[k] {
			t.Errorf("SpecOperations lacks %q", k)
		}
	}
	if len(ops) < len(want) {
		t.Errorf("SpecOperations has %d operations, want at least %d: %v", len(ops), len(want), ops)
	}
}

// TestSpecMatchesRouter compares the contract with the route table, both
// ways: a route nobody documented, or a documented operation nobody serves,
// fails here. A new route needs its operation in api/openapi.yaml.
func TestSpecMatchesRouter(t *testing.T) {
	ops, err := SpecOperations()
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	router, err := (&Server{}).Router()
	if err != nil {
		t.Fatal(err)
	}
	err = chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(route, "/")
		if route == "" {
			route = "/"
		}
		if strings.HasSuffix(route, "/*") { // static assets under a documented page
			return nil
		}
		routes[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := range routes {
		if !ops[r] {
			t.Errorf("route %q is not in api/openapi.yaml", r)
		}
	}
	for op := range ops {
		if !routes[op] {
			t.Errorf("operation %q is in api/openapi.yaml but not routed", op)
		}
	}
}

func TestServeOpenAPI(t *testing.T) {
	rec := httptest.NewRecorder()
	ServeOpenAPI(rec, httptest.NewRequest(http.MethodGet, OpenAPIPath, nil))
	res := rec.Result()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if res.Header.Get("ETag") == "" || res.Header.Get("Cache-Control") == "" {
		t.Errorf("cache headers missing: %v", res.Header)
	}
	body := rec.Body.Bytes()
	if !bytes.HasPrefix(body, []byte(`{"openapi":"3.1.0",`)) {
		t.Errorf("body starts %.40q, want the openapi version first", body)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", doc["openapi"])
	}
	// Author order is kept: the paths appear as written in the YAML.
	if i, j := bytes.Index(body, []byte(`"/api/v1/scans"`)), bytes.Index(body, []byte(`"/healthz"`)); i < 0 || j < 0 || i > j {
		t.Errorf("path order not kept (%d, %d)", i, j)
	}

	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, OpenAPIPath, nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	ServeOpenAPI(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("conditional GET: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}

func mustGeneric(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

var scriptSrc = regexp.MustCompile(`<script src="([^"]+)"></script>`)

func TestServeDocs(t *testing.T) {
	for _, path := range []string{"/docs", "/docs/"} {
		rec := httptest.NewRecorder()
		ServeDocs(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", path, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "worker-src 'self' blob:") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		html := rec.Body.String()
		if !strings.Contains(html, `spec-url="/api/v1/openapi.json"`) {
			t.Errorf("%s: page does not load the spec: %s", path, html)
		}
		if strings.Contains(html, "://") {
			t.Errorf("%s: page references another origin: %s", path, html)
		}
		m := scriptSrc.FindStringSubmatch(html)
		if m == nil || !strings.HasPrefix(m[1], "/docs/redoc.standalone.js?v=") {
			t.Fatalf("%s: page does not reference the embedded renderer: %s", path, html)
		}
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP too loose: %q", path, csp)
		}

		// The referenced asset is served, by the same handler.
		arec := httptest.NewRecorder()
		ServeDocs(arec, httptest.NewRequest(http.MethodGet, strings.ReplaceAll(m[1], "&amp;", "&"), nil))
		if arec.Code != http.StatusOK {
			t.Fatalf("asset %s: status %d", m[1], arec.Code)
		}
		if ct := arec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("asset Content-Type %q", ct)
		}
		if cc := arec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("versioned asset Cache-Control %q", cc)
		}
		if want, _ := docsAssets.ReadFile("docs/" + redocAsset); !bytes.Equal(arec.Body.Bytes(), want) {
			t.Errorf("asset body (%d bytes) is not the embedded renderer", arec.Body.Len())
		}
	}

	// Compressed when the client accepts it.
	req := httptest.NewRequest(http.MethodGet, "/docs/redoc.standalone.js", nil)
	req.Header.Set("Accept-Encoding", "br, gzip")
	rec := httptest.NewRecorder()
	ServeDocs(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", rec.Header())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := docsAssets.ReadFile("docs/redoc.standalone.js"); !bytes.Equal(plain, want) {
		t.Error("gzip body differs from the asset")
	}

	for _, path := range []string{"/docs/nope.js", "/docs/../openapi.yaml"} {
		rec := httptest.NewRecorder()
		ServeDocs(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

// TestSpecPermissionsMatchRouter keeps each documented `x-permission` equal
// to the permission the route table enforces.
func TestSpecPermissionsMatchRouter(t *testing.T) {
	doc := loadSpec(t)
	for _, rt := range (&Server{}).Routes() {
		item := doc.Paths.Find(rt.Pattern)
		if item == nil {
			continue // TestSpecMatchesRouter reports it
		}
		op := item.GetOperation(rt.Method)
		if op == nil {
			continue
		}
		got, ok := op.Extensions["x-permission"]
		if !ok {
			if rt.Permission != auth.PermPublic {
				t.Errorf("%s %s: no x-permission, want %q", rt.Method, rt.Pattern, rt.Permission)
			}
			continue
		}
		if got != string(rt.Permission) {
			t.Errorf("%s %s: x-permission %v, route requires %q", rt.Method, rt.Pattern, got, rt.Permission)
		}
		if desc := "**Permission:** `" + string(rt.Permission) + "`"; !strings.Contains(op.Description, desc) {
			t.Errorf("%s %s: description lacks %q", rt.Method, rt.Pattern, desc)
		}
	}
}

func kevEvent(t *testing.T, tenant uuid.UUID, now time.Time) webhookwire.Event {
	t.Helper()
	batch := uuid.New()
	ev, err := webhookwire.NewEvent("finding.kev/"+batch.String(), webhookwire.EventFindingKEV, tenant, now, webhookwire.FindingKEV{
		BatchID: batch, Total: 1, Findings: []webhookwire.KEVFinding{{
			ID: uuid.New(), Title: "Git link following", Severity: "high", CVEs: []string{"CVE-2025-48384"},
			KEVDateAdded: "2025-08-25", KnownRansomware: true, Priority: 66, Component: "git", Version: "2.40.0",
			Target: "image:registry.example/app:1.0", Link: "https://app.example.com/app/findings/" + uuid.NewString(),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
