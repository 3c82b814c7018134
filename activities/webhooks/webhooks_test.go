package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/activities/webhooks"
	"github.com/secureops/secureops/internal/contract/notify"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/testutil/pgtest"
	"github.com/secureops/secureops/internal/webhookwire"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const publicURL = "https://portal.example.test/"

type env struct {
	t      *testing.T
	super  *pgx.Conn
	acts   *webhooks.Activities
	tenant uuid.UUID
}

func newEnv(t *testing.T) *env {
	ctx := context.Background()
	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(ctx) })
	e := &env{t: t, super: super}
	e.acts = &webhooks.Activities{DB: d.OpenApp(t), Policy: targets.Policy{LoopbackOnly: true}, PublicURL: publicURL, Timeout: 5 * time.Second}
	if err := super.QueryRow(ctx, "INSERT INTO tenants (slug, name, status) VALUES ('acme', 'Acme', 'active') RETURNING id").Scan(&e.tenant); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.super.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) webhook(url string, events ...string) (uuid.UUID, string) {
	e.t.Helper()
	secret := webhookwire.NewSecret()
	var id uuid.UUID
	if err := e.super.QueryRow(context.Background(), `INSERT INTO webhooks (tenant_id, url, secret, events)
		VALUES ($1, $2, $3, $4) RETURNING id`, e.tenant, url, secret, events).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id, secret
}

var (
	started  = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	finished = started.Add(7 * time.Minute)
)

// finishedScan is a completed scan of 127.0.0.1:8443 that found one new
// critical finding (plus one critical seen before, which is not "new").
func (e *env) finishedScan() (uuid.UUID, uuid.UUID) {
	e.t.Helper()
	id := uuid.New()
	e.exec(`INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, status, progress,
			count_critical, count_high, count_medium, count_low, count_info,
			diff_new, diff_open, diff_fixed, diff_reopened, started_at, finished_at)
		VALUES ($1, $2, '127.0.0.1:8443', '{nmap,nuclei}', $3, 'completed', 100, 2, 1, 0, 3, 5, 4, 6, 1, 0, $4, $5)`,
		id, e.tenant, "scan/"+id.String(), started, finished)
	var newCrit, oldCrit uuid.UUID
	ctx := context.Background()
	for _, f := range []struct {
		dst    *uuid.UUID
		fp     string
		title  string
		change string
	}{{&newCrit, "fp-new", "Apache Struts RCE", "new"}, {&oldCrit, "fp-old", "OpenSSL heap overflow", "open"}} {
		if err := e.super.QueryRow(ctx, `INSERT INTO findings (tenant_id, fingerprint, title, severity, scanner, cves, host, port, url, scan_target, component, component_version)
			VALUES ($1, $2, $3, 'critical', 'nuclei', '{CVE-2017-5638}', '127.0.0.1', 8443, 'https://127.0.0.1:8443/struts', '127.0.0.1:8443', 'struts2', '2.3.31')
			RETURNING id`, e.tenant, f.fp, f.title).Scan(f.dst); err != nil {
			e.t.Fatal(err)
		}
		e.exec(`INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity, change) VALUES ($1, $2, $3, 'critical', $4)`, id, *f.dst, e.tenant, f.change)
	}
	return id, newCrit
}

type delivery struct {
	status    string
	attempts  int
	lastCode  *int
	lastError string
	eventType string
}

func (e *env) delivery(id uuid.UUID) delivery {
	e.t.Helper()
	var d delivery
	if err := e.super.QueryRow(context.Background(), `SELECT status, attempts, last_status_code, last_error, event_type
		FROM webhook_deliveries WHERE id = $1`, id).Scan(&d.status, &d.attempts, &d.lastCode, &d.lastError, &d.eventType); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) attemptCodes(id uuid.UUID) []int {
	e.t.Helper()
	rows, err := e.super.Query(context.Background(), `SELECT attempt, COALESCE(status_code, 0) FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt`, id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []int
	for n := 1; rows.Next(); n++ {
		var a, c int
		if err := rows.Scan(&a, &c); err != nil {
			e.t.Fatal(err)
		}
		if a != n {
			e.t.Errorf("attempt numbers out of sequence: %d at position %d", a, n)
		}
		out = append(out, c)
	}
	return out
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.super.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// receiver is a tenant's endpoint on loopback: it checks each request the
// way a careful receiver would and answers from a script.
type receiver struct {
	t       *testing.T
	secret  string
	srv     *httptest.Server
	mu      sync.Mutex
	answers []int // status per request; the last repeats
	bodies  [][]byte
	headers []http.Header
}

func newReceiver(t *testing.T, secret string, answers ...int) *receiver {
	r := &receiver{t: t, secret: secret, answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.bodies)
		r.bodies = append(r.bodies, body)
		r.headers = append(r.headers, req.Header.Clone())
		code := r.answers[min(n, len(r.answers)-1)]
		r.mu.Unlock()
		if req.Method != http.MethodPost || req.URL.Path != "/hook" {
			t.Errorf("request %s %s, want POST /hook", req.Method, req.URL.Path)
		}
		if err := webhookwire.Verify(r.secret, req.Header.Get(webhookwire.HeaderSignature), body, time.Minute, time.Now()); err != nil {
			t.Errorf("signature does not verify: %v", err)
			code = http.StatusUnauthorized
		}
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "120")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hook" }

func (r *receiver) hits() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func appErr(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an application error", err)
	}
	return ae
}

// The whole path for one scan: events prepared once per subscribed active
// webhook, a delivery that meets a 500 and then a 200 (two attempts, one
// delivered delivery), exact headers and body, and nothing sent or enqueued
// twice when Prepare and Deliver run again.
func TestWebhookPrepareAndDeliverWithRetry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	scanID, critID := e.finishedScan()
	secret := webhookwire.NewSecret()
	rcv := newReceiver(t, secret, 500, 200)
	var hookID uuid.UUID
	if err := e.super.QueryRow(ctx, `INSERT INTO webhooks (tenant_id, url, secret, events)
		VALUES ($1, $2, $3, '{scan.completed,finding.critical}') RETURNING id`, e.tenant, rcv.url(), secret).Scan(&hookID); err != nil {
		t.Fatal(err)
	}
	onlyScans, _ := e.webhook("http://127.0.0.1:9/scans-only", webhookwire.EventScanCompleted)
	off, _ := e.webhook("http://127.0.0.1:9/off", webhookwire.EventScanCompleted, webhookwire.EventFindingCritical)
	e.exec("UPDATE webhooks SET active = false WHERE id = $1", off)

	ref := scan.Ref{TenantID: e.tenant, ScanID: scanID}
	p, err := e.acts.Prepare(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.DeliveryIDs) != 3 {
		t.Fatalf("prepared %d deliveries, want 3 (2 events to the first webhook, 1 to the scans-only one)", len(p.DeliveryIDs))
	}
	if n := e.count("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1", off); n != 0 {
		t.Errorf("an inactive webhook got %d deliveries", n)
	}
	if n := e.count("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1", onlyScans); n != 1 {
		t.Errorf("the scans-only webhook got %d deliveries, want 1", n)
	}
	var completedID, criticalID uuid.UUID
	if err := e.super.QueryRow(ctx, `SELECT
			(SELECT id FROM webhook_deliveries WHERE webhook_id = $1 AND event_id = $2),
			(SELECT id FROM webhook_deliveries WHERE webhook_id = $1 AND event_id = $3)`,
		hookID, "scan.completed/"+scanID.String(), "finding.critical/"+scanID.String()).Scan(&completedID, &criticalID); err != nil {
		t.Fatal(err)
	}

	// First attempt: the receiver answers 500, a retryable failure.
	_, err = e.acts.Deliver(ctx, notify.DeliveryRef{TenantID: e.tenant, DeliveryID: completedID})
	if ae := appErr(t, err); ae.Type() != notify.ErrDeliveryFailed || ae.NonRetryable() {
		t.Fatalf("after a 500: %v (type %s), want a retryable %s", err, ae.Type(), notify.ErrDeliveryFailed)
	}
	if d := e.delivery(completedID); d.status != "pending" || d.attempts != 1 || d.lastCode == nil || *d.lastCode != 500 ||
		!strings.Contains(d.lastError, "500") {
		t.Errorf("after a 500: %+v", d)
	}
	// Temporal's retry: 200.
	res, err := e.acts.Deliver(ctx, notify.DeliveryRef{TenantID: e.tenant, DeliveryID: completedID})
	if err != nil || res.Status != "delivered" || res.StatusCode != 200 {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if d := e.delivery(completedID); d.status != "delivered" || d.attempts != 2 || *d.lastCode != 200 || d.lastError != "" {
		t.Errorf("after the retry: %+v", d)
	}
	if codes := e.attemptCodes(completedID); !reflect.DeepEqual(codes, []int{500, 200}) {
		t.Errorf("attempts %v, want [500 200]", codes)
	}

	// Exact request: headers, envelope, data; both attempts sent the same body.
	if rcv.hits() != 2 || string(rcv.bodies[0]) != string(rcv.bodies[1]) {
		t.Fatalf("%d requests; bodies equal: %v", rcv.hits(), rcv.hits() == 2 && string(rcv.bodies[0]) == string(rcv.bodies[1]))
	}
	h := rcv.headers[1]
	for k, want := range map[string]string{
		"Content-Type":           "application/json",
		"User-Agent":             "SecureOps-Webhooks/1",
		"X-Secureops-Event-Id":   "scan.completed/" + scanID.String(),
		"X-Secureops-Event-Type": "scan.completed",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if sig := h.Get("X-SecureOps-Signature"); !strings.HasPrefix(sig, "t=") || !strings.Contains(sig, ",v1=") {
		t.Errorf("signature header %q", sig)
	}
	link := "https://portal.example.test/app/scans/" + scanID.String()
	wantBody := `{"id":"scan.completed/` + scanID.String() + `","type":"scan.completed","created_at":"2026-03-01T10:07:00Z",` +
		`"tenant_id":"` + e.tenant.String() + `","data":{"scan_id":"` + scanID.String() + `","target":"127.0.0.1:8443",` +
		`"status":"completed","scanners":["nmap","nuclei"],"counts":{"critical":2,"high":1,"medium":0,"low":3,"info":5},` +
		`"diff":{"new":4,"open":6,"fixed":1,"reopened":0},"started_at":"2026-03-01T10:00:00Z","finished_at":"2026-03-01T10:07:00Z",` +
		`"url":"` + link + `"}}`
	if got := string(rcv.bodies[1]); got != wantBody {
		t.Errorf("body\n%s\nwant\n%s", got, wantBody)
	}

	// The critical event lists the new critical finding only.
	res, err = e.acts.Deliver(ctx, notify.DeliveryRef{TenantID: e.tenant, DeliveryID: criticalID})
	if err != nil || res.Status != "delivered" {
		t.Fatalf("critical: %+v %v", res, err)
	}
	var crit struct {
		Type string                      `json:"type"`
		Data webhookwire.FindingCritical `json:"data"`
	}
	if err := json.Unmarshal(rcv.bodies[2], &crit); err != nil {
		t.Fatal(err)
	}
	wantCrit := webhookwire.FindingCritical{ScanID: scanID, Target: "127.0.0.1:8443", Total: 1, URL: link,
		Findings: []webhookwire.CriticalFinding{{ID: critID, Title: "Apache Struts RCE", Severity: "critical", CVEs: []string{"CVE-2017-5638"},
			Host: "127.0.0.1", Port: 8443, URL: "https://127.0.0.1:8443/struts", Component: "struts2", Version: "2.3.31", Target: "127.0.0.1:8443"}}}
	if crit.Type != "finding.critical" || !reflect.DeepEqual(crit.Data, wantCrit) {
		t.Errorf("critical event %+v\nwant %+v", crit, wantCrit)
	}
	if got := rcv.headers[2].Get(webhookwire.HeaderEventID); got != "finding.critical/"+scanID.String() {
		t.Errorf("critical event id %q", got)
	}

	// A retried Prepare (or a reset workflow) enqueues nothing new and hands
	// back only what is still to send; a repeated Deliver sends nothing.
	p2, err := e.acts.Prepare(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.DeliveryIDs) != 1 || p2.DeliveryIDs[0] == completedID || p2.DeliveryIDs[0] == criticalID {
		t.Errorf("second Prepare returned %v, want only the scans-only webhook's delivery", p2.DeliveryIDs)
	}
	if n := e.count("SELECT count(*) FROM webhook_deliveries"); n != 3 {
		t.Errorf("%d deliveries after a second Prepare, want 3", n)
	}
	for _, id := range []uuid.UUID{completedID, criticalID} {
		res, err := e.acts.Deliver(ctx, notify.DeliveryRef{TenantID: e.tenant, DeliveryID: id})
		if err != nil || !res.Skipped || res.Status != "delivered" {
			t.Errorf("repeated Deliver: %+v %v", res, err)
		}
	}
	if rcv.hits() != 3 {
		t.Errorf("receiver saw %d requests, want 3 (each event delivered once, one retry)", rcv.hits())
	}
	if d := e.delivery(completedID); d.attempts != 2 {
		t.Errorf("a skipped Deliver recorded an attempt: %+v", d)
	}
}

// Receivers' permanent answers: 410 switches the webhook off, other 4xx
// fail the delivery for good, 429 is retried after the receiver's
// Retry-After.
func TestWebhookPermanentAndThrottledAnswers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	scanID, _ := e.finishedScan()
	cases := []struct {
		code      int
		errType   string
		retryable bool
		status    string
	}{
		{410, notify.ErrWebhookGone, false, "failed"},
		{404, notify.ErrDeliveryRejected, false, "failed"},
		{302, notify.ErrDeliveryRejected, false, "failed"},
		{429, notify.ErrDeliveryFailed, true, "pending"},
		{408, notify.ErrDeliveryFailed, true, "pending"},
	}
	hooks := map[int]uuid.UUID{}
	for _, c := range cases {
		secret := webhookwire.NewSecret()
		rcv := newReceiver(t, secret, c.code)
		var id uuid.UUID
		if err := e.super.QueryRow(ctx, `INSERT INTO webhooks (tenant_id, url, secret, events) VALUES ($1, $2, $3, '{scan.completed}') RETURNING id`,
			e.tenant, rcv.url(), secret).Scan(&id); err != nil {
			t.Fatal(err)
		}
		hooks[c.code] = id
	}
	if _, err := e.acts.Prepare(ctx, scan.Ref{TenantID: e.tenant, ScanID: scanID}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		var did uuid.UUID
		if err := e.super.QueryRow(ctx, "SELECT id FROM webhook_deliveries WHERE webhook_id = $1", hooks[c.code]).Scan(&did); err != nil {
			t.Fatal(err)
		}
		_, err := e.acts.Deliver(ctx, notify.DeliveryRef{TenantID: e.tenant, DeliveryID: did})
		ae := appErr(t, err)
		if ae.Type() != c.errType || ae.NonRetryable() == c.retryable {
			t.Errorf("%d: error %v type %s non-retryable %v", c.code, err, ae.Type(), ae.NonRetryable())
		}
		if c.code == 429 && ae.NextRetryDelay() != 2*time.Minute {
			t.Errorf("429 with Retry-After: 120 retries after %v", ae.NextRetryDelay())
		}
		if d := e.delivery(did); d.status != c.status || d.attempts != 1 || *d.lastCode != c.code {
			t.Errorf("%d: delivery %+v", c.code, d)
		}
	}
	var active bool
	var reason string
	if err := e.super.QueryRow(ctx, "SELECT active, disabled_reason FROM webhooks WHERE id = $1", hooks[410]).Scan(&active, &reason); err != nil {
		t.Fatal(err)
	}
	if active || !strings.Contains(reason, "410") {
		t.Errorf("after 410: active %v, reason %q", active, reason)
	}
	if n := e.count("SELECT count(*) FROM webhooks WHERE active"); n != len(cases)-1 {
		t.Errorf("%d active webhooks, want only the 410 one switched off", n)
	}

	// MarkFailed closes a pending delivery and leaves the others alone.
	var pending uuid.UUID
	if err := e.super.QueryRow(ctx, "SELECT id FROM webhook_deliveries WHERE webhook_id = $1", hooks[429]).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if err := e.acts.MarkFailed(ctx, notify.MarkFailedInput{TenantID: e.tenant, DeliveryID: pending, Reason: "gave up: the receiver answered 429"}); err != nil {
		t.Fatal(err)
	}
	if d := e.delivery(pending); d.status != "failed" || d.lastError != "gave up: the receiver answered 429" {
		t.Errorf("after MarkFailed: %+v", d)
	}
}

// Under a production policy a webhook aimed at loopback is never called,
// even when its row got past the API (or its name now resolves there).
func TestWebhookLoopbackRefusedUnderProductionPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	scanID, _ := e.finishedScan()
	secret := webhookwire.NewSecret()
	rcv := newReceiver(t, secret, 200)
	if _, err := e.super.Exec(ctx, `INSERT INTO webhooks (tenant_id, url, secret, events) VALUES ($1, $2, $3, '{scan.completed}')`,
		e.tenant, rcv.url(), secret); err != nil {
		t.Fatal(err)
	}
	if _, err := webhookwire.CheckURL(strings.Replace(rcv.url(), "http:", "https:", 1), targets.Policy{}); !errors.Is(err, targets.ErrNotAllowed) {
		t.Errorf("CheckURL of loopback under production: %v, want ErrNotAllowed", err)
	}
	prod := *e.acts
	prod.Policy = targets.Policy{}
	p, err := prod.Prepare(ctx, scan.Ref{TenantID: e.tenant, ScanID: scanID})
	if err != nil || len(p.DeliveryIDs) != 1 {
		t.Fatalf("prepare: %v %v", p, err)
	}
	_, err = prod.Deliver(ctx, notify.DeliveryRef{TenantID: e.tenant, DeliveryID: p.DeliveryIDs[0]})
	if ae := appErr(t, err); ae.Type() != notify.ErrURLRefused || !ae.NonRetryable() {
		t.Fatalf("deliver to loopback under production: %v", err)
	}
	if rcv.hits() != 0 {
		t.Errorf("the receiver was called %d times", rcv.hits())
	}
	if d := e.delivery(p.DeliveryIDs[0]); d.status != "failed" || d.lastCode != nil || !strings.Contains(d.lastError, "not allowed") || strings.Contains(d.lastError, "127.0.0.1") {
		t.Errorf("delivery %+v", d)
	}
}

func TestWebhookPrepareRefusesUnfinishedAndMissingScans(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := uuid.New()
	e.exec(`INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, status) VALUES ($1, $2, '127.0.0.1', '{nmap}', 'scan/x', 'running')`, id, e.tenant)
	_, err := e.acts.Prepare(ctx, scan.Ref{TenantID: e.tenant, ScanID: id})
	if ae := appErr(t, err); ae.Type() != notify.ErrScanNotFinished || !ae.NonRetryable() {
		t.Errorf("running scan: %v", err)
	}
	_, err = e.acts.Prepare(ctx, scan.Ref{TenantID: e.tenant, ScanID: uuid.New()})
	if ae := appErr(t, err); ae.Type() != notify.ErrScanGone {
		t.Errorf("missing scan: %v", err)
	}
	// Another tenant's scan is as good as missing (RLS).
	other := uuid.New()
	e.exec(`INSERT INTO tenants (id, slug, name, status) VALUES ($1, 'other', 'Other', 'active')`, other)
	_, err = e.acts.Prepare(ctx, scan.Ref{TenantID: other, ScanID: id})
	if ae := appErr(t, err); ae.Type() != notify.ErrScanGone {
		t.Errorf("foreign scan: %v", err)
	}
}

// A receiver that cannot be reached gets one sentence in the tenant's view of
// the delivery: not the address, not refused-versus-timeout.
func TestWebhookDeliveryErrorsAreGeneric(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	scanID, _ := e.finishedScan()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/hook"
	l.Close()
	if _, err := e.super.Exec(ctx, `INSERT INTO webhooks (tenant_id, url, secret, events) VALUES ($1, $2, $3, '{scan.completed}')`,
		e.tenant, closed, webhookwire.NewSecret()); err != nil {
		t.Fatal(err)
	}
	p, err := e.acts.Prepare(ctx, scan.Ref{TenantID: e.tenant, ScanID: scanID})
	if err != nil || len(p.DeliveryIDs) != 1 {
		t.Fatalf("prepare: %v %v", p, err)
	}
	_, err = e.acts.Deliver(ctx, notify.DeliveryRef{TenantID: e.tenant, DeliveryID: p.DeliveryIDs[0]})
	if ae := appErr(t, err); ae.Type() != notify.ErrDeliveryFailed || ae.NonRetryable() {
		t.Fatalf("deliver to a closed port: %v", err)
	}
	d := e.delivery(p.DeliveryIDs[0])
	if d.lastError != "no answer from the receiver (connection failed or timed out)" {
		t.Errorf("the tenant reads %q", d.lastError)
	}
}
