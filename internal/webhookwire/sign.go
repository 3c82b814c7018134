package webhookwire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how old (or how far in the future) a signature's
// timestamp may be when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrInvalidHeader = errors.New("webhook: malformed signature header")
	ErrNoSignature   = errors.New("webhook: no valid signature")
	ErrStale         = errors.New("webhook: signature timestamp outside the tolerance")
)

// Sign returns the X-SecureOps-Signature value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". The
// timestamp is inside the MAC so a captured request cannot be replayed later
// with a fresh timestamp.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify is the receivers' reference check of a delivery: header is the
// X-SecureOps-Signature value, body the raw request body (before any JSON
// decoding), now the receiver's clock. It accepts the request when one of
// the v1 signatures matches (several appear while a secret is rotated) and
// the timestamp is within tolerance of now (DefaultTolerance when <= 0).
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrInvalidHeader
		}
		switch k {
		case "t":
			if ts != "" {
				return ErrInvalidHeader
			}
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				continue // a malformed signature cannot match; others may
			}
			sigs = append(sigs, b)
		}
		// Unknown schemes are ignored so a future v2 does not break v1 receivers.
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrInvalidHeader
	}
	if len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	matched := false
	for _, s := range sigs {
		// Constant time: a byte-by-byte early exit would let an attacker
		// find a valid MAC one byte at a time from response timings.
		if hmac.Equal(s, want) {
			matched = true
		}
	}
	if !matched {
		return ErrNoSignature
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed %s ago, tolerance %s", ErrStale, age.Round(time.Second), tolerance)
	}
	return nil
}
