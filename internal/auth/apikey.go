package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
)

// ErrMalformedKey is a bearer token that is not a SecureOps API key.
var ErrMalformedKey = errors.New("malformed API key")

// NewAPIKey returns a fresh key "so_<prefix>_<secret>", its prefix (stored,
// used for lookup) and the SHA-256 of its secret (stored). The full key is
// shown once and never stored. Hex keeps '_' out of both parts.
func NewAPIKey() (full, prefix string, hash []byte, err error) {
	p := make([]byte, 6)
	s := make([]byte, 32)
	if _, err = rand.Read(p); err != nil {
		return
	}
	if _, err = rand.Read(s); err != nil {
		return
	}
	prefix = hex.EncodeToString(p)
	secret := hex.EncodeToString(s)
	return "so_" + prefix + "_" + secret, prefix, HashSecret(secret), nil
}

// ParseAPIKey splits a key into prefix and secret.
func ParseAPIKey(key string) (prefix, secret string, err error) {
	parts := strings.Split(key, "_")
	if len(parts) != 3 || parts[0] != "so" || len(parts[1]) != 12 || len(parts[2]) != 64 {
		return "", "", ErrMalformedKey
	}
	if _, err := hex.DecodeString(parts[1] + parts[2]); err != nil {
		return "", "", ErrMalformedKey
	}
	return parts[1], parts[2], nil
}

// HashSecret is how secrets (API keys, impersonation tokens) are stored.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// SecretMatches compares in constant time.
func SecretMatches(secret string, hash []byte) bool {
	return subtle.ConstantTimeCompare(HashSecret(secret), hash) == 1
}

// NewToken returns a random opaque token and its hash (impersonation tokens).
func NewToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err = rand.Read(b); err != nil {
		return
	}
	token = "soimp_" + hex.EncodeToString(b)
	return token, HashSecret(token), nil
}
