package kratos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"
)

// OIDCRefreshToken is the refresh token Kratos keeps from the identity's
// first sign-in through provider (admin API, include_credential=oidc; Kratos
// decrypts it); "" when it has none.
func (c *Client) OIDCRefreshToken(ctx context.Context, id uuid.UUID, provider string) (string, error) {
	ident, _, err := c.admin.IdentityAPI.GetIdentity(ctx, id.String()).IncludeCredential([]string{"oidc"}).Execute()
	if err != nil {
		return "", fmt.Errorf("kratos identity %s: %w", id, err)
	}
	cred, ok := ident.GetCredentials()["oidc"]
	if !ok {
		return "", nil
	}
	raw, err := json.Marshal(cred.Config)
	if err != nil {
		return "", err
	}
	var cfg struct {
		Providers []struct {
			Provider            string `json:"provider"`
			InitialRefreshToken string `json:"initial_refresh_token"`
		} `json:"providers"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return "", fmt.Errorf("kratos identity %s: oidc credentials: %w", id, err)
	}
	for _, p := range cfg.Providers {
		if p.Provider == provider {
			return p.InitialRefreshToken, nil
		}
	}
	return "", nil
}

// EndSessions revokes every session of the identity (admin API) and forgets
// the cached ones of this process.
func (c *Client) EndSessions(ctx context.Context, id uuid.UUID) error {
	resp, err := c.admin.IdentityAPI.DeleteIdentitySessions(ctx, id.String()).Execute()
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		err = nil // no sessions (or no identity) left
	}
	if err != nil {
		return fmt.Errorf("kratos delete sessions of %s: %w", id, err)
	}
	for _, k := range c.cache.Keys() {
		if s, ok := c.cache.Peek(k); ok && s.IdentityID == id {
			c.cache.Remove(k)
		}
	}
	return nil
}
