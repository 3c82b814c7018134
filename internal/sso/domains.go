package sso

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/targets"
)

// The proof that a tenant owns an email domain is the one that proves it
// owns a target's name (internal/targets proof.go): a TXT record at
// targets.DNSPrefix+domain holding targets.TXTValue(token).

// Domain normalises an email domain a tenant claims: a DNS name (lower-case,
// punycode), not an address, with at least two labels.
func Domain(s string) (string, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "@")
	t, err := targets.ParseAs(targets.KindDomain, s)
	if err != nil || !strings.Contains(t.Host, ".") {
		return "", domainerr.InvalidField("domain", "domain must be an email domain such as example.com")
	}
	return t.Host, nil
}

// EmailDomain is the domain part of an address, lower-case ("" when none).
func EmailDomain(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(email[at+1:]))
}

// NewToken is a domain's verification token.
func NewToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// JITRoles are the roles a tenant may give people who join by SSO: never
// owner (an owner is named by an owner).
var JITRoles = []string{"client_admin", "client_analyst", "client_readonly"}
