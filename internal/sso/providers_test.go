package sso

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseProviders(t *testing.T) {
	ps, err := ParseProviders(`[{"id":"okta","issuer":"https://acme.okta.com","client_id":"c","client_secret":"s"},
		{"id":"entra","label":"Entra ID","issuer":"https://login.microsoftonline.com/t/v2.0","client_id":"c2","email_claim":"upn","scopes":["openid","email","offline_access"],"claims_source":"userinfo"}]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Label != "okta" || ps[0].EmailClaim != "email" || strings.Join(ps[0].Scopes, " ") != strings.Join(DefaultScopes, " ") || ps[0].ClaimsSource != "id_token" {
		t.Errorf("defaults not applied: %+v", ps[0])
	}
	if p, ok := Find(ps, "entra"); !ok || p.EmailClaim != "upn" || p.ClaimsSource != "userinfo" {
		t.Errorf("entra: %+v %v", p, ok)
	}
	for in, want := range map[string]string{
		`[{"id":"Okta","issuer":"https://x","client_id":"c"}]`:                                              "id",
		`[{"id":"a","issuer":"ftp://x","client_id":"c"}]`:                                                   "issuer",
		`[{"id":"a","issuer":"https://x"}]`:                                                                 "client_id",
		`[{"id":"a","issuer":"https://x","client_id":"c","scopes":["email"]}]`:                              "openid",
		`[{"id":"a","issuer":"https://x","client_id":"c"},{"id":"a","issuer":"https://y","client_id":"d"}]`: "twice",
		`[{"id":"a","issuer":"https://x","client_id":"c","email_claim":"a b"}]`:                             "email_claim",
		`[{"id":"a","issuer":"https://x","client_id":"c","secret":"typo"}]`:                                 "unknown field",
		`{}`: "JSON array",
	} {
		if _, err := ParseProviders(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one naming %q", in, err, want)
		}
	}
	if ps, err := ParseProviders(" "); err != nil || ps != nil {
		t.Errorf("empty: %v %v", ps, err)
	}
}

// Kratos gets generic providers with their mapper inline, naming the claim.
func TestKratosProviders(t *testing.T) {
	ps, _ := ParseProviders(`[{"id":"entra","issuer":"https://login.example/v2.0","client_id":"c","client_secret":"s","email_claim":"upn"}]`)
	b, err := KratosProviders(ps)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil || len(out) != 1 {
		t.Fatalf("%s: %v", b, err)
	}
	if out[0]["provider"] != "generic" || out[0]["issuer_url"] != "https://login.example/v2.0" || out[0]["client_secret"] != "s" {
		t.Errorf("provider: %v", out[0])
	}
	mapper, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(out[0]["mapper_url"].(string), "base64://"))
	for _, want := range []string{`pick("upn")`, `sso_provider: "entra"`, `sso_email`} {
		if !strings.Contains(string(mapper), want) {
			t.Errorf("mapper lacks %s:\n%s", want, mapper)
		}
	}
	if b, _ := KratosProviders(nil); string(b) != "[]" {
		t.Errorf("no providers: %s", b)
	}
}

func TestDomain(t *testing.T) {
	for in, want := range map[string]string{"Example.COM": "example.com", "@acme.io": "acme.io", " sub.acme.io ": "sub.acme.io"} {
		if got, err := Domain(in); err != nil || got != want {
			t.Errorf("Domain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "localhost", "1.2.3.4", "a@b.com", "https://x.com"} {
		if got, err := Domain(in); err == nil {
			t.Errorf("Domain(%q) = %q, want an error", in, got)
		}
	}
	if EmailDomain("Bob@Acme.IO") != "acme.io" || EmailDomain("nobody") != "" {
		t.Error("EmailDomain")
	}
}
