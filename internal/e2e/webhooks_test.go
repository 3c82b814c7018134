package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
)

// TestWebhookAPI: a tenant admin registers a webhook (the secret shown once),
// lists it without the secret, sends a test event, reads its deliveries and
// deletes it; analysts may not; bad URLs are refused at once.
func TestWebhookAPI(t *testing.T) {
	p := start(t)
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: "Hooked Inc", Tier: "pro"})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := bootstrap.CreateAPIKey(ctx, p.db, ten.Slug, auth.RoleClientAdmin, nil, "integrations")
	if err != nil {
		t.Fatal(err)
	}
	admin := p.as(key)

	// Analysts read findings; they do not configure integrations.
	if code, _ := p.do(t, "POST", "/api/v1/webhooks", "application/json", `{"url":"http://127.0.0.1:9/hook"}`); code != http.StatusForbidden {
		t.Errorf("analyst creating a webhook: %d, want 403", code)
	}

	for _, bad := range []struct{ body, field string }{
		{`{"url":"https://169.254.169.254/latest/meta-data"}`, "url"},
		{`{"url":"http://10.0.0.8/hook"}`, "url"},
		{`{"url":"ftp://127.0.0.1/hook"}`, "url"},
		{`{"url":"http://user:pw@127.0.0.1/hook"}`, "url"},
		{`{"url":"http://127.0.0.1:9/hook","events":["scan.started"]}`, "events"},
		{`{"url":"http://127.0.0.1:9/hook","description":"` + strings.Repeat("x", 501) + `"}`, "description"},
	} {
		code, body := admin.do(t, "POST", "/api/v1/webhooks", "application/json", bad.body)
		errs, _ := body["errors"].([]any)
		if code != http.StatusBadRequest || len(errs) != 1 || errs[0].(map[string]any)["field"] != bad.field {
			t.Errorf("%s: %d %v, want 400 on %s", bad.body, code, body, bad.field)
		}
	}

	code, created := admin.do(t, "POST", "/api/v1/webhooks", "application/json",
		`{"url":"http://127.0.0.1:9/hook","events":["scan.completed","scan.completed"],"description":" CI alerts "}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, created)
	}
	id, _ := created["id"].(string)
	secret, _ := created["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Errorf("secret %q", secret)
	}
	if created["url"] != "http://127.0.0.1:9/hook" || created["description"] != "CI alerts" || created["active"] != true ||
		fmt.Sprint(created["events"]) != "[scan.completed]" || created["tenant_id"] != ten.ID.String() {
		t.Errorf("created %v", created)
	}
	// Without a list, a webhook gets every event.
	code, all := admin.do(t, "POST", "/api/v1/webhooks", "application/json", `{"url":"http://localhost:9/all"}`)
	if code != http.StatusCreated || fmt.Sprint(all["events"]) != "[scan.completed finding.critical finding.kev finding.sla_breached]" {
		t.Errorf("create without events: %d %v", code, all)
	}

	code, list := admin.do(t, "GET", "/api/v1/webhooks", "", "")
	items, _ := list["items"].([]any)
	if code != http.StatusOK || len(items) != 2 {
		t.Fatalf("list: %d %v", code, list)
	}
	var ids []string
	for _, it := range items {
		m := it.(map[string]any)
		if _, ok := m["secret"]; ok {
			t.Errorf("list shows a secret: %v", m)
		}
		ids = append(ids, m["id"].(string))
	}
	if !slices.Contains(ids, id) {
		t.Errorf("list %v lacks %s", ids, id)
	}
	// Another tenant sees none of them, and not this one by id.
	if code, other := p.do(t, "GET", "/api/v1/webhooks/"+id+"/deliveries", "", ""); code != http.StatusForbidden {
		t.Errorf("analyst reading deliveries: %d %v", code, other)
	}
	_, otherKey := newAdminTenant(t, p, "Other Co")
	if code, _ := p.as(otherKey).do(t, "GET", "/api/v1/webhooks/"+id+"/deliveries", "", ""); code != http.StatusNotFound {
		t.Errorf("another tenant reading deliveries: %d, want 404", code)
	}
	if code, _ := p.as(otherKey).do(t, "DELETE", "/api/v1/webhooks/"+id, "", ""); code != http.StatusNotFound {
		t.Errorf("another tenant deleting the webhook: %d, want 404", code)
	}

	code, page := admin.do(t, "GET", "/api/v1/webhooks/"+id+"/deliveries", "", "")
	if items, _ := page["items"].([]any); code != http.StatusOK || len(items) != 0 || page["next_cursor"] != nil {
		t.Fatalf("deliveries of a new webhook: %d %v", code, page)
	}

	// A ping is a delivery like any other, visible at once.
	code, ping := admin.do(t, "POST", "/api/v1/webhooks/"+id+"/test", "", "")
	if code != http.StatusAccepted || ping["event_type"] != "ping" || !strings.HasPrefix(ping["event_id"].(string), "ping/") {
		t.Fatalf("test: %d %v", code, ping)
	}
	code, page = admin.do(t, "GET", "/api/v1/webhooks/"+id+"/deliveries?limit=1", "", "")
	items, _ = page["items"].([]any)
	if code != http.StatusOK || len(items) != 1 {
		t.Fatalf("deliveries after a test: %d %v", code, page)
	}
	d := items[0].(map[string]any)
	payload, _ := d["payload"].(map[string]any)
	if d["id"] != ping["id"] || payload["type"] != "ping" || payload["id"] != d["event_id"] || payload["tenant_id"] != ten.ID.String() {
		t.Errorf("delivery %v", d)
	}
	if s := d["status"]; s != "pending" && s != "delivered" && s != "failed" {
		t.Errorf("delivery status %v", s)
	}
	if _, ok := d["attempt_log"].([]any); !ok {
		t.Errorf("delivery without an attempt log: %v", d)
	}
	if code, bad := admin.do(t, "GET", "/api/v1/webhooks/"+id+"/deliveries?status=lost", "", ""); code != http.StatusBadRequest {
		t.Errorf("bad status filter: %d %v", code, bad)
	}

	if code, _ := admin.do(t, "DELETE", "/api/v1/webhooks/"+id, "", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := admin.do(t, "DELETE", "/api/v1/webhooks/"+id, "", ""); code != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", code)
	}
	if code, _ := admin.do(t, "GET", "/api/v1/webhooks/"+id+"/deliveries", "", ""); code != http.StatusNotFound {
		t.Errorf("deliveries of a deleted webhook: %d, want 404", code)
	}
	_, list = admin.do(t, "GET", "/api/v1/webhooks", "", "")
	if items, _ := list["items"].([]any); len(items) != 1 {
		t.Errorf("list after delete: %v", list)
	}

	var actions []string
	err = p.db.InTx(ctx, db.TenantScope(ten.ID), func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT action FROM audit_log WHERE target_type = 'webhook' AND target_id = $1 ORDER BY id", id)
		if err != nil {
			return err
		}
		actions, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(actions) != "[webhook.created webhook.deleted]" {
		t.Errorf("audit %v", actions)
	}
}

func newAdminTenant(t *testing.T, p *platform, name string) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := bootstrap.CreateAPIKey(ctx, p.db, ten.Slug, auth.RoleClientAdmin, nil, "integrations")
	if err != nil {
		t.Fatal(err)
	}
	return ten.ID, key
}
