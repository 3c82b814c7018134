package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Sign-up is public: each client address gets SignupRateLimit attempts a
// minute, answered with a problem document beyond that.
func TestSignupRateLimitPerClientAddress(t *testing.T) {
	s := &Server{Onboarding: OnboardingOptions{SignupRateLimit: 2}}
	router, err := s.Router()
	if err != nil {
		t.Fatal(err)
	}
	post := func(addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/signup", strings.NewReader(`{"company_name":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		return rec
	}
	for i := 0; i < 2; i++ {
		if rec := post("192.0.2.1:1000"); rec.Code != http.StatusBadRequest {
			t.Fatalf("attempt %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := post("192.0.2.1:1001")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Content-Type") != "application/problem+json" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if rec := post("192.0.2.2:1000"); rec.Code != http.StatusBadRequest {
		t.Fatalf("another address: %d", rec.Code)
	}
}
