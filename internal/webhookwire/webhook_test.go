package webhookwire_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/webhookwire"
)

const secret = "whsec_test-secret-of-enough-length-0123456789"

func TestWebhookSignVerify(t *testing.T) {
	now := time.Unix(1_760_000_000, 0)
	body := []byte(`{"id":"scan.completed/1","type":"scan.completed"}`)
	h := webhookwire.Sign(secret, now, body)
	if err := webhookwire.Verify(secret, h, body, time.Minute, now.Add(30*time.Second)); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	// Known answer (computed independently with Python's hmac), so a
	// receiver written in another language can test against it.
	if want := "t=1760000000,v1=8793a638608ee73927a0f71fbc3c1eb9139f5de90e79c7728006e2bc74b44d2e"; h != want {
		t.Errorf("Sign = %q, want %q", h, want)
	}

	cases := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"tampered body", secret, h, []byte(`{"id":"scan.completed/2","type":"scan.completed"}`), now, webhookwire.ErrNoSignature},
		{"wrong secret", "whsec_someone-else", h, body, now, webhookwire.ErrNoSignature},
		{"stale timestamp", secret, h, body, now.Add(6 * time.Minute), webhookwire.ErrStale},
		{"timestamp from the future", secret, h, body, now.Add(-6 * time.Minute), webhookwire.ErrStale},
		{"replayed with a new timestamp", secret, strings.Replace(h, "t=1760000000", "t=1760000300", 1), body, now.Add(5 * time.Minute), webhookwire.ErrNoSignature},
		{"no signature", secret, "t=1760000000", body, now, webhookwire.ErrNoSignature},
		{"no timestamp", secret, h[strings.Index(h, "v1="):], body, now, webhookwire.ErrInvalidHeader},
		{"garbage", secret, "nonsense", body, now, webhookwire.ErrInvalidHeader},
		{"empty", secret, "", body, now, webhookwire.ErrInvalidHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := webhookwire.Verify(c.secret, c.header, c.body, 0, c.now)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v, want %v", err, c.want)
			}
		})
	}
}

func TestWebhookVerifyAcceptsAnyOfSeveralSignatures(t *testing.T) {
	now := time.Now()
	body := []byte(`{}`)
	h := webhookwire.Sign(secret, now, body)
	old := webhookwire.Sign("whsec_the-previous-secret", now, body)
	rotated := old + "," + h[strings.Index(h, "v1="):] + ",v0=ignored"
	if err := webhookwire.Verify(secret, rotated, body, 0, now); err != nil {
		t.Fatalf("rotation header refused: %v", err)
	}
}

func TestWebhookCheckURL(t *testing.T) {
	prod := targets.Policy{}
	dev := targets.Policy{LoopbackOnly: true}
	ok := []struct {
		p    targets.Policy
		in   string
		want string
	}{
		{prod, "https://hooks.example.com/secureops", "https://hooks.example.com/secureops"},
		{prod, " https://Hooks.Example.com:8443/a?b=c ", "https://hooks.example.com:8443/a?b=c"},
		{prod, "https://93.184.216.34", "https://93.184.216.34/"},
		{dev, "http://127.0.0.1:9/hook", "http://127.0.0.1:9/hook"},
		{dev, "https://localhost/hook", "https://localhost/hook"},
	}
	for _, c := range ok {
		got, err := webhookwire.CheckURL(c.in, c.p)
		if err != nil || got != c.want {
			t.Errorf("CheckURL(%q, loopbackOnly=%v) = %q, %v; want %q", c.in, c.p.LoopbackOnly, got, err, c.want)
		}
	}
	bad := []struct {
		p    targets.Policy
		in   string
		want error
	}{
		{prod, "http://hooks.example.com/", targets.ErrInvalid},
		{prod, "https://127.0.0.1/hook", targets.ErrNotAllowed},
		{prod, "https://[::1]/hook", targets.ErrNotAllowed},
		{prod, "https://169.254.169.254/latest/meta-data", targets.ErrNotAllowed},
		{prod, "https://10.1.2.3/", targets.ErrNotAllowed},
		{prod, "https://user:pw@hooks.example.com/", targets.ErrInvalid},
		{prod, "ftp://hooks.example.com/", targets.ErrInvalid},
		{prod, "https://hooks.example.com/#frag", targets.ErrInvalid},
		{prod, "hooks.example.com/path", targets.ErrInvalid},
		{prod, "", targets.ErrInvalid},
		{dev, "http://10.0.0.1/hook", targets.ErrNotAllowed},
		// Names and spellings that reach loopback or metadata without DNS.
		{prod, "https://localhost:1/", targets.ErrNotAllowed},
		{prod, "https://0x7f.1/", targets.ErrNotAllowed},
		{prod, "https://127.1/", targets.ErrNotAllowed},
		{prod, "https://0177.0.0.1/", targets.ErrNotAllowed},
		{prod, "https://2130706433/", targets.ErrInvalid}, // a single label: no FQDN
		{prod, "https://metadata.google.internal/computeMetadata/v1/", targets.ErrNotAllowed},
		{prod, "https://127.0.0.1.nip.io/", targets.ErrNotAllowed},
		{prod, "https://app.localhost/", targets.ErrNotAllowed},
		{prod, "https://db.internal/", targets.ErrNotAllowed},
	}
	for _, c := range bad {
		if got, err := webhookwire.CheckURL(c.in, c.p); !errors.Is(err, c.want) {
			t.Errorf("CheckURL(%q, loopbackOnly=%v) = %q, %v; want %v", c.in, c.p.LoopbackOnly, got, err, c.want)
		}
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestWebhookSendSignsAndReachesLoopbackInDevMode(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		if err := webhookwire.Verify(secret, r.Header.Get(webhookwire.HeaderSignature), gotBody, 0, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	ev, err := webhookwire.NewEvent("ping/1", webhookwire.EventPing, uuid.New(), time.Now(), webhookwire.Ping{Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	// A name, resolved through the client's resolver to the server's address.
	u := strings.Replace(srv.URL, "127.0.0.1", "hooks.test.example", 1) + "/in"
	c := &webhookwire.Client{Policy: targets.Policy{LoopbackOnly: true}, Resolver: fakeResolver{"hooks.test.example": {netip.MustParseAddr("127.0.0.1")}}}
	resp, err := c.Send(context.Background(), u, secret, ev, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want, _ := ev.Body()
	if string(gotBody) != string(want) || got.Host != strings.TrimPrefix(u[:strings.LastIndex(u, "/")], "http://") {
		t.Errorf("body %s host %s", gotBody, got.Host)
	}
	if got.Header.Get("Content-Type") != "application/json" || got.Header.Get("User-Agent") != webhookwire.UserAgent ||
		got.Header.Get(webhookwire.HeaderEventID) != "ping/1" || got.Header.Get(webhookwire.HeaderEventType) != "ping" {
		t.Errorf("headers %v", got.Header)
	}
}

func TestWebhookSendRefusesAddressesOutsideThePolicy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("a refused delivery reached the receiver")
	}))
	defer srv.Close()
	ev, _ := webhookwire.NewEvent("ping/1", webhookwire.EventPing, uuid.New(), time.Now(), webhookwire.Ping{})
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	prod := targets.Policy{}
	// Production: a name that resolves to loopback (DNS rebinding) is refused
	// at send time, as is one answering with one public and one private address.
	res := fakeResolver{
		"rebind.example.com": {netip.MustParseAddr("127.0.0.1")},
		"mixed.example.com":  {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.5")},
	}
	c := &webhookwire.Client{Policy: prod, Resolver: res}
	for _, u := range []string{"https://rebind.example.com" + port + "/", "https://mixed.example.com/", "https://127.0.0.1" + port + "/"} {
		if _, err := c.Send(context.Background(), u, secret, ev, time.Now()); !errors.Is(err, targets.ErrNotAllowed) {
			t.Errorf("%s: %v, want ErrNotAllowed", u, err)
		}
	}
}

func TestWebhookSendDoesNotFollowRedirects(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	ev, _ := webhookwire.NewEvent("ping/1", webhookwire.EventPing, uuid.New(), time.Now(), webhookwire.Ping{})
	c := &webhookwire.Client{Policy: targets.Policy{LoopbackOnly: true}}
	resp, err := c.Send(context.Background(), srv.URL, secret, ev, time.Now())
	if err != nil || resp.StatusCode != http.StatusTemporaryRedirect || hits != 1 {
		t.Fatalf("resp %+v err %v hits %d", resp, err, hits)
	}
}
