package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

// seedEverything gives the tenant one row in every tenant table, in one
// statement. A table added later without a row here fails
// TestEveryTenantTableIsolatedBothWays, which is the point: a policy of
// USING (true) on an empty table would pass every other test.
const seedEverything = `
WITH
u AS (INSERT INTO users (id, email) VALUES (gen_random_uuid(), $2 || '@iso.example') RETURNING id),
adm AS (INSERT INTO users (id, email, is_platform_admin) VALUES (gen_random_uuid(), $2 || '-admin@iso.example', true) RETURNING id),
tm AS (INSERT INTO teams (tenant_id, name) VALUES ($1, 'team ' || $2) RETURNING id),
m AS (INSERT INTO memberships (user_id, tenant_id, role, team_id) SELECT u.id, $1, 'client_admin', tm.id FROM u, tm RETURNING id),
k AS (INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, role, created_by)
      SELECT $1, 'key', 'p' || $2, decode(md5($2 || '0'), 'hex'), 'client_api', u.id FROM u RETURNING id),
ik AS (INSERT INTO initial_api_keys (tenant_id, api_key_id, sealed, expires_at) SELECT $1, k.id, decode(md5($2 || '1'), 'hex'), now() + interval '7 days' FROM k RETURNING api_key_id),
imp AS (INSERT INTO impersonations (tenant_id, admin_user_id, user_id, reason, token_hash, expires_at)
        SELECT $1, adm.id, u.id, 'helping', decode(md5($2 || '2'), 'hex'), now() + interval '1 hour' FROM u, adm RETURNING id),
al AS (INSERT INTO audit_log (tenant_id, action) VALUES ($1, 'seed') RETURNING id),
eo AS (INSERT INTO email_outbox (tenant_id, idempotency_key, to_address, subject, body_text)
       VALUES ($1, 'seed/' || $2, $2 || '@iso.example', 'hello', 'body') RETURNING id),
su AS (INSERT INTO signups (token_hash, tenant_id, slug, email, workflow_id)
       VALUES (decode(md5($2 || '3'), 'hex'), $1, $2, $2 || '@iso.example', 'onboarding/' || $2) RETURNING id),
pol AS (INSERT INTO tenant_scan_policies (tenant_id, tier, scanners, max_concurrent_scans, schedule_interval)
        VALUES ($1, 'pro', '{nmap}', 2, interval '7 days') RETURNING tenant_id),
tg AS (INSERT INTO targets (tenant_id, kind, value, host, verification_token)
       VALUES ($1, 'host', $2 || '.iso.example', $2 || '.iso.example', 'tok') RETURNING id),
sch AS (INSERT INTO scan_schedules (tenant_id, target_id, scanners, cron) SELECT $1, tg.id, '{nmap}', '0 3 * * 1' FROM tg RETURNING id),
sc AS (INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, target_id, schedule_id)
       SELECT gen_random_uuid(), $1, $2 || '.iso.example', '{nmap}', 'scan/' || $2, tg.id, sch.id FROM tg, sch RETURNING id),
rep AS (INSERT INTO scan_reports (tenant_id, scan_id, scanner, content) SELECT $1, sc.id, 'nmap', decode(md5($2 || '4'), 'hex') FROM sc RETURNING id),
rc AS (INSERT INTO scan_report_chunks (report_id, seq, tenant_id, data) SELECT rep.id, 0, $1, decode(md5($2 || '6'), 'hex') FROM rep RETURNING report_id),
f AS (INSERT INTO findings (tenant_id, fingerprint, title, severity, scanner, last_scan_id, first_scan_id, cves)
      SELECT $1, 'fp-' || $2, 'Finding of ' || $2, 'high', 'nmap', sc.id, sc.id, '{CVE-2024-0001}' FROM sc RETURNING id),
sf AS (INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity) SELECT sc.id, f.id, $1, 'high' FROM sc, f RETURNING scan_id),
fa AS (INSERT INTO finding_alerts (finding_id, kind, tenant_id, batch_id) SELECT f.id, 'kev', $1, gen_random_uuid() FROM f RETURNING finding_id),
sn AS (INSERT INTO sla_notices (finding_id, stage, tenant_id, batch_id, due_at) SELECT f.id, 'overdue', $1, gen_random_uuid(), now() FROM f RETURNING finding_id),
fe AS (INSERT INTO finding_events (tenant_id, finding_id, actor, from_status, to_status) SELECT $1, f.id, 'seed', 'new', 'open' FROM f RETURNING id),
ft AS (INSERT INTO finding_triage (tenant_id, finding_id, scan_id, source, decision, status) SELECT $1, f.id, sc.id, 'rules', 'valid', 'approved' FROM f, sc RETURNING id),
tr AS (INSERT INTO triage_rules (tenant_id, position, scanner, action) VALUES ($1, 0, 'nmap', 'suppress') RETURNING id),
tfb AS (INSERT INTO triage_feedback (tenant_id, triage_id, finding_id, actor, useful) SELECT $1, ft.id, f.id, 'seed', true FROM ft, f RETURNING id),
dd AS (INSERT INTO scan_defectdojo_imports (scan_id, scanner, tenant_id, test_id, build_id) SELECT sc.id, 'nmap', $1, 1, 'b' FROM sc RETURNING scan_id),
dg AS (INSERT INTO scan_ingest_digests (scan_id, scanner, tenant_id, digest) SELECT sc.id, 'nmap', $1, decode(md5($2 || '5'), 'hex') FROM sc RETURNING scan_id),
ltc AS (INSERT INTO llm_triage_cache (tenant_id, fingerprint, prompt_version, model, decision, confidence)
        VALUES ($1, 'fp-' || $2, 'v1', 'model', 'valid', 0.5) RETURNING tenant_id),
ue AS (INSERT INTO usage_events (tenant_id, scan_id, source, scanners, target, finished_at, duration_ms, status)
       SELECT $1, sc.id, 'scan', '{nmap}', 't', now(), 1, 'completed' FROM sc RETURNING id),
wh AS (INSERT INTO webhooks (tenant_id, url, secret, events)
       VALUES ($1, 'https://hooks.example/' || $2, repeat('s', 32), '{scan.completed}') RETURNING id),
wd AS (INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, event_type, payload)
       SELECT $1, wh.id, 'evt-' || $2, 'ping', '{}' FROM wh RETURNING id),
wa AS (INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt) SELECT $1, wd.id, 1 FROM wd RETURNING id),
inv AS (INSERT INTO invitations (tenant_id, user_id, email, role, token_hash, expires_at)
        SELECT $1, u.id, $2 || '@iso.example', 'client_readonly', decode(md5($2 || '6'), 'hex'), now() + interval '7 days' FROM u RETURNING id),
rp AS (INSERT INTO reports (id, tenant_id, kind, scan_id, workflow_id) SELECT gen_random_uuid(), $1, 'executive', sc.id, 'report/' || $2 FROM sc RETURNING id),
rpc AS (INSERT INTO report_contents (report_id, tenant_id, markdown, html, pdf) SELECT rp.id, $1, '#', '<p>', decode('25504446', 'hex') FROM rp RETURNING report_id),
rpf AS (INSERT INTO report_feedback (report_id, tenant_id, useful) SELECT rp.id, $1, true FROM rp RETURNING id),
se AS (INSERT INTO stripe_events (id, tenant_id, type, object_id, created, payload)
       VALUES ('evt_' || $2, $1, 'invoice.paid', 'in_' || $2, now(), '{}') RETURNING id),
tb AS (INSERT INTO tenant_billing (tenant_id, status, plan, state) VALUES ($1, 'active', 'pro', '{}') RETURNING tenant_id),
bme AS (INSERT INTO billing_meter_events (scan_id, tenant_id, identifier) SELECT sc.id, $1, sc.id::text FROM sc RETURNING scan_id),
tlg AS (INSERT INTO tenant_logos (tenant_id, png, width, height, sha256) VALUES ($1, decode('89504e47', 'hex'), 1, 1, md5($2)) RETURNING tenant_id),
sd AS (INSERT INTO sso_domains (tenant_id, domain, token) VALUES ($1, lower($2) || '.iso.example', 'tok') RETURNING id),
ss AS (INSERT INTO sso_settings (tenant_id) VALUES ($1) RETURNING tenant_id)
SELECT (SELECT count(*) FROM m) + (SELECT count(*) FROM ik) + (SELECT count(*) FROM imp) + (SELECT count(*) FROM al)
     + (SELECT count(*) FROM eo) + (SELECT count(*) FROM su) + (SELECT count(*) FROM pol) + (SELECT count(*) FROM rep) + (SELECT count(*) FROM rc)
     + (SELECT count(*) FROM sf) + (SELECT count(*) FROM fe) + (SELECT count(*) FROM dd) + (SELECT count(*) FROM dg) + (SELECT count(*) FROM ltc)
     + (SELECT count(*) FROM ue) + (SELECT count(*) FROM wa) + (SELECT count(*) FROM inv) + (SELECT count(*) FROM fa)
     + (SELECT count(*) FROM rpc) + (SELECT count(*) FROM rpf) + (SELECT count(*) FROM ft) + (SELECT count(*) FROM tr)
     + (SELECT count(*) FROM tfb)
     + (SELECT count(*) FROM se) + (SELECT count(*) FROM tb) + (SELECT count(*) FROM bme)
     + (SELECT count(*) FROM tlg) + (SELECT count(*) FROM sd) + (SELECT count(*) FROM ss)`

var errRollBack = errors.New("roll back")

func tenantTables(t *testing.T, c *pgx.Conn) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
		  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// Every table with a tenant_id holds rows of two sibling tenants; scoped to
// either, the app role sees exactly its own rows of every table, cannot
// change the other's, and a scope ends with its transaction even on a pool of
// one connection.
func TestEveryTenantTableIsolatedBothWays(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	super := ownerConn(t, d.SuperDSN)
	a, b := seedTenant(t, super, "iso-a"), seedTenant(t, super, "iso-b")
	for id, slug := range map[uuid.UUID]string{a: "iso-a", b: "iso-b"} {
		var n int
		if err := super.QueryRow(ctx, seedEverything, id, slug).Scan(&n); err != nil {
			t.Fatalf("seeding %s: %v", slug, err)
		}
	}
	tables := tenantTables(t, super)
	own := map[string][2]int{} // table → rows of a, rows of b (as the superuser sees them)
	for _, table := range tables {
		var na, nb int
		if err := super.QueryRow(ctx, "SELECT count(*) FILTER (WHERE tenant_id = $1), count(*) FILTER (WHERE tenant_id = $2) FROM "+table, a, b).Scan(&na, &nb); err != nil {
			t.Fatal(err)
		}
		if na == 0 || nb == 0 {
			t.Errorf("table %s has %d rows of tenant A and %d of B: seed both in seedEverything, or its isolation is untested", table, na, nb)
		}
		own[table] = [2]int{na, nb}
	}

	// One connection: each transaction below reuses the previous one's.
	app, err := db.Open(ctx, d.AppDSN+"&pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	for i, me := range []uuid.UUID{a, b, a} {
		other := b
		if me == b {
			other = a
		}
		err := app.InTx(ctx, db.TenantScope(me), func(ctx context.Context, tx pgx.Tx) error {
			for _, table := range tables {
				var total, foreign int
				if err := tx.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE tenant_id = $1) FROM "+table, other).Scan(&total, &foreign); err != nil {
					return err
				}
				want := own[table][0]
				if me == b {
					want = own[table][1]
				}
				if total != want || foreign != 0 {
					t.Errorf("pass %d, table %s: the scope sees %d rows (%d of the other tenant); want exactly its own %d", i, table, total, foreign, want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// Writes to the other tenant's rows touch nothing (or are refused).
	for _, table := range tables {
		set := "tenant_id = tenant_id"
		if table == "tenants" { // its tenant_id is generated from id
			set = "name = name"
		}
		for _, stmt := range []string{
			"UPDATE " + table + " SET " + set + " WHERE tenant_id = $1",
			"DELETE FROM " + table + " WHERE tenant_id = $1",
		} {
			var affected int64
			err := app.InTx(ctx, db.TenantScope(a), func(ctx context.Context, tx pgx.Tx) error {
				tag, err := tx.Exec(ctx, stmt, b)
				if err != nil {
					return err
				}
				affected = tag.RowsAffected()
				return errRollBack // never keep a change, even a wrong one
			})
			var pe *pgconn.PgError
			switch {
			case errors.As(err, &pe) && pe.Code == "42501": // permission denied: also fine
			case err != nil && !errors.Is(err, errRollBack):
				t.Errorf("%s: %v", stmt, err)
			case affected != 0:
				t.Errorf("%s from tenant A's scope touched %d of B's rows", strings.Fields(stmt)[0]+" "+table, affected)
			}
		}
	}

	// The scope of a committed transaction is gone from the connection.
	err = app.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var scope string
		if err := tx.QueryRow(ctx, "SELECT coalesce(current_setting('secureops.tenant_ids', true), '')").Scan(&scope); err != nil {
			return err
		}
		if scope != "" && scope != "{}" {
			t.Errorf("after the transactions ended the pooled connection still has scope %q", scope)
		}
		for _, table := range tables {
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("outside any scope the pooled connection sees %d rows of %s", n, table)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
