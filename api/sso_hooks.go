package api

// Kratos' single sign-on hooks (deploy/kratos/kratos.yml), authenticated by
// the shared hook secret like the settings hook:
//
//   - POST /api/v1/kratos/hooks/sso/registration, before Kratos stores a
//     registering identity (every method): registration is refused unless it
//     is a first OIDC sign-in through the provider of a tenant that verified
//     the address's domain (users are otherwise invited, never
//     self-registered). The refusal is a message on Kratos' flow.
//   - POST /api/v1/kratos/hooks/sso/join, after an OIDC registration or
//     sign-in: the person joins that tenant with its default role (just in
//     time, once, audited).
//   - POST /api/v1/kratos/hooks/sso/password-login, after a sign-in by
//     anything but OIDC: refused (no session) when the address's tenant
//     requires single sign-on; audited there.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/sso"
)

// hookAuthorized checks Kratos' shared secret.
func (s *Server) hookAuthorized(r *http.Request) bool {
	got := r.Header.Get("X-Kratos-Hook-Secret")
	return s.KratosHookSecret != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.KratosHookSecret)) == 1
}

func remoteIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// kratosHookRefusal is a web hook's answer that interrupts Kratos' flow with
// a message shown on it (Kratos' rawHookResponse).
func kratosHookRefusal(w http.ResponseWriter, pointer, text string) {
	type detail struct {
		ID      int            `json:"id"`
		Text    string         `json:"text"`
		Type    string         `json:"type"`
		Context map[string]any `json:"context"`
	}
	type message struct {
		InstancePtr string   `json:"instance_ptr"`
		Messages    []detail `json:"messages"`
	}
	writeJSON(w, http.StatusForbidden, map[string]any{"messages": []message{{
		InstancePtr: pointer, Messages: []detail{{ID: 4000001, Text: text, Type: "error", Context: map[string]any{}}},
	}}})
}

// ssoHookRequest is what the hooks' Jsonnet bodies send.
type ssoHookRequest struct {
	IdentityID uuid.UUID `json:"identity_id"`
	Email      string    `json:"email"`
	Name       string    `json:"name"`
	Method     string    `json:"method"`
	// Provider and ProviderEmail are what the provider's mapper recorded
	// (metadata_public): the traits may have been edited on Kratos' form.
	Provider      string   `json:"provider"`
	ProviderEmail string   `json:"provider_email"`
	Methods       []string `json:"methods"`
}

func (s *Server) ssoHookDecode(r *http.Request) (ssoHookRequest, error) {
	var req ssoHookRequest
	if !s.hookAuthorized(r) {
		return req, errNotFound // no hook here for anyone without the secret
	}
	if err := decodeJSON(r, &req, 8<<10); err != nil {
		return req, err
	}
	req.Email = strings.ToLower(strings.TrimSpace(req.Email))
	req.ProviderEmail = strings.ToLower(strings.TrimSpace(req.ProviderEmail))
	return req, nil
}

// ssoTenantOf is the tenant whose single sign-on covers an address.
func (s *Server) ssoTenantOf(ctx context.Context, email string) (row dbq.AuthSSOTenantOfRow, found bool, err error) {
	err = s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := db.Q.AuthSSOTenantOf(ctx, tx, email)
		if len(rows) > 0 {
			row, found = rows[0], true
		}
		return err
	})
	return row, found, err
}

func (s *Server) ssoRegistrationHook(w http.ResponseWriter, r *http.Request) error {
	req, err := s.ssoHookDecode(r)
	if err != nil {
		return err
	}
	name := s.Brand.Name
	if name == "" {
		name = "SecureOps"
	}
	if req.Provider == "" || (req.Method != "" && req.Method != "oidc") {
		kratosHookRefusal(w, "#/traits/email", "Accounts are created by sign-up or invitation: ask your organisation's "+name+" owner to invite you.")
		return nil
	}
	if req.ProviderEmail == "" || req.Email != req.ProviderEmail {
		kratosHookRefusal(w, "#/traits/email", "Sign in with the email address your identity provider knows you by ("+req.ProviderEmail+").")
		return nil
	}
	row, found, err := s.ssoTenantOf(r.Context(), req.Email)
	if err != nil {
		return err
	}
	if !found || row.Provider != req.Provider {
		s.Log.Info("sso: sign-up refused: no tenant's single sign-on covers the address", "domain", sso.EmailDomain(req.Email), "provider", req.Provider)
		kratosHookRefusal(w, "#/traits/email", "No organisation using "+name+" signs in "+sso.EmailDomain(req.Email)+" addresses with this identity provider. Ask your administrator to set up single sign-on, or to invite you.")
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (s *Server) ssoJoinHook(w http.ResponseWriter, r *http.Request) error {
	req, err := s.ssoHookDecode(r)
	if err != nil {
		return err
	}
	if req.IdentityID == uuid.Nil {
		return invalid("identity_id", "identity_id is required")
	}
	out := map[string]any{"joined": false}
	if req.Provider != "" && req.ProviderEmail != "" && req.Email == req.ProviderEmail {
		err = s.DB.Auth(r.Context(), func(ctx context.Context, tx pgx.Tx) error {
			rows, err := db.Q.AuthSSOJoin(ctx, tx, dbq.AuthSSOJoinParams{
				UserID: req.IdentityID, Email: req.Email, Name: req.Name, Provider: req.Provider, Ip: remoteIP(r),
			})
			if len(rows) > 0 {
				out = map[string]any{"joined": rows[0].Joined, "tenant_id": rows[0].TenantID, "role": rows[0].Role}
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) ssoPasswordLoginHook(w http.ResponseWriter, r *http.Request) error {
	req, err := s.ssoHookDecode(r)
	if err != nil {
		return err
	}
	if slices.Contains(req.Methods, "oidc") {
		writeJSON(w, http.StatusOK, map[string]any{}) // a second factor after single sign-on
		return nil
	}
	row, found, err := s.ssoTenantOf(r.Context(), req.Email)
	if err != nil {
		return err
	}
	if !found || !row.Required {
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	details, _ := json.Marshal(map[string]any{"email": req.Email, "methods": req.Methods, "provider": row.Provider})
	err = s.DB.Auth(r.Context(), func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.AuthSSOAudit(ctx, tx, dbq.AuthSSOAuditParams{
			TenantID: uuid.NullUUID{UUID: row.TenantID, Valid: true}, UserID: uuid.NullUUID{UUID: req.IdentityID, Valid: req.IdentityID != uuid.Nil},
			Action: "sso.password_refused", Details: details, Ip: remoteIP(r),
		})
	})
	if err != nil {
		return err
	}
	label := row.Provider
	if p, ok := sso.Find(s.SSO.Providers, row.Provider); ok {
		label = p.Label
	}
	kratosHookRefusal(w, "#/identifier", "Your organisation signs in with single sign-on: use “Sign in with "+label+"” instead of a password.")
	return nil
}
