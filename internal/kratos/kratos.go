// Package kratos wraps the Ory Kratos APIs SecureOps uses: session checks on
// the public API, identity administration and recovery codes on the admin API.
package kratos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/expirable"
	ory "github.com/ory/client-go"
)

// ErrUnauthenticated means the cookie or token is missing, expired or unknown.
var ErrUnauthenticated = errors.New("kratos: no valid session")

// ErrSecondFactor means the session is valid but its identity has a second
// factor (TOTP, recovery codes) it has not used yet: Kratos answers whoami
// with session_aal2_required (session.whoami.required_aal is
// highest_available), and the person must finish signing in with it.
var ErrSecondFactor = errors.New("kratos: the session needs the second factor")

// SchemaID is the identity schema in deploy/kratos/identity.schema.json.
const SchemaID = "default"

// Session is the part of a Kratos session the API needs.
type Session struct {
	ID         string // the Kratos session id (Logout disables it)
	IdentityID uuid.UUID
	Email      string
	Name       string
	ExpiresAt  time.Time
	// AAL is the session's authenticator assurance level: aal1 (a password
	// or a code) or aal2 (with a second factor).
	AAL string
	// OIDCProvider is the identity provider the session signed in through
	// ("" : not single sign-on).
	OIDCProvider string
}

// AAL2 is the assurance level of a session that used a second factor.
const AAL2 = "aal2"

// DefaultCacheTTL is how long a validated session is trusted without asking
// Kratos again: short, because a session revoked outside this API's logout
// keeps working until it passes.
const DefaultCacheTTL = 5 * time.Second

// Client talks to one Kratos deployment.
type Client struct {
	public *ory.APIClient
	admin  *ory.APIClient
	// A short cache keeps a page's burst of API calls from costing a Kratos
	// round trip each. Logout evicts its session at once; a session revoked
	// elsewhere (Kratos' own logout, an admin) is dropped within the TTL.
	cache *expirable.LRU[string, Session]
	// publicURL and httpc serve the self-service flow reads (flows.go).
	publicURL string
	httpc     *http.Client
}

// New builds a client; httpClient may be nil.
func New(publicURL, adminURL string, httpClient *http.Client, cacheTTL time.Duration) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	mk := func(u string) *ory.APIClient {
		cfg := ory.NewConfiguration()
		cfg.Servers = ory.ServerConfigurations{{URL: strings.TrimRight(u, "/")}}
		cfg.HTTPClient = httpClient
		return ory.NewAPIClient(cfg)
	}
	if cacheTTL <= 0 {
		cacheTTL = DefaultCacheTTL
	}
	return &Client{
		public: mk(publicURL), admin: mk(adminURL), cache: expirable.NewLRU[string, Session](10000, nil, cacheTTL),
		publicURL: strings.TrimRight(publicURL, "/"), httpc: httpClient,
	}
}

// Whoami validates a session cookie header or a session token.
func (c *Client) Whoami(ctx context.Context, cookie, token string) (Session, error) {
	if cookie == "" && token == "" {
		return Session{}, ErrUnauthenticated
	}
	key := cacheKey(cookie, token)
	if s, ok := c.cache.Get(key); ok && time.Now().Before(s.ExpiresAt) {
		return s, nil
	}
	req := c.public.FrontendAPI.ToSession(ctx)
	if token != "" {
		req = req.XSessionToken(token)
	} else {
		req = req.Cookie(cookie)
	}
	sess, resp, err := req.Execute()
	if resp != nil && resp.StatusCode == http.StatusForbidden && needsSecondFactor(err) {
		return Session{}, ErrSecondFactor
	}
	if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		return Session{}, ErrUnauthenticated
	}
	if err != nil {
		return Session{}, fmt.Errorf("kratos whoami: %w", err)
	}
	if sess.Active != nil && !*sess.Active {
		return Session{}, ErrUnauthenticated
	}
	id, err := uuid.Parse(sess.Identity.GetId())
	if err != nil {
		return Session{}, fmt.Errorf("kratos whoami: identity id: %w", err)
	}
	s := Session{ID: sess.GetId(), IdentityID: id, ExpiresAt: time.Now().Add(time.Hour), AAL: string(sess.GetAuthenticatorAssuranceLevel())}
	if sess.ExpiresAt != nil {
		s.ExpiresAt = *sess.ExpiresAt
	}
	for _, m := range sess.AuthenticationMethods {
		if m.GetMethod() == "oidc" && s.OIDCProvider == "" {
			s.OIDCProvider = m.GetProvider()
		}
	}
	if traits, ok := sess.Identity.Traits.(map[string]any); ok {
		s.Email, _ = traits["email"].(string)
		s.Name, _ = traits["name"].(string)
	}
	c.cache.Add(key, s)
	return s, nil
}

// needsSecondFactor reads Kratos' 403 body: session_aal2_required.
func needsSecondFactor(err error) bool {
	var ge *ory.GenericOpenAPIError
	return errors.As(err, &ge) && strings.Contains(string(ge.Body()), "session_aal2_required")
}

func cacheKey(cookie, token string) string {
	sum := sha256.Sum256([]byte(cookie + "\x00" + token))
	return hex.EncodeToString(sum[:])
}

// Logout revokes the session of a cookie or token through the admin API and
// drops it from the cache, so it stops working at once on this process. A
// session Kratos no longer knows is already logged out.
func (c *Client) Logout(ctx context.Context, cookie, token string) error {
	sess, err := c.Whoami(ctx, cookie, token)
	c.cache.Remove(cacheKey(cookie, token))
	if err != nil {
		return err
	}
	resp, err := c.admin.IdentityAPI.DisableSession(ctx, sess.ID).Execute()
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kratos disable session: %w", err)
	}
	c.cache.Remove(cacheKey(cookie, token))
	return nil
}

// Identity is an identity created or found by EnsureIdentity.
type Identity struct {
	ID      uuid.UUID
	Email   string
	Created bool
}

// EnsureIdentity looks the email up first and creates the identity only when
// none exists, so a retried invitation or onboarding step never makes two.
// password may be empty (invited users set theirs through recovery).
func (c *Client) EnsureIdentity(ctx context.Context, email, name, password string, metadataPublic map[string]any) (Identity, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	found, _, err := c.admin.IdentityAPI.ListIdentities(ctx).CredentialsIdentifier(email).Execute()
	if err != nil {
		return Identity{}, fmt.Errorf("kratos list identities: %w", err)
	}
	if len(found) > 0 {
		id, err := uuid.Parse(found[0].Id)
		return Identity{ID: id, Email: email}, err
	}
	body := ory.CreateIdentityBody{
		SchemaId:       SchemaID,
		Traits:         map[string]any{"email": email, "name": name},
		MetadataPublic: metadataPublic,
	}
	if password != "" {
		body.Credentials = &ory.IdentityWithCredentials{Password: &ory.IdentityWithCredentialsPassword{
			Config: &ory.IdentityWithCredentialsPasswordConfig{Password: &password},
		}}
	}
	created, resp, err := c.admin.IdentityAPI.CreateIdentity(ctx).CreateIdentityBody(body).Execute()
	if resp != nil && resp.StatusCode == http.StatusConflict {
		// Lost a race with a concurrent create: the other one won, use it.
		return c.EnsureIdentity(ctx, email, name, "", nil)
	}
	if resp != nil && resp.StatusCode == http.StatusBadRequest {
		return Identity{}, &InvalidError{Err: err}
	}
	if err != nil {
		return Identity{}, fmt.Errorf("kratos create identity: %w", err)
	}
	id, err := uuid.Parse(created.Id)
	return Identity{ID: id, Email: email, Created: true}, err
}

// InvalidError is Kratos refusing the identity (e.g. an invalid email): a
// business error, not worth retrying.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return "kratos rejected the identity: " + e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Recovery is a one-time way in for a user without a password.
type Recovery struct {
	Link      string
	Code      string
	ExpiresAt time.Time
}

// RecoveryCode creates a recovery link and code for an identity. The flow is
// a browser flow: the link opens the portal's /auth/recovery page, whose form
// a browser submits (Kratos skips the CSRF check for admin-created flows, see
// selfservice/strategy/code/strategy_recovery_admin.go in v1.3.1); a non-browser
// client completes it with a cookie jar and JSON (internal/e2e completeRecovery).
func (c *Client) RecoveryCode(ctx context.Context, id uuid.UUID, expiresIn time.Duration) (Recovery, error) {
	exp := expiresIn.String()
	flow := "browser"
	rc, _, err := c.admin.IdentityAPI.CreateRecoveryCodeForIdentity(ctx).CreateRecoveryCodeForIdentityBody(ory.CreateRecoveryCodeForIdentityBody{
		IdentityId: id.String(), ExpiresIn: &exp, FlowType: &flow,
	}).Execute()
	if err != nil {
		return Recovery{}, fmt.Errorf("kratos recovery code: %w", err)
	}
	r := Recovery{Link: rc.RecoveryLink, Code: rc.RecoveryCode}
	if rc.ExpiresAt != nil {
		r.ExpiresAt = *rc.ExpiresAt
	}
	return r, nil
}

// DeleteIdentity removes an identity; deleting a missing one succeeds (compensations retry).
func (c *Client) DeleteIdentity(ctx context.Context, id uuid.UUID) error {
	resp, err := c.admin.IdentityAPI.DeleteIdentity(ctx, id.String()).Execute()
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return nil
	}
	return err
}

// SecondFactors are the Kratos credential types that are a second factor.
var SecondFactors = []string{"lookup_secret", "totp", "webauthn"}

// MFAMethods lists the second factors identity id has enrolled (sorted
// SecondFactors present among its credentials).
func (c *Client) MFAMethods(ctx context.Context, id uuid.UUID) ([]string, error) {
	ident, _, err := c.admin.IdentityAPI.GetIdentity(ctx, id.String()).IncludeCredential(SecondFactors).Execute()
	if err != nil {
		return nil, fmt.Errorf("kratos identity %s: %w", id, err)
	}
	out := []string{}
	for _, m := range SecondFactors {
		cred, ok := ident.GetCredentials()[m]
		if ok && m == "webauthn" {
			// The identity schema makes the email a WebAuthn identifier,
			// so Kratos keeps an empty webauthn credential once the last
			// key is removed (or on any identity update): count keys.
			keys, _ := cred.Config["credentials"].([]any)
			ok = len(keys) > 0
		}
		if ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// PublicAPI exposes the generated public client (tests drive login flows with it).
func (c *Client) PublicAPI() *ory.APIClient { return c.public }

// IdentityTenant returns metadata_public.tenant_id of an identity ("" when
// unset); found is false for a missing identity. Onboarding uses it to tell
// an identity it created from one that existed before.
func (c *Client) IdentityTenant(ctx context.Context, id uuid.UUID) (tenant string, found bool, err error) {
	ident, resp, err := c.admin.IdentityAPI.GetIdentity(ctx, id.String()).Execute()
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("kratos get identity: %w", err)
	}
	tenant, _ = ident.MetadataPublic["tenant_id"].(string)
	return tenant, true, nil
}
