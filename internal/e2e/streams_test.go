package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/api"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// queuedScan stores a scan that stays queued (no workflow runs it), so its
// event stream stays open.
func (p *platform) queuedScan(t *testing.T) uuid.UUID { return p.queuedScanOf(t, p.tenant) }

func (p *platform) queuedScanOf(t *testing.T, tenant uuid.UUID) uuid.UUID {
	t.Helper()
	id := uuid.New()
	err := p.db.InTx(context.Background(), db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		tg, err := db.Q.TargetCreate(ctx, tx, dbq.TargetCreateParams{TenantID: tenant, Kind: "domain", Value: "live-" + id.String()[:8] + ".example.com",
			Host: "live-" + id.String()[:8] + ".example.com", VerificationToken: "tok", VerificationStatus: "unverified"})
		if err != nil {
			return err
		}
		_, err = db.Q.ScanCreate(ctx, tx, dbq.ScanCreateParams{ID: id, TenantID: tenant, Target: tg.Value, Scanners: []string{"nmap"},
			WorkflowID: scan.WorkflowID(id), TargetID: uuid.NullUUID{UUID: tg.ID, Valid: true}, Source: "scan", Complete: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type sse struct {
	name string
	data map[string]any
}

// follow opens a scan's event stream with the given credential header and
// returns its status and, for a 200, its events (closed when it ends).
func (p *platform) follow(t *testing.T, id uuid.UUID, header, value string) (*http.Response, <-chan sse) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", p.api.URL+"/api/v1/scans/"+id.String()+"/events", nil)
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	events := make(chan sse, 100)
	if resp.StatusCode != http.StatusOK {
		close(events)
		return resp, events
	}
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
				events <- sse{name, v}
			}
		}
	}()
	return resp, events
}

func nextEvent(t *testing.T, events <-chan sse, within time.Duration) (sse, bool) {
	t.Helper()
	select {
	case e, ok := <-events:
		return e, ok
	case <-time.After(within):
		return sse{}, false
	}
}

// wantErrorEvent waits for the stream to end with an error event whose
// detail mentions want.
func wantErrorEvent(t *testing.T, what string, events <-chan sse, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("%s: the stream closed without an error event", what)
			}
			if e.name == "progress" {
				continue
			}
			if e.name != "error" || !strings.Contains(e.data["detail"].(string), want) {
				t.Fatalf("%s: event %s %v, want an error mentioning %q", what, e.name, e.data, want)
			}
			if _, ok := nextEvent(t, events, 5*time.Second); ok {
				t.Fatalf("%s: the stream went on after its error event", what)
			}
			return
		case <-deadline:
			t.Fatalf("%s: the stream still runs", what)
		}
	}
}

// Issue 19 item 8: a principal holds at most 10 streams, and all streams of
// a scan cost one query per tick.
func TestEventStreamsCappedAndShareOnePoller(t *testing.T) {
	var srv *api.Server
	p := startWith(t, options{noWorkers: true, server: func(s *api.Server) {
		s.EventsPollInterval = 50 * time.Millisecond
		srv = s
	}})
	id := p.queuedScan(t)
	var streams []*http.Response
	for i := 0; i < 10; i++ {
		resp, events := p.follow(t, id, "Authorization", "Bearer "+p.key)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i+1, resp.StatusCode)
		}
		if e, ok := nextEvent(t, events, 5*time.Second); !ok || e.name != "progress" {
			t.Fatalf("stream %d: first event %v %v", i+1, e, ok)
		}
		streams = append(streams, resp)
	}
	resp, _ := p.follow(t, id, "Authorization", "Bearer "+p.key)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("11th stream: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
	}

	// Ten viewers of one scan: one poller, about one read per tick.
	before, pollers := srv.StreamPolls()
	time.Sleep(time.Second)
	after, _ := srv.StreamPolls()
	if pollers != 1 {
		t.Errorf("%d pollers for one scan, want 1", pollers)
	}
	if n := after - before; n > 30 { // 20 ticks of 50 ms, with slack; ten pollers would make 200
		t.Errorf("%d reads in a second for 10 streams of one scan, want about 20", n)
	}

	// Closing one frees its place.
	streams[0].Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, _ := p.follow(t, id, "Authorization", "Bearer "+p.key)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing a stream: %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Issue 19 item 8: a stream ends with an error event when its key is
// revoked, when its tenant is suspended, and when it reaches its lifetime.
func TestEventStreamEndsOnRevokeSuspendAndLifetime(t *testing.T) {
	p := startWith(t, options{noWorkers: true, server: func(s *api.Server) {
		s.EventsPollInterval = 50 * time.Millisecond
		s.Streams = api.StreamLimits{Recheck: 200 * time.Millisecond, MaxLifetime: 3 * time.Second}
	}})
	ctx := context.Background()
	id := p.queuedScan(t)
	admin := db.Scope{PlatformAdmin: true}

	// Lifetime.
	resp, events := p.follow(t, id, "Authorization", "Bearer "+p.key)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	wantErrorEvent(t, "lifetime", events, "maximum lifetime")

	// Suspension.
	_, events = p.follow(t, id, "Authorization", "Bearer "+p.key)
	if e, ok := nextEvent(t, events, 5*time.Second); !ok || e.name != "progress" {
		t.Fatalf("first event %v", e)
	}
	if err := p.db.InTx(ctx, admin, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE tenants SET status = 'suspended' WHERE id = $1", p.tenant)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wantErrorEvent(t, "suspended tenant", events, "")
	if err := p.db.InTx(ctx, admin, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE tenants SET status = 'active' WHERE id = $1", p.tenant)
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// Revocation.
	_, events = p.follow(t, id, "Authorization", "Bearer "+p.key)
	if e, ok := nextEvent(t, events, 5*time.Second); !ok || e.name != "progress" {
		t.Fatalf("first event %v", e)
	}
	if err := p.db.InTx(ctx, admin, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1", p.tenant)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wantErrorEvent(t, "revoked key", events, "credential")
}

// Issue 19 item 8: logging out through the API ends the Kratos session at
// once (not when the session cache forgets it), and the session's event
// streams end at their next check.
func TestLogoutEndsSessionAndItsStreams(t *testing.T) {
	kr := startKratos(t)
	p := startWith(t, options{kratos: kr, noWorkers: true, server: func(s *api.Server) {
		s.Streams = api.StreamLimits{Recheck: 200 * time.Millisecond}
	}})
	ctx := context.Background()
	ten, err := bootstrap.CreateTenant(ctx, p.db, kr, bootstrap.TenantInput{
		Name: "Leaving Ltd", OwnerEmail: "owner@leaving.example.test", OwnerPassword: "owner-password-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	token := login(t, kr, "owner@leaving.example.test", "owner-password-1")
	call := func(method, path string, hdr map[string]string) int {
		req, _ := http.NewRequest(method, p.api.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	session := map[string]string{"X-Session-Token": token}
	if code := call("GET", "/api/v1/me", session); code != 200 {
		t.Fatalf("me: %d", code)
	}
	_, events := p.follow(t, p.queuedScanOf(t, ten.ID), "X-Session-Token", token)
	if e, ok := nextEvent(t, events, 5*time.Second); !ok || e.name != "progress" {
		t.Fatalf("first event %v", e)
	}
	if code := call("DELETE", "/api/v1/sessions/current", map[string]string{"Authorization": "Bearer " + p.key}); code != 400 {
		t.Errorf("logout with an API key: %d, want 400", code)
	}
	if code := call("DELETE", "/api/v1/sessions/current", session); code != 204 {
		t.Fatalf("logout: %d, want 204", code)
	}
	// At once, though the session was cached a moment ago.
	if code := call("GET", "/api/v1/me", session); code != 401 {
		t.Errorf("me after logout: %d, want 401", code)
	}
	if _, _, err := kr.PublicAPI().FrontendAPI.ToSession(ctx).XSessionToken(token).Execute(); err == nil {
		t.Errorf("Kratos still accepts the session after logout")
	}
	wantErrorEvent(t, "logged out", events, "credential")
}
