package deadlines_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/activities/deadlines"
	"github.com/secureops/secureops/activities/email"
	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/testutil/pgtest"
	"github.com/secureops/secureops/internal/webhookwire"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	app    *db.DB
	super  *pgx.Conn
	tenant uuid.UUID
	acts   *deadlines.Activities
	mail   *email.Activities
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	d := pgtest.New(t)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(context.Background()) })
	app := d.OpenApp(t)
	e := &env{app: app, super: super}
	e.exec(t, "INSERT INTO tenants (slug, name, status) VALUES ('acme', 'Acme', 'active')")
	if err := super.QueryRow(ctx, "SELECT id FROM tenants WHERE slug = 'acme'").Scan(&e.tenant); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ email, role string }{
		{"owner@acme.example", "client_owner"}, {"admin@acme.example", "client_admin"}, {"analyst@acme.example", "client_analyst"},
	} {
		e.exec(t, "WITH u AS (INSERT INTO users (id, email) VALUES (gen_random_uuid(), $1) RETURNING id) "+
			"INSERT INTO memberships (user_id, tenant_id, role) SELECT id, $2, $3 FROM u", m.email, e.tenant, m.role)
	}
	e.exec(t, "INSERT INTO webhooks (tenant_id, url, secret, events) VALUES ($1, 'https://hooks.example/sla', repeat('s', 32), '{finding.sla_breached}')", e.tenant)
	e.exec(t, "INSERT INTO webhooks (tenant_id, url, secret, events) VALUES ($1, 'https://hooks.example/scans', repeat('s', 32), '{scan.completed}')", e.tenant)
	e.acts = &deadlines.Activities{DB: app, PublicURL: "https://secureops.example"}
	e.mail = &email.Activities{DB: app, PublicURL: "https://secureops.example"}
	return e
}

func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.super.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (e *env) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.super.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// finding stores an open finding with the given deadline (nil: none).
func (e *env) finding(t *testing.T, title, severity, status string, due *time.Time) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := e.super.QueryRow(context.Background(), `INSERT INTO findings (tenant_id, fingerprint, title, severity, status, scanner, host, port, sla_due_at)
		VALUES ($1, $2, $2, $3, $4, 'nmap', 'db.acme.example', 5432, $5) RETURNING id`, e.tenant, title, severity, status, due).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func at(t time.Time) *time.Time { return &t }

// One check at a wake-up records each finding's notice for its stage once,
// escalates only the overdue criticals to a finding.sla_breached event for
// the subscribed webhook, and names the next instant; a retried check or
// email activity sends nothing twice, and a later check notices the next
// stage.
func TestCheckNoticesOncePerStage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	soon := e.finding(t, "critical due in 2 days", "critical", "open", at(now.Add(48*time.Hour)))
	breached := e.finding(t, "critical overdue", "critical", "new", at(now.Add(-time.Hour)))
	e.finding(t, "high overdue", "high", "reopened", at(now.Add(-24*time.Hour)))
	later := now.Add(10 * 24 * time.Hour)
	e.finding(t, "medium due in 10 days", "medium", "open", &later)
	e.finding(t, "fixed critical overdue", "critical", "fixed", at(now.Add(-time.Hour)))
	e.finding(t, "info", "info", "open", nil)

	in := sla.CheckInput{TenantID: e.tenant, Now: now, BatchKey: "sla/" + e.tenant.String() + "/1"}
	res, err := e.acts.Check(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Active || res.DueSoon != 1 || res.Overdue != 2 || res.Breached != 1 || !res.Email || len(res.DeliveryIDs) != 1 {
		t.Fatalf("first check %+v; want 1 due soon, 2 overdue, 1 breached, email, 1 delivery", res)
	}
	if want := now.Add(48 * time.Hour); !res.Next.Equal(want) {
		t.Errorf("next %v, want the due-soon critical's deadline %v", res.Next, want)
	}
	// The event: only the overdue critical, to the subscribed webhook only.
	var payload []byte
	if err := e.super.QueryRow(ctx, `SELECT d.payload FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.event_type = 'finding.sla_breached' AND w.url = 'https://hooks.example/sla'`).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	var ev webhookwire.Event
	var data webhookwire.FindingSLABreached
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if ev.ID != deadlines.EventID(deadlines.BatchID(e.tenant, in.BatchKey)) || data.Total != 1 || len(data.Findings) != 1 ||
		data.Findings[0].ID != breached || data.Findings[0].Link != "https://secureops.example/app/findings/"+breached.String() {
		t.Fatalf("event %s %+v", ev.ID, data)
	}
	if n := e.count(t, "SELECT count(*) FROM webhook_deliveries"); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}

	// The same check again (a retried activity): nothing new.
	again, err := e.acts.Check(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if again.DueSoon+again.Overdue+again.Breached != 0 || len(again.DeliveryIDs) != 1 || e.count(t, "SELECT count(*) FROM webhook_deliveries") != 1 {
		t.Fatalf("retried check %+v", again)
	}

	// Emails: one per batch and owner or admin, never the analyst; a retry none.
	r, err := e.mail.SLANotices(ctx, sla.EmailsInput{TenantID: e.tenant})
	if err != nil {
		t.Fatal(err)
	}
	if r.Emails != 2 || r.Batches != 1 {
		t.Fatalf("emails %+v, want 2 in 1 batch", r)
	}
	if r, err = e.mail.SLANotices(ctx, sla.EmailsInput{TenantID: e.tenant}); err != nil || r.Emails != 0 {
		t.Fatalf("emails again %+v %v", r, err)
	}
	var subject, body string
	if err := e.super.QueryRow(ctx, "SELECT subject, body_text FROM email_outbox WHERE to_address = 'owner@acme.example'").Scan(&subject, &body); err != nil {
		t.Fatal(err)
	}
	if subject != "[SecureOps] SLA: 2 finding(s) overdue, 1 due within 3 days" {
		t.Errorf("subject %q", subject)
	}
	for _, s := range []string{"critical overdue", "high overdue", "critical due in 2 days", "/app/findings?sla=overdue"} {
		if !contains(body, s) {
			t.Errorf("body lacks %q:\n%s", s, body)
		}
	}
	if contains(body, "medium due in 10 days") || contains(body, "fixed critical") {
		t.Errorf("body lists a finding not due:\n%s", body)
	}
	if n := e.count(t, "SELECT count(*) FROM email_outbox WHERE to_address = 'analyst@acme.example'"); n != 0 {
		t.Errorf("the analyst got %d emails", n)
	}

	// Two days later the due-soon critical is overdue: its second stage, and a
	// second finding.sla_breached event; the medium one is not yet due soon.
	in2 := sla.CheckInput{TenantID: e.tenant, Now: now.Add(49 * time.Hour), BatchKey: "sla/" + e.tenant.String() + "/2"}
	res2, err := e.acts.Check(ctx, in2)
	if err != nil {
		t.Fatal(err)
	}
	if res2.DueSoon != 0 || res2.Overdue != 1 || res2.Breached != 1 {
		t.Fatalf("second check %+v", res2)
	}
	if want := later.Add(-sla.DueSoon); !res2.Next.Equal(want) {
		t.Errorf("next %v, want the medium finding's due-soon threshold %v", res2.Next, want)
	}
	if n := e.count(t, "SELECT count(*) FROM sla_notices WHERE finding_id = $1", soon); n != 2 {
		t.Errorf("the due-soon critical has %d notices, want due_soon and overdue", n)
	}
	if n := e.count(t, "SELECT count(*) FROM sla_notices"); n != 4 {
		t.Errorf("%d notices, want 4", n)
	}
	if n := e.count(t, "SELECT count(DISTINCT event_id) FROM webhook_deliveries WHERE event_type = 'finding.sla_breached'"); n != 2 {
		t.Errorf("%d finding.sla_breached events, want 2", n)
	}
	if r, err = e.mail.SLANotices(ctx, sla.EmailsInput{TenantID: e.tenant}); err != nil || r.Emails != 2 {
		t.Fatalf("second emails %+v %v", r, err)
	}
	if n := e.count(t, "SELECT count(*) FROM email_outbox"); n != 4 {
		t.Errorf("%d emails in all, want 4", n)
	}

	// Past every deadline: nothing is ahead.
	last, err := e.acts.Check(ctx, sla.CheckInput{TenantID: e.tenant, Now: now.Add(30 * 24 * time.Hour), BatchKey: "sla/" + e.tenant.String() + "/3"})
	if err != nil || !last.Next.IsZero() || last.Overdue != 1 {
		t.Fatalf("check past every deadline: %+v %v; want the medium overdue and no next instant", last, err)
	}
}

// A suspended tenant's check records nothing and ends its workflow.
func TestCheckInactiveTenant(t *testing.T) {
	e := newEnv(t)
	e.finding(t, "critical overdue", "critical", "open", at(time.Now().Add(-time.Hour)))
	e.exec(t, "UPDATE tenants SET status = 'suspended' WHERE id = $1", e.tenant)
	res, err := e.acts.Check(context.Background(), sla.CheckInput{TenantID: e.tenant, Now: time.Now(), BatchKey: "k"})
	if err != nil || res.Active || e.count(t, "SELECT count(*) FROM sla_notices") != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	gone, err := e.acts.Check(context.Background(), sla.CheckInput{TenantID: uuid.New(), Now: time.Now(), BatchKey: "k"})
	if err != nil || gone.Active {
		t.Fatalf("unknown tenant: %+v %v", gone, err)
	}
}

// Changing a tenant's SLA days moves every open finding's deadline at once,
// as findings.SLADue computes it: KEV findings get the critical days, info
// none, closed findings keep theirs.
func TestRecomputeSLA(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first := time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	add := func(title, sev, status string, kev bool) {
		e.exec(t, `INSERT INTO findings (tenant_id, fingerprint, title, severity, status, scanner, kev, first_seen_at)
			VALUES ($1, $2, $2, $3, $4, 'trivy', $5, $6)`, e.tenant, title, sev, status, kev, first)
	}
	add("crit", "critical", "open", false)
	add("high", "high", "new", false)
	add("high kev", "high", "open", true)
	add("low", "low", "reopened", false)
	add("info kev", "info", "open", true)
	add("info", "info", "open", false)
	add("fixed", "high", "fixed", false)
	e.exec(t, `UPDATE tenants SET settings = jsonb_set(settings, '{sla_days}', '{"critical": 3, "high": 14}') WHERE id = $1`, e.tenant)
	var n int64
	err := e.app.InTx(ctx, db.TenantScope(e.tenant), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		n, err = db.RecomputeSLA(ctx, tx, e.tenant)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("%d deadlines moved, want 5", n)
	}
	day := 24 * time.Hour
	want := map[string]*time.Time{
		"crit": at(first.Add(3 * day)), "high": at(first.Add(14 * day)), "high kev": at(first.Add(3 * day)),
		"low": at(first.Add(120 * day)), "info kev": at(first.Add(3 * day)), "info": nil, "fixed": nil,
	}
	for title, w := range want {
		var got *time.Time
		if err := e.super.QueryRow(ctx, "SELECT sla_due_at FROM findings WHERE title = $1", title).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if (got == nil) != (w == nil) || (got != nil && !got.Equal(*w)) {
			t.Errorf("%s: due %v, want %v", title, got, w)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
