// Package sso is single sign-on through the customers' OpenID Connect
// identity providers: the operator's provider list (OIDC_PROVIDERS) and how
// Kratos is told about it, the rules of a tenant's email domains, and the
// Jsonnet mapper that gives Kratos the email claim (sessions are re-checked
// against the provider by internal/ssosession).
package sso

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Provider is one OpenID Connect identity provider the operator configured:
// Okta, Entra ID, Google Workspace, Keycloak, or a customer's OIDC bridge in
// front of a SAML-only provider.
type Provider struct {
	// ID names the provider in Kratos (its callback URL ends with it) and in
	// a tenant's SSO settings; lower-case letters, digits and dashes.
	ID string `json:"id"`
	// Label is the sign-in button's text ("Sign in with <Label>").
	Label string `json:"label,omitempty"`
	// Issuer is the provider's issuer URL; its discovery document is at
	// <Issuer>/.well-known/openid-configuration.
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// Scopes requested (default DefaultScopes; offline_access gives the
	// refresh token the session re-check uses).
	Scopes []string `json:"scopes,omitempty"`
	// EmailClaim is the claim carrying the person's email address (default
	// "email"; e.g. "upn" or "preferred_username" for some Entra ID setups).
	EmailClaim string `json:"email_claim,omitempty"`
	// ClaimsSource is where Kratos reads the claims: id_token (default) or
	// userinfo.
	ClaimsSource string `json:"claims_source,omitempty"`
}

// DefaultRecheckInterval is how long a single sign-on session is trusted
// before its provider is asked again whether it still knows the person.
const DefaultRecheckInterval = 5 * time.Minute

// DefaultScopes are requested when a provider names none.
var DefaultScopes = []string{"openid", "email", "profile", "offline_access"}

var providerID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// ParseProviders reads OIDC_PROVIDERS: a JSON array of providers. Empty
// means none (single sign-on off).
func ParseProviders(s string) ([]Provider, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var ps []Provider
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ps); err != nil {
		return nil, fmt.Errorf("OIDC_PROVIDERS: want a JSON array of {id, label, issuer, client_id, client_secret, scopes, email_claim, claims_source}: %w", err)
	}
	seen := map[string]bool{}
	for i := range ps {
		p := &ps[i]
		if !providerID.MatchString(p.ID) {
			return nil, fmt.Errorf("OIDC_PROVIDERS[%d]: id %q: want lower-case letters, digits and dashes (at most 40)", i, p.ID)
		}
		if seen[p.ID] {
			return nil, fmt.Errorf("OIDC_PROVIDERS: id %q appears twice", p.ID)
		}
		seen[p.ID] = true
		u, err := url.Parse(p.Issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("OIDC_PROVIDERS[%s]: issuer %q: want an http(s) URL", p.ID, p.Issuer)
		}
		if p.ClientID == "" {
			return nil, fmt.Errorf("OIDC_PROVIDERS[%s]: client_id is required", p.ID)
		}
		if len(p.Scopes) == 0 {
			p.Scopes = slices.Clone(DefaultScopes)
		}
		if !slices.Contains(p.Scopes, "openid") {
			return nil, fmt.Errorf("OIDC_PROVIDERS[%s]: scopes must include openid", p.ID)
		}
		if p.EmailClaim == "" {
			p.EmailClaim = "email"
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,100}$`).MatchString(p.EmailClaim) {
			return nil, fmt.Errorf("OIDC_PROVIDERS[%s]: email_claim %q is not a claim name", p.ID, p.EmailClaim)
		}
		switch p.ClaimsSource {
		case "":
			p.ClaimsSource = "id_token"
		case "id_token", "userinfo":
		default:
			return nil, fmt.Errorf("OIDC_PROVIDERS[%s]: claims_source %q: want id_token or userinfo", p.ID, p.ClaimsSource)
		}
		if p.Label == "" {
			p.Label = p.ID
		}
	}
	return ps, nil
}

// Find returns the provider named id.
func Find(ps []Provider, id string) (Provider, bool) {
	for _, p := range ps {
		if p.ID == id {
			return p, true
		}
	}
	return Provider{}, false
}

// Mapper is the provider's Jsonnet claims mapper for Kratos: the email from
// EmailClaim (a standard claim, else among the raw claims), the name, and
// metadata_public naming the provider and the address it asserted (Kratos'
// registration hooks see the identity without its credentials, and its
// traits may have been edited on Kratos' form: our hooks trust only these).
func (p Provider) Mapper() string {
	claim, _ := json.Marshal(p.EmailClaim)
	id, _ := json.Marshal(p.ID)
	return `local claims = std.extVar('claims');
local raw = if std.objectHas(claims, 'raw_claims') then claims.raw_claims else {};
local pick(k) = if std.objectHas(claims, k) then claims[k] else if std.objectHas(raw, k) then raw[k] else null;
local email = pick(` + string(claim) + `);
local name = if std.objectHas(claims, 'name') then claims.name else '';
{
  identity: {
    traits: { [if email != null then 'email']: std.asciiLower(email), name: name },
    metadata_public: { sso_provider: ` + string(id) + `, [if email != null then 'sso_email']: std.asciiLower(email) },
  },
}
`
}

// kratosProvider is one entry of Kratos' selfservice.methods.oidc.config.providers.
type kratosProvider struct {
	ID           string   `json:"id"`
	Provider     string   `json:"provider"`
	Label        string   `json:"label"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	IssuerURL    string   `json:"issuer_url"`
	MapperURL    string   `json:"mapper_url"`
	Scope        []string `json:"scope"`
	ClaimsSource string   `json:"claims_source"`
}

// KratosProviders is the value of Kratos' SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS
// for ps: generic OIDC providers with their mappers inline (base64://), so
// nothing but the environment carries them.
func KratosProviders(ps []Provider) ([]byte, error) {
	out := make([]kratosProvider, 0, len(ps))
	for _, p := range ps {
		out = append(out, kratosProvider{
			ID: p.ID, Provider: "generic", Label: p.Label, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			IssuerURL: p.Issuer, Scope: p.Scopes, ClaimsSource: p.ClaimsSource,
			MapperURL: "base64://" + base64.StdEncoding.EncodeToString([]byte(p.Mapper())),
		})
	}
	return json.Marshal(out)
}

// CallbackURL is where the provider sends the browser back: register it as
// the OAuth client's redirect URI at the provider. kratosPublic is Kratos'
// public URL as browsers reach it.
func CallbackURL(kratosPublic, id string) string {
	return strings.TrimRight(kratosPublic, "/") + "/self-service/methods/oidc/callback/" + id
}

// Origins are the providers' origins (scheme://host of each issuer): the
// portal's sign-in form posts to Kratos, which redirects to the provider,
// and a browser checks every hop against the page's CSP form-action.
func Origins(ps []Provider) []string {
	var out []string
	for _, p := range ps {
		if u, err := url.Parse(p.Issuer); err == nil && u.Host != "" && !slices.Contains(out, u.Scheme+"://"+u.Host) {
			out = append(out, u.Scheme+"://"+u.Host)
		}
	}
	return out
}
