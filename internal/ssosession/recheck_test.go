package ssosession

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/secretbox"
	"github.com/secureops/secureops/internal/sso"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fakeKratos struct {
	mu      sync.Mutex
	initial string
	ended   []uuid.UUID
}

func (k *fakeKratos) OIDCRefreshToken(context.Context, uuid.UUID, string) (string, error) {
	return k.initial, nil
}

func (k *fakeKratos) EndSessions(_ context.Context, id uuid.UUID) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ended = append(k.ended, id)
	return nil
}

// provider rotates refresh tokens: each works once and gives the next;
// a removed person's token is refused; down answers 503.
type provider struct {
	mu      sync.Mutex
	valid   map[string]bool
	n       int
	removed bool
	down    bool
	used    []string
}

func (p *provider) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "http://" + r.Host, "token_endpoint": "http://" + r.Host + "/token"})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = r.ParseForm()
		rt := r.PostForm.Get("refresh_token")
		p.used = append(p.used, rt)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case p.down:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case p.removed || !p.valid[rt]:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		delete(p.valid, rt)
		p.n++
		next := "rt-" + string(rune('a'+p.n))
		p.valid[next] = true
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "bearer", "expires_in": 60, "refresh_token": next})
	})
	return mux
}

func (p *provider) set(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

// The re-check follows a rotating provider's newest refresh token, keeps
// the session while the provider is down, ends every session of a person
// it refuses (and of a provider no longer configured).
func TestRecheckRotatesAndEnds(t *testing.T) {
	d := pgtest.New(t)
	key, err := secretbox.NewKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{valid: map[string]bool{"rt-initial": true}}
	srv := httptest.NewServer(p.handler())
	defer srv.Close()
	kr := &fakeKratos{initial: "rt-initial"}
	r := &Rechecker{
		Providers: []sso.Provider{{ID: "idp", Issuer: srv.URL, ClientID: "c", ClientSecret: "s", Scopes: []string{"openid"}}},
		Interval:  -1, Kratos: kr, DB: d.OpenApp(t), Seal: key,
	}
	ctx := context.Background()
	id := uuid.New()
	for i := 0; i < 3; i++ { // each check uses the newest token
		if err := r.Check(ctx, "sess-1", id, "idp"); err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
	}
	if got := p.used; len(got) != 3 || got[0] != "rt-initial" || got[1] != "rt-b" || got[2] != "rt-c" {
		t.Fatalf("tokens used: %v", got)
	}
	// The provider is down: the session is kept.
	p.set(func() { p.down = true })
	if err := r.Check(ctx, "sess-1", id, "idp"); err != nil {
		t.Fatalf("provider down: %v", err)
	}
	p.set(func() { p.down = false })
	// Removed: every session ends, and the refusal sticks.
	p.set(func() { p.removed = true })
	if err := r.Check(ctx, "sess-1", id, "idp"); !errors.Is(err, ErrRemoved) {
		t.Fatalf("removed: %v", err)
	}
	if err := r.Check(ctx, "sess-1", id, "idp"); err != ErrRemoved {
		t.Fatalf("removed again: %v", err)
	}
	if len(kr.ended) != 1 || kr.ended[0] != id {
		t.Fatalf("ended: %v", kr.ended)
	}
	// A provider the operator removed: its sessions end.
	if err := r.Check(ctx, "sess-2", uuid.New(), "gone"); !errors.Is(err, ErrRemoved) {
		t.Fatalf("unknown provider: %v", err)
	}
}
