//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/secureops/secureops/internal/kratosdev"
	"github.com/secureops/secureops/internal/stripemock"
)

// services are the third parties onboarding and billing talk to, as the
// processes see them in production: a real Kratos, stripe-mock behind a
// recording proxy, and a stand-in for Resend (a SaaS that cannot run here)
// that keeps idempotency keys as Resend does.
type services struct {
	kratos *kratosdev.Process
	stripe *stripeRecorder
	resend *resendStandIn
}

const (
	chaosStripeKey     = "sk_test_chaos"
	chaosWebhookSecret = "whsec_chaos"
	chaosResendKey     = "re_chaos"
)

func startServices(t *testing.T, dir string) *services {
	t.Helper()
	ctx := context.Background()
	kbin, err := kratosdev.FindBin()
	if err != nil {
		t.Fatal(err)
	}
	s := &services{}
	for i := 0; ; i++ { // a free port can be taken before Kratos binds it
		if s.kratos, err = kratosdev.Start(ctx, kratosdev.Options{Bin: kbin, Dir: filepath.Join(dir, "kratos"), Log: slog.New(slog.DiscardHandler)}); err == nil || i == 2 {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.kratos.Stop() })
	sbin, err := stripemock.FindBin()
	if err != nil {
		t.Fatal(err)
	}
	sm, err := stripemock.Start(ctx, stripemock.Options{Bin: sbin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sm.Stop() })
	s.stripe = newStripeRecorder(t, sm.URL)
	s.resend = newResendStandIn(t)
	return s
}

// env is what the API and workers need to reach the services.
func (s *services) env() []string {
	return []string{
		"KRATOS_PUBLIC_URL=" + s.kratos.PublicURL, "KRATOS_ADMIN_URL=" + s.kratos.AdminURL,
		"STRIPE_SECRET_KEY=" + chaosStripeKey, "STRIPE_API_BASE=" + s.stripe.URL, "STRIPE_WEBHOOK_SECRET=" + chaosWebhookSecret,
		"EMAIL_PROVIDER=resend", "RESEND_API_KEY=" + chaosResendKey, "RESEND_API_BASE=" + s.resend.URL + "/",
		"SIGNUP_RATE_LIMIT=100000",
	}
}

// identities counts the Kratos identities with this email.
func (s *services) identities(email string) (int, error) {
	resp, err := http.Get(s.kratos.AdminURL + "/admin/identities?credentials_identifier=" + url.QueryEscape(email))
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	var out []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return -1, err
	}
	return len(out), nil
}

type stripeCall struct {
	Method, Path, Key string
	Form              url.Values
	Body              string
}

// stripeRecorder records every call on its way to stripe-mock. stripe-mock
// is stateless: it answers each create with a fixture and remembers no
// Idempotency-Key, where Stripe replays the first answer to a request
// repeated with the same key (24 h) and refuses one with other parameters.
// So the objects Stripe would hold are the distinct keys of the creates
// that reached it; a key sent twice is a replay, not a second object.
type stripeRecorder struct {
	URL   string
	mu    sync.Mutex
	calls []stripeCall
}

func newStripeRecorder(t *testing.T, target string) *stripeRecorder {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	s := &stripeRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		s.calls = append(s.calls, stripeCall{Method: r.Method, Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"), Form: form, Body: string(body)})
		s.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// creates are the POSTs to path whose form matches: requests, the distinct
// Idempotency-Keys among them (the objects Stripe would hold; a create
// without a key counts as its own object), and the keys repeated with other
// parameters (which Stripe would refuse with an idempotency_error).
func (s *stripeRecorder) creates(path string, match func(url.Values) bool) (requests, objects, mismatched int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := map[string]string{}
	for _, c := range s.calls {
		if c.Method != http.MethodPost || c.Path != path || !match(c.Form) {
			continue
		}
		requests++
		if c.Key == "" {
			objects++
			continue
		}
		params := comparable(c.Form)
		if b, ok := first[c.Key]; !ok {
			first[c.Key] = params
			objects++
		} else if b != params {
			mismatched++
			fmt.Printf("chaos: Stripe key %s repeated with other parameters:\n  first: %s\n  then:  %s\n", c.Key, b, params)
		}
	}
	return requests, objects, mismatched
}

// comparable is a create's parameters as Stripe compares a repeated key's,
// less the price ids: stripe-mock finds no price by lookup key, so each
// worker's catalogue creates them and gets fresh fixture ids, where Stripe
// finds the same prices by their lookup keys.
func comparable(f url.Values) string {
	g := url.Values{}
	for k, v := range f {
		if strings.HasPrefix(k, "items[") && strings.HasSuffix(k, "][price]") {
			continue
		}
		g[k] = v
	}
	return g.Encode()
}

func formIs(key, value string) func(url.Values) bool {
	return func(f url.Values) bool { return f.Get(key) == value }
}

// resendStandIn is api.resend.com's POST /emails with its idempotency: a
// key seen with the same body answers the first id again (nothing sent), a
// key seen with another body answers 409 invalid_idempotent_request.
type resendStandIn struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   map[string]string // idempotency key → the body that was sent
	requests map[string]int    // idempotency key → requests
	conflict map[string]int    // idempotency key → 409s
}

func newResendStandIn(t *testing.T) *resendStandIn {
	f := &resendStandIn{bodies: map[string]string{}, requests: map[string]int{}, conflict: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/emails" || r.Header.Get("Authorization") != "Bearer "+chaosResendKey {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		key := r.Header.Get("Idempotency-Key")
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests[key]++
		w.Header().Set("Content-Type", "application/json")
		prev, seen := f.bodies[key]
		switch {
		case key == "":
			http.Error(w, `{"statusCode":400,"name":"validation_error","message":"chaos: every send carries a key"}`, http.StatusBadRequest)
			return
		case seen && prev != string(b):
			f.conflict[key]++
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"statusCode":409,"name":"invalid_idempotent_request","message":"This idempotency key has been used on a request with a different payload."}`))
			return
		case !seen:
			f.bodies[key] = string(b)
		}
		_, _ = fmt.Fprintf(w, `{"id":"re_%x"}`, len(key)+len(prev))
	}))
	t.Cleanup(f.Close)
	return f
}

// sent is, for the keys with prefix, the messages Resend sent (distinct
// keys), the requests it received and its 409s.
func (f *resendStandIn) sent(prefix string) (messages, requests, conflicts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, n := range f.requests {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		requests += n
		conflicts += f.conflict[k]
		if _, ok := f.bodies[k]; ok {
			messages++
		}
	}
	return messages, requests, conflicts
}
