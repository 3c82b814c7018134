package api

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/targets"
)

func TestSignupSchemasMatchHandlerTypes(t *testing.T) {
	doc := loadSpec(t)
	validate := func(name string, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		var generic any
		_ = json.Unmarshal(b, &generic)
		if err := doc.Components.Schemas[name].Value.VisitJSON(generic, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s %s: %v", name, b, err)
		}
	}
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	msg := "welcome_email: the email provider refused the message (status 422)"
	validate("SignupAccepted", signupResponse{SignupID: "0f4c1f0e9d1b4a7c8e2f6a3b5c7d9e1f", TenantID: uuid.New(), StatusURL: "/api/v1/signup/0f4c1f0e9d1b4a7c8e2f6a3b5c7d9e1f"})
	steps := []onboarding.Step{}
	for _, n := range onboarding.Steps {
		steps = append(steps, onboarding.Step{Name: n, State: onboarding.StatePending})
	}
	steps[0] = onboarding.Step{Name: onboarding.StepTenant, State: onboarding.StateCompensated, StartedAt: &now, FinishedAt: &now}
	steps[7] = onboarding.Step{Name: onboarding.StepWelcomeEmail, State: onboarding.StateFailed, StartedAt: &now, FinishedAt: &now, Error: &msg}
	validate("SignupStatus", SignupStatus{Status: onboarding.StatusFailed, TenantID: uuid.New(), Steps: steps, FailureReason: &msg})
	validate("SignupStatus", SignupStatus{Status: onboarding.StatusRunning, TenantID: uuid.New(), Steps: []onboarding.Step{}})
	validate("InitialAPIKey", initialKeyView{ID: uuid.New(), Prefix: "abc", Key: "so_abc_def"})
	validate("OutboxList", map[string]any{"items": []OutboxEmail{{ID: uuid.New(), TenantID: uuid.New(), IdempotencyKey: "email/welcome/x", To: "a@b.test", Subject: "s", BodyText: "b", CreatedAt: now}}})
}

func TestValidateSignup(t *testing.T) {
	s := &Server{Policy: targets.Policy{LoopbackOnly: true}}
	str := func(v string) *string { return &v }
	ok := signupRequest{CompanyName: "  Acme Inc.  ", ContactName: "Ana", Email: "Ana@Acme.test", Tier: "pro", InitialTarget: str("127.0.0.1:8443"), Phone: str("+1 (555) 010-0100")}
	in, err := s.validateSignup(ok)
	if err != nil {
		t.Fatal(err)
	}
	if in.Slug != "acme-inc" || in.CompanyName != "Acme Inc." || in.Email != "ana@acme.test" || in.InitialTarget != "127.0.0.1:8443" {
		t.Fatalf("normalised %+v", in)
	}
	cases := []struct {
		name   string
		mutate func(*signupRequest)
		fields []string
		status int
	}{
		{"short company", func(r *signupRequest) { r.CompanyName = "A" }, []string{"company_name"}, 400},
		{"no letters", func(r *signupRequest) { r.CompanyName = "!!!" }, []string{"company_name"}, 400},
		{"control chars", func(r *signupRequest) { r.ContactName = "Ana\x00" }, []string{"contact_name"}, 400},
		{"email with name", func(r *signupRequest) { r.Email = "Ana <ana@acme.test>" }, []string{"email"}, 400},
		{"email without dot", func(r *signupRequest) { r.Email = "ana@localhost" }, []string{"email"}, 400},
		{"tier", func(r *signupRequest) { r.Tier = "gold" }, []string{"tier"}, 400},
		{"target", func(r *signupRequest) { r.InitialTarget = str("ftp://x") }, []string{"initial_target"}, 400},
		{"phone", func(r *signupRequest) { r.Phone = str("call me") }, []string{"phone"}, 400},
		{"several", func(r *signupRequest) { r.Email = ""; r.Tier = "" }, []string{"email", "tier"}, 400},
		{"private target", func(r *signupRequest) { r.InitialTarget = str("10.1.2.3") }, nil, 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := ok
			tc.mutate(&req)
			_, err := s.validateSignup(req)
			ve, _ := domainerr.As(err)
			switch {
			case tc.status == 400 && domainerr.Is(err, domainerr.Invalid):
				var got []string
				for _, f := range ve.Fields {
					got = append(got, f.Field)
				}
				if len(got) != len(tc.fields) {
					t.Fatalf("fields %v, want %v", got, tc.fields)
				}
				for i := range got {
					if got[i] != tc.fields[i] {
						t.Fatalf("fields %v, want %v", got, tc.fields)
					}
				}
			case tc.status == 422 && domainerr.Is(err, domainerr.Refused):
			default:
				t.Fatalf("err %v, want %d", err, tc.status)
			}
		})
	}
}

// Issue 17 item 3: sign-up chooses the tier's scanners this deployment has
// installed; the onboarding records and scans with those only.
func TestSignupOffersInstalledScanners(t *testing.T) {
	s := &Server{Policy: targets.Policy{LoopbackOnly: true}, InstalledScanners: map[string]bool{"nmap": true, "nikto": true, "secureops": true}}
	in, err := s.validateSignup(signupRequest{CompanyName: "Acme Inc.", ContactName: "Ana", Email: "ana@acme.test", Tier: "enterprise"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.Scanners, []string{"nmap", "nikto"}) {
		t.Errorf("enterprise without nuclei installed offers %v, want nmap,nikto", in.Scanners)
	}
}
