package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/tenancy"
)

var seq atomic.Int64

func next() int64 { return seq.Add(1) }

var adminScope = db.Scope{PlatformAdmin: true}

// fixtures creates objects the route under test acts on, inside tenant ten.
type fixtures struct {
	t  *testing.T
	p  *platform
	kr *kratos.Client
}

func (f fixtures) tx(fn func(ctx context.Context, tx pgx.Tx) error) {
	f.t.Helper()
	if err := f.p.db.InTx(context.Background(), adminScope, fn); err != nil {
		f.t.Fatal(err)
	}
}

func (f fixtures) scan(ten uuid.UUID) uuid.UUID {
	id := uuid.New()
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.Q.ScanCreate(ctx, tx, dbq.ScanCreateParams{ID: id, TenantID: ten, Target: "127.0.0.1:9", Scanners: []string{"nmap"}, WorkflowID: "scan/" + id.String(), Source: "scan", Complete: true})
		return err
	})
	return id
}

// logo gives the tenant a logo (its reports carry it).
func (f fixtures) logo(ten uuid.UUID) {
	l, err := tenancy.DecodeLogo(tinyPNG(f.t), "image/png")
	if err != nil {
		f.t.Fatal(err)
	}
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		_, err := tenancy.SetLogo(ctx, tx, ten, l, uuid.NullUUID{})
		return err
	})
}

// report is a ready report of the tenant, with its renderings.
func (f fixtures) report(ten uuid.UUID) uuid.UUID {
	id := uuid.New()
	from, to := time.Now().Add(-time.Hour), time.Now()
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		if _, err := db.Q.ReportCreate(ctx, tx, dbq.ReportCreateParams{ID: id, TenantID: ten, Kind: "executive", PeriodFrom: &from, PeriodTo: &to, WorkflowID: "report/" + id.String()}); err != nil {
			return err
		}
		if _, err := db.Q.ReportContentInsert(ctx, tx, dbq.ReportContentInsertParams{ReportID: id, TenantID: ten, Markdown: "#", Html: "<p>", Pdf: []byte("%PDF-")}); err != nil {
			return err
		}
		return db.Q.ReportMarkReady(ctx, tx, dbq.ReportMarkReadyParams{ID: id, Facts: []byte(`{}`), ProseSource: "rules"})
	})
	return id
}

// startedScan is a scan whose workflow exists (no worker runs it here), so
// it can be cancelled.
func (f fixtures) startedScan(ten uuid.UUID) uuid.UUID {
	id := f.scan(ten)
	_, err := f.p.temporal.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: scan.WorkflowID(id), TaskQueue: temporalx.QueueScans},
		scan.WorkflowName, scan.Input{TenantID: ten, ScanID: id, Target: "127.0.0.1:9", Scanners: []string{"nmap"}})
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f fixtures) verifiedTarget(ten uuid.UUID) uuid.UUID {
	var id uuid.UUID
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		row, err := db.Q.TargetCreate(ctx, tx, dbq.TargetCreateParams{TenantID: ten, Kind: "host",
			Value: fmt.Sprintf("127.0.0.1:%d", 1024+next()), Host: "127.0.0.1", VerificationToken: "tok", VerificationStatus: "verified"})
		id = row.ID
		return err
	})
	return id
}

func (f fixtures) schedule(ten uuid.UUID) uuid.UUID {
	target := f.verifiedTarget(ten)
	var id uuid.UUID
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		row, err := db.Q.ScheduleUpsert(ctx, tx, dbq.ScheduleUpsertParams{TenantID: ten, TargetID: target, Scanners: []string{"nmap"},
			IntervalSeconds: int32(3600 + next()), Timezone: "UTC"})
		id = row.ID
		return err
	})
	return id
}

func (f fixtures) target(ten uuid.UUID) uuid.UUID {
	var id uuid.UUID
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		row, err := db.Q.TargetCreate(ctx, tx, dbq.TargetCreateParams{TenantID: ten, Kind: "domain",
			Value: fmt.Sprintf("t%d.example.com", next()), VerificationToken: "tok", VerificationStatus: "unverified"})
		id = row.ID
		return err
	})
	return id
}

func (f fixtures) webhook(ten uuid.UUID) uuid.UUID {
	var id uuid.UUID
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		row, err := db.Q.WebhookCreate(ctx, tx, dbq.WebhookCreateParams{TenantID: ten, Url: fmt.Sprintf("http://127.0.0.1:9/hook%d", next()),
			Secret: "whsec_matrix-fixture-secret-0123456789abcdef", Events: []string{"scan.completed"}})
		id = row.ID
		return err
	})
	return id
}

func (f fixtures) finding(ten uuid.UUID) uuid.UUID {
	var id uuid.UUID
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO findings (tenant_id, fingerprint, title, severity, scanner)
			VALUES ($1, $2, 'A finding', 'high', 'nmap') RETURNING id`, ten, fmt.Sprintf("fp-%d", next())).Scan(&id)
	})
	return id
}

func (f fixtures) triageRule(ten uuid.UUID) uuid.UUID {
	var id uuid.UUID
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO triage_rules (tenant_id, position, scanner, action)
			VALUES ($1, 0, 'nmap', 'suppress') RETURNING id`, ten).Scan(&id)
	})
	return id
}

// multipartBoundary marks a request body as multipart/form-data for call.
const multipartBoundary = "secureops-matrix-boundary"

func importBody() string {
	var b strings.Builder
	field := func(name, v string) {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", multipartBoundary, name, v)
	}
	field("scanner", "nmap")
	field("target", "127.0.0.1")
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan.xml\"\r\nContent-Type: application/xml\r\n\r\n", multipartBoundary)
	b.WriteString(`<?xml version="1.0"?><nmaprun scanner="nmap"></nmaprun>` + "\r\n")
	fmt.Fprintf(&b, "--%s--\r\n", multipartBoundary)
	return b.String()
}

func (f fixtures) team(ten uuid.UUID) uuid.UUID {
	var id uuid.UUID
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		t, err := db.Q.TeamCreate(ctx, tx, dbq.TeamCreateParams{TenantID: ten, Name: fmt.Sprintf("team-%d", next())})
		id = t.ID
		return err
	})
	return id
}

// member adds a user (no Kratos identity needed: the API never asks Kratos
// about users it only manages) with role readonly.
func (f fixtures) member(ten uuid.UUID) uuid.UUID {
	id := uuid.New()
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: id, Email: fmt.Sprintf("m%d@example.test", next()), Name: "M"}); err != nil {
			return err
		}
		_, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: id, TenantID: ten, Role: "client_readonly"})
		return err
	})
	return id
}

func (f fixtures) apiKey(ten uuid.UUID) uuid.UUID {
	var id uuid.UUID
	_, prefix, hash, _ := auth.NewAPIKey()
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		k, err := db.Q.APIKeyCreate(ctx, tx, dbq.APIKeyCreateParams{TenantID: ten, Prefix: prefix, SecretHash: hash, Role: "client_readonly", Scopes: []string{}})
		id = k.ID
		return err
	})
	return id
}

func (f fixtures) child(ten uuid.UUID, status string) uuid.UUID {
	id := uuid.New()
	f.tx(func(ctx context.Context, tx pgx.Tx) error {
		_, err := db.Q.TenantCreate(ctx, tx, dbq.TenantCreateParams{ID: id, ParentID: uuid.NullUUID{UUID: ten, Valid: true},
			Slug: fmt.Sprintf("throwaway-%d", next()), Name: "Throwaway", Tier: "basic", Status: status})
		return err
	})
	return id
}

// request builds a valid call of the route acting on tenant ten, so that the
// only reason for a refusal is the caller's access.
func (f fixtures) request(method, pattern string, ten uuid.UUID) (path, body string) {
	n := next()
	switch method + " " + pattern {
	case "POST /api/v1/scans":
		return pattern, `{"target":"127.0.0.1:9"}`
	case "POST /api/v1/scans/import":
		return pattern, importBody()
	case "POST /api/v1/schedules":
		return pattern, fmt.Sprintf(`{"target_id":%q,"interval":"%ds"}`, f.verifiedTarget(ten), 3600+n)
	case "GET /api/v1/schedules/{id}", "DELETE /api/v1/schedules/{id}", "POST /api/v1/schedules/{id}/pause",
		"POST /api/v1/schedules/{id}/resume", "POST /api/v1/schedules/{id}/trigger":
		return strings.Replace(pattern, "{id}", f.schedule(ten).String(), 1), ""
	case "PATCH /api/v1/schedules/{id}":
		return strings.Replace(pattern, "{id}", f.schedule(ten).String(), 1), `{"description":"renamed"}`
	case "POST /api/v1/targets":
		return pattern, fmt.Sprintf(`{"kind":"domain","value":"new%d.example.com"}`, n)
	case "GET /api/v1/targets/{id}", "DELETE /api/v1/targets/{id}", "POST /api/v1/targets/{id}/verify":
		return strings.Replace(pattern, "{id}", f.target(ten).String(), 1), ""
	case "POST /api/v1/webhooks":
		return pattern, fmt.Sprintf(`{"url":"http://127.0.0.1:9/hook%d"}`, n)
	case "DELETE /api/v1/webhooks/{id}", "GET /api/v1/webhooks/{id}/deliveries", "POST /api/v1/webhooks/{id}/test":
		return strings.Replace(pattern, "{id}", f.webhook(ten).String(), 1), ""
	case "GET /api/v1/findings/{id}":
		return strings.Replace(pattern, "{id}", f.finding(ten).String(), 1), ""
	case "PATCH /api/v1/findings/{id}":
		return strings.Replace(pattern, "{id}", f.finding(ten).String(), 1), `{"status":"accepted_risk","comment":"compensating control"}`
	case "PATCH /api/v1/dashboard/sla":
		return pattern, `{"critical":5}`
	case "POST /api/v1/billing/plan":
		return pattern, `{"plan":"enterprise"}`
	case "PATCH /api/v1/triage/settings":
		return pattern, `{"llm_opt_in":true}`
	case "PATCH /api/v1/security/settings":
		return pattern, `{"require_mfa":false}`
	case "GET /api/v1/branding/logo":
		f.logo(ten)
		return pattern, ""
	case "PUT /api/v1/branding/logo":
		return pattern, `{"image_base64":"` + base64.StdEncoding.EncodeToString(tinyPNG(f.t)) + `"}`
	case "PATCH /api/v1/sso":
		f.enterprise(ten)
		return pattern, `{"default_role":"client_readonly"}`
	case "POST /api/v1/sso/domains":
		f.enterprise(ten)
		return pattern, fmt.Sprintf(`{"domain":"sso%d.example.com"}`, n)
	case "POST /api/v1/sso/domains/{id}/verify", "DELETE /api/v1/sso/domains/{id}":
		return strings.Replace(pattern, "{id}", f.ssoDomain(ten).String(), 1), ""
	case "PATCH /api/v1/findings":
		return pattern, fmt.Sprintf(`{"ids":[%q],"status":"false_positive"}`, f.finding(ten))
	case "POST /api/v1/scans/{id}/cancel":
		return strings.Replace(pattern, "{id}", f.startedScan(ten).String(), 1), ""
	case "GET /api/v1/scans/{id}", "GET /api/v1/scans/{id}/findings", "GET /api/v1/scans/{id}/events":
		return strings.Replace(pattern, "{id}", f.scan(ten).String(), 1), ""
	case "POST /api/v1/reports":
		return pattern, fmt.Sprintf(`{"scan_id":%q}`, f.scan(ten))
	case "GET /api/v1/reports/{id}", "GET /api/v1/reports/{id}.pdf", "GET /api/v1/reports/{id}.html", "GET /api/v1/reports/{id}.md":
		return strings.Replace(pattern, "{id}", f.report(ten).String(), 1), ""
	case "POST /api/v1/reports/{id}/feedback":
		return strings.Replace(pattern, "{id}", f.report(ten).String(), 1), `{"useful":true}`
	case "GET /api/v1/tenants/{id}", "GET /api/v1/tenants/{id}/children", "GET /api/v1/tenants/{id}/tree":
		return strings.Replace(pattern, "{id}", ten.String(), 1), ""
	case "POST /api/v1/tenants/{id}/children":
		return strings.Replace(pattern, "{id}", ten.String(), 1), fmt.Sprintf(`{"name":"Child %d"}`, n)
	case "POST /api/v1/teams":
		return pattern, fmt.Sprintf(`{"name":"New team %d"}`, n)
	case "GET /api/v1/teams/{id}", "DELETE /api/v1/teams/{id}":
		return strings.Replace(pattern, "{id}", f.team(ten).String(), 1), ""
	case "PATCH /api/v1/teams/{id}":
		return strings.Replace(pattern, "{id}", f.team(ten).String(), 1), fmt.Sprintf(`{"name":"Renamed %d"}`, n)
	case "POST /api/v1/users":
		return pattern, fmt.Sprintf(`{"email":"invitee%d@example.test","name":"Invitee","role":"client_readonly"}`, n)
	case "PATCH /api/v1/users/{id}":
		return strings.Replace(pattern, "{id}", f.member(ten).String(), 1), `{"role":"client_analyst"}`
	case "DELETE /api/v1/users/{id}":
		return strings.Replace(pattern, "{id}", f.member(ten).String(), 1), ""
	case "POST /api/v1/api-keys":
		return pattern, `{"name":"ci","role":"client_readonly"}`
	case "DELETE /api/v1/api-keys/{id}":
		return strings.Replace(pattern, "{id}", f.apiKey(ten).String(), 1), ""
	case "POST /api/v1/admin/tenants/{id}/suspend":
		return strings.Replace(pattern, "{id}", f.child(ten, "active").String(), 1), ""
	case "POST /api/v1/admin/tenants/{id}/resume":
		return strings.Replace(pattern, "{id}", f.child(ten, "suspended").String(), 1), ""
	case "POST /api/v1/api-keys/initial/reveal":
		f.initialKey(ten)
		return pattern, ""
	case "POST /api/v1/codec/encode", "POST /api/v1/codec/decode":
		return pattern, `{"payloads":[]}`
	case "POST /api/v1/findings/{id}/triage/approve", "POST /api/v1/findings/{id}/triage/reject":
		return strings.Replace(pattern, "{id}", f.finding(ten).String(), 1), ""
	case "POST /api/v1/findings/{id}/triage/feedback":
		return strings.Replace(pattern, "{id}", f.finding(ten).String(), 1), `{"useful":true}`
	case "POST /api/v1/triage/rules":
		return pattern, fmt.Sprintf(`{"name":"rule %d","scanner":"nmap","action":"suppress"}`, n)
	case "PATCH /api/v1/triage/rules/{id}":
		return strings.Replace(pattern, "{id}", f.triageRule(ten).String(), 1), `{"position":7}`
	case "DELETE /api/v1/triage/rules/{id}":
		return strings.Replace(pattern, "{id}", f.triageRule(ten).String(), 1), ""
	case "POST /api/v1/admin/impersonations":
		return pattern, fmt.Sprintf(`{"user_id":%q,"reason":"support ticket %d","minutes":5}`, f.member(ten), n)
	}
	return pattern, ""
}

type caller struct {
	role    auth.Role
	session string // X-Session-Token
	key     string // API key
	scopes  []auth.Permission
	from    string // the loopback address to call from ("": any)
}

// TestPermissionMatrix: every route × every role × {own tenant, child
// tenant, sibling tenant}. The only successful calls are those the matrix
// allows; the rest are 403 (own and child tenants) or 404 (a sibling tenant,
// whose existence must not leak).
func TestPermissionMatrix(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr, noWorkers: true})
	ctx := context.Background()
	own, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Own Co"})
	if err != nil {
		t.Fatal(err)
	}
	childT, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Own Child", ParentSlug: own.Slug})
	if err != nil {
		t.Fatal(err)
	}
	sibling, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Sibling Co"})
	if err != nil {
		t.Fatal(err)
	}
	f := fixtures{t: t, p: p, kr: kr}

	var callers []caller
	for _, role := range auth.MemberRoles {
		email := fmt.Sprintf("%s@own.example.test", role)
		pw := "correct-horse-" + string(role)
		ident, err := kr.EnsureIdentity(ctx, email, string(role), pw, nil)
		if err != nil {
			t.Fatal(err)
		}
		f.tx(func(ctx context.Context, tx pgx.Tx) error {
			if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ident.ID, Email: email, Name: string(role)}); err != nil {
				return err
			}
			_, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ident.ID, TenantID: own.ID, Role: string(role)})
			return err
		})
		callers = append(callers, caller{role: role, session: login(t, kr, email, pw)})
	}
	adminIdent, err := kr.EnsureIdentity(ctx, "root@platform.example.test", "Root", "correct-horse-admin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bootstrap.SetPlatformAdmin(ctx, p.db, adminIdent.ID, adminIdent.Email, "Root"); err != nil {
		t.Fatal(err)
	}
	callers = append(callers, caller{role: auth.RolePlatformAdmin, session: login(t, kr, adminIdent.Email, "correct-horse-admin")})
	scopes := []string{"findings:view", "scans:start"}
	key, _, err := bootstrap.CreateAPIKey(ctx, p.db, own.Slug, auth.RoleClientAPI, scopes, "matrix")
	if err != nil {
		t.Fatal(err)
	}
	callers = append(callers, caller{role: auth.RoleClientAPI, key: key, scopes: []auth.Permission{auth.PermFindingsView, auth.PermScansStart}})

	router := p.server.Routes()
	contexts := []struct {
		name    string
		tenant  uuid.UUID
		sibling bool
	}{{"own", own.ID, false}, {"child", childT.ID, false}, {"sibling", sibling.ID, true}}

	checked := 0
	for _, rt := range router {
		if rt.Permission == auth.PermPublic {
			continue
		}
		if rt.Pattern == "/api/v1/sessions/current" {
			continue // logging out would end the callers' sessions; TestLogoutEndsSessionAndItsStreams covers it
		}
		for _, c := range callers {
			for _, cx := range contexts {
				path, body := f.request(rt.Method, rt.Pattern, cx.tenant)
				allowed := expectAllowed(c, rt.Permission, cx.sibling)
				code := c.call(t, p, rt.Method, path, body, cx.tenant)
				checked++
				if allowed && strings.HasPrefix(rt.Pattern, "/api/v1/findings/{id}/triage/") {
					// Past the permission checks, nothing waits for approval on
					// the fixture's finding (TestTriageEndToEnd approves).
					if code != http.StatusConflict {
						t.Errorf("%s %s as %s in %s tenant: %d, want 409", rt.Method, rt.Pattern, c.role, cx.name, code)
					}
					continue
				}
				if allowed && rt.Method == "POST" && strings.HasPrefix(rt.Pattern, "/api/v1/billing/") {
					// Past the permission checks: no Stripe and no billing
					// cycle here (TestBillingOwnerAPI succeeds with both).
					if code != http.StatusConflict {
						t.Errorf("%s %s as %s in %s tenant: %d, want 409", rt.Method, rt.Pattern, c.role, cx.name, code)
					}
					continue
				}
				if rt.Pattern == "/api/v1/invitations/{token}/accept" {
					// Its own test accepts (TestInvitingAnExistingAccount): only
					// the invitee, in person, holds a token; here no caller has
					// one (404), and a key is never an invitee (403; a key naming
					// a tenant outside its reach is 404 as everywhere).
					want := http.StatusNotFound
					if c.key != "" && !cx.sibling {
						want = http.StatusForbidden
					}
					if code != want {
						t.Errorf("%s %s as %s in %s tenant: %d, want %d", rt.Method, rt.Pattern, c.role, cx.name, code, want)
					}
					continue
				}
				ok := code >= 200 && code < 300
				switch {
				case allowed && !ok:
					t.Errorf("%s %s as %s in %s tenant: %d, want success", rt.Method, rt.Pattern, c.role, cx.name, code)
				case !allowed && cx.sibling && c.role != auth.RolePlatformAdmin && code != http.StatusNotFound:
					t.Errorf("%s %s as %s in %s tenant: %d, want 404", rt.Method, rt.Pattern, c.role, cx.name, code)
				case !allowed && !cx.sibling && code != http.StatusForbidden:
					t.Errorf("%s %s as %s in %s tenant: %d, want 403", rt.Method, rt.Pattern, c.role, cx.name, code)
				}
			}
		}
	}
	if checked < 25*6*3 {
		t.Fatalf("checked only %d calls", checked)
	}

	// Object ids of another tenant answer 404 even without naming the tenant.
	foreign := f.scan(sibling.ID)
	for _, c := range callers[:len(callers)-2] {
		if code := c.call(t, p, "GET", "/api/v1/scans/"+foreign.String(), "", uuid.Nil); code != http.StatusNotFound {
			t.Errorf("%s reading a sibling's scan by id: %d, want 404", c.role, code)
		}
	}
	// No credentials at all: 401 on every non-public route. Failed
	// authentications are limited per address (60 a minute): the calls come
	// from a new loopback address every 50.
	anon := 0
	for _, rt := range router {
		if rt.Permission == auth.PermPublic {
			continue
		}
		path, body := f.request(rt.Method, rt.Pattern, own.ID)
		anon++
		if code := (caller{from: fmt.Sprintf("127.0.0.%d", 2+anon/50)}).call(t, p, rt.Method, path, body, uuid.Nil); code != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: %d, want 401", rt.Method, rt.Pattern, code)
		}
	}
}

func expectAllowed(c caller, perm auth.Permission, sibling bool) bool {
	if c.role == auth.RolePlatformAdmin {
		// The initial key is revealed by its owner alone (an operator who
		// needs a key creates one, audited).
		return perm != auth.PermInitialKeyReveal
	}
	if sibling {
		return false
	}
	a := &auth.Access{Principal: &auth.Principal{KeyScopes: c.scopes}, Role: c.role}
	if c.key != "" {
		a.Principal.APIKeyID = uuid.New()
	}
	return a.Can(perm)
}

func (c caller) call(t *testing.T, p *platform, method, path, body string, tenant uuid.UUID) int {
	t.Helper()
	req, err := http.NewRequest(method, p.api.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.HasPrefix(body, "--"+multipartBoundary):
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+multipartBoundary)
	case body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	if tenant != uuid.Nil {
		req.Header.Set("X-Tenant-Id", tenant.String())
	}
	switch {
	case c.key != "":
		req.Header.Set("Authorization", "Bearer "+c.key)
	case c.session != "":
		req.Header.Set("X-Session-Token", c.session)
	}
	hc := http.DefaultClient
	if c.from != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.from)}}
		hc = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
