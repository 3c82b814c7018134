// API keys: create (secret shown once), list, revoke, and the reveal of
// the first key that onboarding made (rules: internal/tenancy).

package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/tenancy"
)

// API keys: create (secret shown once), list, revoke, and the reveal of
// the first key that onboarding made.

type apiKeyView struct {
	ID         uuid.UUID  `json:"id"`
	TenantID   uuid.UUID  `json:"tenant_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       string     `json:"role"`
	Scopes     []string   `json:"scopes"`
	CreatedBy  *uuid.UUID `json:"created_by"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	CreatedAt  time.Time  `json:"created_at"`
	Key        string     `json:"key,omitempty"` // only in the creation response
}

func apiKeyViewOf(k tenancy.APIKey) apiKeyView {
	return apiKeyView{ID: k.ID, TenantID: k.TenantID, Name: k.Name, Prefix: k.Prefix, Role: string(k.Role), Scopes: k.Scopes,
		CreatedBy: k.CreatedBy, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt}
}

type apiKeyCreateRequest struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func (s *Server) apiKeyCreate(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	var req apiKeyCreateRequest
	if err := firstErr(requireTenant(a), decodeJSON(r, &req, 8<<10)); err != nil {
		return err
	}
	nk := tenancy.NewAPIKey{Name: req.Name, Role: auth.Role(req.Role), Scopes: req.Scopes, ExpiresAt: req.ExpiresAt}
	if err := nk.Validate(a.Role, time.Now()); err != nil {
		return err
	}
	var k tenancy.APIKey
	var secret string
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		if k, secret, err = tenancy.CreateAPIKey(ctx, tx, a.TenantID, a.Principal.UserID, nk); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "apikey.created", "api_key", k.ID.String(), map[string]any{"prefix": k.Prefix, "role": nk.Role, "scopes": nk.Scopes})
	})
	if err != nil {
		return err
	}
	v := apiKeyViewOf(k)
	v.Key = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) apiKeyList(w http.ResponseWriter, r *http.Request) error {
	if err := requireTenant(accessFrom(r.Context())); err != nil {
		return err
	}
	var ks []tenancy.APIKey
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		ks, err = tenancy.ListAPIKeys(ctx, tx, a.TenantID)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]apiKeyView, 0, len(ks))
	for _, k := range ks {
		out = append(out, apiKeyViewOf(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (s *Server) apiKeyRevoke(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err := firstErr(err, requireTenant(accessFrom(r.Context()))); err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		k, err := tenancy.RevokeAPIKey(ctx, tx, a.TenantID, id)
		if err != nil {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "apikey.revoked", "api_key", k.ID.String(), map[string]any{"prefix": k.Prefix})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type initialKeyView struct {
	ID     uuid.UUID `json:"id"`
	Prefix string    `json:"prefix"`
	Key    string    `json:"key"`
}

// initialKeyReveal hands the owner the first API key once. Its permission
// (PermInitialKeyReveal) is the owner's alone: no API key, no impersonating
// admin, no platform admin.
func (s *Server) initialKeyReveal(w http.ResponseWriter, r *http.Request) error {
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	if s.Onboarding.SealKey == nil {
		return domainerr.New(domainerr.Unavailable, "the initial API key cannot be opened: SECUREOPS_SEAL_KEY is not configured")
	}
	var out initialKeyView
	err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		row, err := db.Q.InitialAPIKeyTake(ctx, tx, a.TenantID)
		if db.IsNotFound(err) {
			if _, gerr := db.Q.InitialAPIKeyGet(ctx, tx, a.TenantID); gerr == nil {
				return domainerr.New(domainerr.Gone, "the initial API key was already revealed or has expired; create a new key with POST /api/v1/api-keys")
			}
			return domainerr.New(domainerr.NotFound, "this tenant has no initial API key")
		}
		if err != nil {
			return err
		}
		plain, err := s.Onboarding.SealKey.Open(row.Sealed, a.TenantID[:])
		if err != nil {
			return fmt.Errorf("open initial API key: %w", err)
		}
		prefix, _, err := auth.ParseAPIKey(string(plain))
		if err != nil {
			return fmt.Errorf("initial API key: %w", err)
		}
		out = initialKeyView{ID: row.ApiKeyID, Prefix: prefix, Key: string(plain)}
		return audit(ctx, tx, r, a, uuid.Nil, "apikey.initial_revealed", "api_key", row.ApiKeyID.String(), map[string]any{"prefix": prefix})
	})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}
