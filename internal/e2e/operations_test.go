package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/webhookwire"
)

func (p *platform) tenantSlug(id uuid.UUID) (string, error) {
	var slug string
	err := p.db.InTx(context.Background(), db.TenantScope(id), func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT slug FROM tenants WHERE id = $1", id).Scan(&slug)
	})
	return slug, err
}

// as returns a copy of the platform client acting with another API key.
func (p *platform) as(key string) *platform { q := *p; q.key = key; return &q }

func (p *platform) newTenant(t *testing.T, name, tier string) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, p.db, nil, bootstrap.TenantInput{Name: name, Tier: tier})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := bootstrap.CreateAPIKey(ctx, p.db, ten.Slug, auth.RoleClientAnalyst, nil, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	return ten.ID, key
}

// statuses counts a tenant's scans by status, read as the platform sees them.
func (p *platform) statuses(t *testing.T, tenant uuid.UUID) map[string]int {
	out := map[string]int{}
	err := p.db.InTx(context.Background(), db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT status, count(*) FROM scans GROUP BY status")
		if err != nil {
			return err
		}
		for rows.Next() {
			var s string
			var n int
			if err := rows.Scan(&s, &n); err != nil {
				return err
			}
			out[s] = n
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// slowServer answers every request after a delay, so a native-checks scan of
// it takes a few seconds.
func slowServer(t *testing.T, delay time.Duration) int {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte("<html>slow</html>"))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// A basic tenant (limit 2) starts six scans at once: never more than two run,
// the rest wait queued and start in order as slots free, all six finish — and
// another tenant's scan starts meanwhile, without waiting for that queue.
func TestTenantConcurrencyLimit(t *testing.T) {
	p := start(t)
	port := slowServer(t, 600*time.Millisecond)
	basic, basicKey := p.newTenant(t, "Basic Ltd", "basic")
	other, otherKey := p.newTenant(t, "Other Ltd", "pro")
	target := fmt.Sprintf(`{"target":"127.0.0.1:%d","scanners":["secureops"]}`, port)

	var ids []string
	for i := 0; i < 6; i++ {
		code, body := p.as(basicKey).do(t, "POST", "/api/v1/scans", "application/json", target)
		if code != http.StatusAccepted {
			t.Fatalf("scan %d: %d %v", i, code, body)
		}
		ids = append(ids, body["id"].(string))
	}
	maxRunning, sawQueued := 0, false
	otherStarted := false
	var otherID string
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st := p.statuses(t, basic)
		maxRunning = max(maxRunning, st["running"])
		if st["queued"] > 0 && st["running"] == 2 {
			sawQueued = true
			if otherID == "" {
				code, body := p.as(otherKey).do(t, "POST", "/api/v1/scans", "application/json", target)
				if code != http.StatusAccepted {
					t.Fatalf("other tenant's scan: %d %v", code, body)
				}
				otherID = body["id"].(string)
			}
		}
		if otherID != "" && !otherStarted {
			o := p.statuses(t, other)
			if o["running"]+o["completed"] > 0 && p.statuses(t, basic)["queued"] > 0 {
				otherStarted = true // started while the basic tenant still had a queue
			}
		}
		if st["completed"] == 6 {
			break
		}
		if st["failed"]+st["cancelled"] > 0 || time.Now().After(deadline) {
			t.Fatalf("scans did not all complete: %v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if maxRunning > 2 {
		t.Errorf("%d scans of a basic tenant ran at once, limit 2", maxRunning)
	}
	if !sawQueued {
		t.Error("never saw a scan waiting in the queued state")
	}
	if !otherStarted {
		t.Error("the other tenant's scan did not start while the basic tenant's queue waited")
	}
	// In request order: no scan starts a whole round (a scan takes seconds)
	// before one requested earlier.
	var started []time.Time
	for _, id := range ids {
		_, sc := p.as(basicKey).do(t, "GET", "/api/v1/scans/"+id, "", "")
		ts, _ := time.Parse(time.RFC3339Nano, sc["started_at"].(string))
		started = append(started, ts)
	}
	for i := range started {
		for j := i + 1; j < len(started); j++ {
			if started[j].Before(started[i].Add(-time.Second)) {
				t.Errorf("scan %d started well before scan %d: %v", j, i, started)
			}
		}
	}
}

// nmapPIDs lists the nmap processes whose command line mentions needle.
func nmapPIDs(needle string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, "nmap") && strings.Contains(cmd, needle) {
			out = append(out, filepath.Base(filepath.Dir(f)))
		}
	}
	return out
}

// Cancel stops the running nmap process within seconds and the scan ends
// cancelled; the event stream reports it and closes.
func TestCancelKillsScannerAndEventsEnd(t *testing.T) {
	p := start(t)
	// A port that accepts and never answers keeps nmap's version detection
	// busy for a long time.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	code, body := p.do(t, "POST", "/api/v1/scans", "application/json", `{"target":"127.0.0.1:`+port+`","scanners":["nmap"]}`)
	if code != http.StatusAccepted {
		t.Fatalf("scan: %d %v", code, body)
	}
	id := body["id"].(string)

	// Follow the scan's events while it runs.
	req, _ := http.NewRequest("GET", p.api.URL+"/api/v1/scans/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	type event struct {
		name string
		scan map[string]any
	}
	events := make(chan event, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				var v map[string]any
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v)
				events <- event{name, v}
			}
		}
	}()

	deadline := time.Now().Add(time.Minute)
	for len(nmapPIDs(port)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nmap never started")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	cancelled := time.Now()
	if code, body := p.do(t, "POST", "/api/v1/scans/"+id+"/cancel", "", ""); code != http.StatusAccepted {
		t.Fatalf("cancel: %d %v", code, body)
	}
	for len(nmapPIDs(port)) > 0 {
		if time.Since(cancelled) > 15*time.Second {
			t.Fatalf("nmap still running %v after cancel: %v", time.Since(cancelled), nmapPIDs(port))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("nmap gone %v after cancel", time.Since(cancelled))

	var seen []string
	var last event
	timeout := time.After(30 * time.Second)
	for done := false; !done; {
		select {
		case ev, ok := <-events:
			if !ok {
				done = true
				break
			}
			seen = append(seen, ev.name+":"+fmt.Sprint(ev.scan["status"]))
			last = ev
		case <-timeout:
			t.Fatalf("event stream did not end; saw %v", seen)
		}
	}
	if last.name != "end" || last.scan["status"] != "cancelled" {
		t.Fatalf("events %v, want a final end:cancelled", seen)
	}
	if !strings.Contains(strings.Join(seen, " "), "progress:running") {
		t.Errorf("events %v lack the running state", seen)
	}
	if code, _ := p.do(t, "POST", "/api/v1/scans/"+id+"/cancel", "", ""); code != http.StatusConflict {
		t.Errorf("cancelling an ended scan: %d, want 409", code)
	}
}

// A finished scan reaches the tenant's webhook once, signed, and leaves one
// usage event for billing.
func TestScanNotifiesWebhookAndRecordsUsage(t *testing.T) {
	p := start(t)
	ten, err := p.tenantSlug(p.tenant)
	if err != nil {
		t.Fatal(err)
	}
	owner, _, err := bootstrap.CreateAPIKey(context.Background(), p.db, ten, auth.RoleClientAdmin, nil, "admin")
	if err != nil {
		t.Fatal(err)
	}
	p = p.as(owner)
	type hit struct {
		sig, id, typ string
		body         []byte
	}
	hits := make(chan hit, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits <- hit{r.Header.Get("X-SecureOps-Signature"), r.Header.Get("X-SecureOps-Event-Id"), r.Header.Get("X-SecureOps-Event-Type"), b}
	}))
	defer recv.Close()
	code, wh := p.do(t, "POST", "/api/v1/webhooks", "application/json", fmt.Sprintf(`{"url":%q}`, recv.URL+"/hook"))
	if code != http.StatusCreated {
		t.Fatalf("webhook: %d %v", code, wh)
	}
	secret := wh["secret"].(string)
	// An exposed .env is a critical finding: the owner gets an alert too.
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.env" {
			_, _ = w.Write([]byte("DB_PASSWORD=hunter2\nAPI_KEY=abc\n"))
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer web.Close()
	ownerID := uuid.New()
	err = p.db.InTx(context.Background(), db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		if err := db.Q.UserInsert(ctx, tx, dbq.UserInsertParams{ID: ownerID, Email: "owner@acme.example", Name: "Owner"}); err != nil {
			return err
		}
		_, err := db.Q.MembershipUpsert(ctx, tx, dbq.MembershipUpsertParams{UserID: ownerID, TenantID: p.tenant, Role: "client_owner"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code, body := p.do(t, "POST", "/api/v1/scans", "application/json",
		fmt.Sprintf(`{"target":"127.0.0.1:%d","scanners":["secureops"]}`, web.Listener.Addr().(*net.TCPAddr).Port))
	if code != http.StatusAccepted {
		t.Fatalf("scan: %d %v", code, body)
	}
	id := body["id"].(string)
	if sc := p.waitScan(t, id); sc["status"] != "completed" {
		t.Fatalf("scan %v", sc)
	}
	// Both events arrive, each once: scan.completed and finding.critical.
	got := map[string]hit{}
	deadline := time.Now().Add(time.Minute)
	for len(got) < 2 {
		select {
		case h := <-hits:
			if _, dup := got[h.typ]; dup {
				t.Errorf("event delivered twice: %s", h.id)
			}
			got[h.typ] = h
		case <-time.After(time.Until(deadline)):
			t.Fatalf("deliveries %v", got)
		}
	}
	select {
	case extra := <-hits:
		t.Errorf("unexpected extra delivery %s", extra.id)
	case <-time.After(2 * time.Second):
	}
	for typ, h := range got {
		if h.id != typ+"/"+id {
			t.Errorf("event id %s for %s", h.id, typ)
		}
		if err := webhookwire.Verify(secret, h.sig, h.body, 5*time.Minute, time.Now()); err != nil {
			t.Errorf("%s: signature does not verify: %v", typ, err)
		}
	}
	var ev map[string]any
	_ = json.Unmarshal(got["scan.completed"].body, &ev)
	if d, _ := ev["data"].(map[string]any); d == nil || d["scan_id"] != id || d["status"] != "completed" {
		t.Errorf("scan.completed data %v", ev["data"])
	}
	_ = json.Unmarshal(got["finding.critical"].body, &ev)
	if d, _ := ev["data"].(map[string]any); d == nil || d["total"] != float64(1) {
		t.Errorf("finding.critical data %v", ev["data"])
	}
	var n int
	var scanners []string
	err = p.db.InTx(context.Background(), db.TenantScope(p.tenant), func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*), max(scanners) FROM usage_events WHERE scan_id = $1", id).Scan(&n, &scanners)
	})
	if err != nil || n != 1 || fmt.Sprint(scanners) != "[secureops]" {
		t.Errorf("usage events of the scan: %d %v %v", n, scanners, err)
	}
	// The owner's summary and critical alert, each once.
	var subjects []string
	deadline = time.Now().Add(30 * time.Second)
	for len(subjects) < 2 && time.Now().Before(deadline) {
		subjects = nil
		_ = p.db.InTx(context.Background(), db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "SELECT subject FROM email_outbox WHERE to_address = 'owner@acme.example' ORDER BY subject")
			if err != nil {
				return err
			}
			subjects, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		time.Sleep(200 * time.Millisecond)
	}
	if len(subjects) != 2 || !strings.Contains(subjects[0], "ALERT: 1 new critical") || !strings.Contains(subjects[1], "Scan of 127.0.0.1") {
		t.Errorf("owner's emails %q, want one alert and one summary", subjects)
	}
}
