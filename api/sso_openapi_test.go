package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/db/dbq"
)

// The single sign-on answers match their schemas.
func TestOpenAPISSOTypes(t *testing.T) {
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
	now := time.Now()
	pending := ssoDomainViewOf(dbq.SsoDomain{ID: uuid.New(), Domain: "example.com", Token: "abc", Status: "pending", LastError: "no TXT record"})
	verified := ssoDomainViewOf(dbq.SsoDomain{ID: uuid.New(), Domain: "example.org", Token: "abc", Status: "verified", CheckedAt: &now, VerifiedAt: &now})
	validate("SSODomain", pending)
	validate("SSO", SSOView{Available: true, Provider: "okta", DefaultRole: "client_analyst", Required: true,
		Domains: []SSODomainView{pending, verified}, Providers: []SSOProviderView{{ID: "okta", Label: "Okta", CallbackPath: "/self-service/methods/oidc/callback/okta"}}})
	validate("SSO", SSOView{DefaultRole: "client_readonly", Domains: []SSODomainView{}, Providers: []SSOProviderView{}})
}
