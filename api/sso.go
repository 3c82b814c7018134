package api

// Single sign-on of the acting tenant (enterprise tier): its email domains,
// each proven by a DNS TXT record (the targets' proof, internal/targets), the
// identity provider its people sign in with, the role of people who join by
// their first sign-in, and "SSO required". Read by members who manage users,
// changed by owners. Kratos' hooks that apply it are in sso_hooks.go.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/sso"
	"github.com/secureops/secureops/internal/ssosession"
	"github.com/secureops/secureops/internal/targets"
)

// SSOOptions configure single sign-on.
type SSOOptions struct {
	// Providers are the operator's identity providers (OIDC_PROVIDERS).
	Providers []sso.Provider
	// Recheck re-checks single sign-on sessions against their provider
	// (nil: never).
	Recheck *ssosession.Rechecker
	// TXT looks up the domains' proofs (nil: the system resolver).
	TXT targets.TXTResolver
	// DNSTimeout bounds one proof lookup (0: 10 s).
	DNSTimeout time.Duration
}

// NewSSOOptions wires single sign-on from the configuration.
func NewSSOOptions(c config.Config, d *db.DB, kc *kratos.Client, log *slog.Logger) SSOOptions {
	o := SSOOptions{Providers: c.OIDCProviders}
	if kc != nil && len(c.OIDCProviders) > 0 {
		o.Recheck = &ssosession.Rechecker{Providers: c.OIDCProviders, Interval: c.SSORecheckInterval, Kratos: kc, DB: d, Seal: c.SealKey, Log: log}
	}
	return o
}

// SSODomainView is an email domain a tenant claims, with its proof.
type SSODomainView struct {
	ID         uuid.UUID  `json:"id"`
	Domain     string     `json:"domain"`
	Status     string     `json:"status"` // pending, verified
	LastError  string     `json:"last_error,omitempty"`
	CheckedAt  *time.Time `json:"checked_at,omitempty"`
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
	// Proof is the DNS TXT record to publish.
	Proof dnsProof `json:"proof"`
}

// SSOProviderView is a provider the tenant may choose (no secrets).
type SSOProviderView struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	// CallbackPath is appended to Kratos' public URL: the redirect URI to
	// register at the provider.
	CallbackPath string `json:"callback_path"`
}

// SSOView is a tenant's single sign-on.
type SSOView struct {
	// Available: the tenant's tier includes SSO (enterprise).
	Available   bool              `json:"available"`
	Provider    string            `json:"provider"`
	DefaultRole string            `json:"default_role"`
	Required    bool              `json:"required"`
	Domains     []SSODomainView   `json:"domains"`
	Providers   []SSOProviderView `json:"providers"`
}

func ssoDomainViewOf(d dbq.SsoDomain) SSODomainView {
	return SSODomainView{
		ID: d.ID, Domain: d.Domain, Status: d.Status, LastError: d.LastError, CheckedAt: d.CheckedAt, VerifiedAt: d.VerifiedAt,
		Proof: dnsProof{Name: targets.DNSPrefix + d.Domain, Type: "TXT", Value: targets.TXTValue(d.Token)},
	}
}

func (s *Server) ssoGet(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var v SSOView
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		v, err = s.ssoView(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) ssoView(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) (SSOView, error) {
	st, err := db.Q.SSOSettingsGet(ctx, tx, tenant)
	if err != nil {
		return SSOView{}, err
	}
	ds, err := db.Q.SSODomainList(ctx, tx, tenant)
	if err != nil {
		return SSOView{}, err
	}
	v := SSOView{Available: st.Tier == "enterprise", Provider: st.Provider, DefaultRole: st.DefaultRole, Required: st.Required,
		Domains: make([]SSODomainView, 0, len(ds)), Providers: make([]SSOProviderView, 0, len(s.SSO.Providers))}
	for _, d := range ds {
		v.Domains = append(v.Domains, ssoDomainViewOf(d))
	}
	for _, p := range s.SSO.Providers {
		v.Providers = append(v.Providers, SSOProviderView{ID: p.ID, Label: p.Label, CallbackPath: "/self-service/methods/oidc/callback/" + p.ID})
	}
	return v, nil
}

// errSSOTier: single sign-on is an enterprise feature.
var errSSOTier = domainerr.New(domainerr.Refused, "single sign-on is part of the enterprise plan: upgrade to use it")

func (s *Server) ssoRequireEnterprise(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) (dbq.SSOSettingsGetRow, error) {
	st, err := db.Q.SSOSettingsGet(ctx, tx, tenant)
	if err != nil {
		return st, err
	}
	if st.Tier != "enterprise" {
		return st, errSSOTier
	}
	return st, nil
}

// ssoPatch changes the provider, the default role and "SSO required".
// Turning "SSO required" on needs a provider, a verified domain, and — when
// the owner's own address is at such a domain — a session signed in through
// that provider: otherwise the owner would lock themselves out.
func (s *Server) ssoPatch(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req struct {
		Provider    *string `json:"provider"`
		DefaultRole *string `json:"default_role"`
		Required    *bool   `json:"required"`
	}
	if err := firstErr(requireTenant(a), func() error { return decodeJSON(r, &req, 4<<10) }); err != nil {
		return err
	}
	if req.Provider != nil && *req.Provider != "" {
		if _, ok := sso.Find(s.SSO.Providers, *req.Provider); !ok {
			return invalid("provider", "provider must be one of the platform's identity providers (GET /api/v1/sso lists them)")
		}
	}
	if req.DefaultRole != nil && !slices.Contains(sso.JITRoles, *req.DefaultRole) {
		return invalid("default_role", "default_role must be client_admin, client_analyst or client_readonly")
	}
	var v SSOView
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		st, err := s.ssoRequireEnterprise(ctx, tx, a.TenantID)
		if err != nil {
			return err
		}
		next := dbq.SSOSettingsPutParams{TenantID: a.TenantID, DefaultRole: st.DefaultRole, Required: st.Required, Provider: st.Provider}
		if req.Provider != nil {
			next.Provider = *req.Provider
		}
		if req.DefaultRole != nil {
			next.DefaultRole = *req.DefaultRole
		}
		if req.Required != nil {
			next.Required = *req.Required
		}
		if next.Required {
			if err := s.ssoCanRequire(ctx, tx, a, next.Provider); err != nil {
				return err
			}
		}
		if _, err := db.Q.SSOSettingsPut(ctx, tx, next); err != nil {
			return err
		}
		if err := audit(ctx, tx, r, a, uuid.Nil, "tenant.sso_updated", "tenant", a.TenantID.String(), map[string]any{
			"provider": next.Provider, "default_role": next.DefaultRole, "required": next.Required,
		}); err != nil {
			return err
		}
		v, err = s.ssoView(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) ssoCanRequire(ctx context.Context, tx pgx.Tx, a *auth.Access, provider string) error {
	if provider == "" {
		return domainerr.New(domainerr.Conflict, "choose the identity provider your people sign in with before requiring single sign-on")
	}
	ds, err := db.Q.SSODomainList(ctx, tx, a.TenantID)
	if err != nil {
		return err
	}
	mine := false
	verified := false
	email := ""
	if !a.Principal.IsAPIKey() {
		if u, err := db.Q.UserGet(ctx, tx, a.Principal.RealUserID); err == nil {
			email = u.Email
		}
	}
	for _, d := range ds {
		if d.Status == "verified" {
			verified = true
			mine = mine || sso.EmailDomain(email) == d.Domain
		}
	}
	if !verified {
		return domainerr.New(domainerr.Conflict, "verify an email domain before requiring single sign-on")
	}
	if mine && a.Principal.OIDCProvider != provider {
		return domainerr.New(domainerr.Conflict, "sign in through your identity provider first: requiring single sign-on turns off your own password")
	}
	return nil
}

func (s *Server) ssoDomainAdd(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req struct {
		Domain string `json:"domain"`
	}
	if err := firstErr(requireTenant(a), func() error { return decodeJSON(r, &req, 4<<10) }); err != nil {
		return err
	}
	domain, err := sso.Domain(req.Domain)
	if err != nil {
		return err
	}
	token, err := sso.NewToken()
	if err != nil {
		return err
	}
	var row dbq.SsoDomain
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if _, err := s.ssoRequireEnterprise(ctx, tx, a.TenantID); err != nil {
			return err
		}
		if row, err = db.Q.SSODomainAdd(ctx, tx, dbq.SSODomainAddParams{TenantID: a.TenantID, Domain: domain, Token: token}); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "sso.domain_added", "sso_domain", row.ID.String(), map[string]any{"domain": domain})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ssoDomainViewOf(row))
	return nil
}

// ssoDomainVerify looks for the domain's TXT record now. A domain another
// tenant already verified stays theirs (409).
func (s *Server) ssoDomainVerify(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	id, err := pathUUID(r, "id")
	if err := firstErr(requireTenant(a), err); err != nil {
		return err
	}
	var row dbq.SsoDomain
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		row, err = db.Q.SSODomainGet(ctx, tx, dbq.SSODomainGetParams{TenantID: a.TenantID, ID: id})
		return err
	})
	if err != nil {
		return err
	}
	ok, why := row.Status == "verified", ""
	if !ok {
		timeout := s.SSO.DNSTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		ok, why = targets.CheckTXT(ctx, s.SSO.TXT, row.Domain, row.Token)
		cancel()
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		was := row.Status
		row, err = db.Q.SSODomainChecked(ctx, tx, dbq.SSODomainCheckedParams{TenantID: a.TenantID, ID: id, Verified: ok, LastError: why})
		if db.IsConflict(err) {
			return domainerr.New(domainerr.Conflict, "another organisation already verified "+row.Domain)
		}
		if err != nil || was == "verified" || !ok {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "sso.domain_verified", "sso_domain", row.ID.String(), map[string]any{"domain": row.Domain})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ssoDomainViewOf(row))
	return nil
}

func (s *Server) ssoDomainDelete(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	id, err := pathUUID(r, "id")
	if err := firstErr(requireTenant(a), err); err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		row, err := db.Q.SSODomainGet(ctx, tx, dbq.SSODomainGetParams{TenantID: a.TenantID, ID: id})
		if err != nil {
			return err
		}
		if _, err := db.Q.SSODomainDelete(ctx, tx, dbq.SSODomainDeleteParams{TenantID: a.TenantID, ID: id}); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "sso.domain_removed", "sso_domain", id.String(), map[string]any{"domain": row.Domain})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ssoRecheck re-checks a single sign-on session against its provider
// (ssosession.Rechecker): a person the provider no longer accepts is signed
// out everywhere, and the refusal audited in their tenants.
func (s *Server) ssoRecheck(ctx context.Context, r *http.Request, sess kratos.Session) error {
	if sess.OIDCProvider == "" || s.SSO.Recheck == nil {
		return nil
	}
	err := s.SSO.Recheck.Check(ctx, sess.ID, sess.IdentityID, sess.OIDCProvider)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ssosession.ErrRemoved) {
		return err
	}
	if err != ssosession.ErrRemoved { // first refusal: the sessions just ended
		details, _ := json.Marshal(map[string]string{"provider": sess.OIDCProvider, "reason": err.Error()})
		if aerr := s.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
			return db.Q.AuthSSOAudit(ctx, tx, dbq.AuthSSOAuditParams{UserID: uuid.NullUUID{UUID: sess.IdentityID, Valid: true},
				Action: "sso.session_ended", Details: details, Ip: remoteIP(r)})
		}); aerr != nil {
			s.Log.Error("sso: audit of an ended session", "identity", sess.IdentityID, "err", aerr)
		}
	}
	return errSSORemoved
}

var errSSORemoved = &StatusError{Status: http.StatusUnauthorized, Type: "/problems/sso-session-ended",
	Detail: "your organisation's identity provider no longer accepts this account: your sessions have ended"}
