// Package ssosession keeps single sign-on sessions honest: a session signed
// in through a customer's identity provider is re-checked against that
// provider, and ends when the provider no longer knows the person.
package ssosession

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/secretbox"
	"github.com/secureops/secureops/internal/sso"
)

// ErrRemoved means the identity provider no longer accepts the person: it
// refused their refresh token (invalid_grant: removed, disabled, or their
// grants revoked). Their sessions are ended.
var ErrRemoved = errors.New("sso: the identity provider no longer accepts this person")

// Kratos is what the re-check needs from Kratos' admin API.
type Kratos interface {
	OIDCRefreshToken(ctx context.Context, id uuid.UUID, provider string) (string, error)
	EndSessions(ctx context.Context, id uuid.UUID) error
}

// Rechecker refreshes a single sign-on session against its identity
// provider: each session, at most once per Interval, exchanges the person's
// refresh token (the newest the provider gave; at first the one Kratos kept
// from their first sign-in) at the provider's token endpoint. A refusal
// (invalid_grant and the like) means the provider no longer knows the
// person: every session of theirs ends (ErrRemoved). A provider that cannot
// be reached is not a refusal: the session is kept and asked about again on
// the next request (an outage must not sign every customer out).
type Rechecker struct {
	Providers []sso.Provider
	Interval  time.Duration // 0: sso.DefaultRecheckInterval; <0: every request
	Kratos    Kratos
	DB        *db.DB
	// Seal seals stored refresh tokens (SECUREOPS_SEAL_KEY); nil stores
	// none: each check then uses Kratos' token (fine unless the provider
	// rotates refresh tokens).
	Seal *secretbox.Key
	HTTP *http.Client
	Log  *slog.Logger

	once    sync.Once
	checked *expirable.LRU[string, bool] // session id → still accepted (false: ended)
	mu      sync.Mutex
	tokenAt map[string]string // issuer → token endpoint
}

func (r *Rechecker) init() {
	r.once.Do(func() {
		ttl := r.Interval
		if ttl <= 0 {
			ttl = sso.DefaultRecheckInterval // <0: only the refusals are kept
		}
		r.checked = expirable.NewLRU[string, bool](100000, nil, ttl)
		r.tokenAt = map[string]string{}
		if r.HTTP == nil {
			r.HTTP = &http.Client{Timeout: 10 * time.Second}
		}
		if r.Log == nil {
			r.Log = slog.Default()
		}
	})
}

// Check re-checks session sessionID of identity id, signed in through
// provider, when its last check is older than the interval. It returns
// ErrRemoved once the provider refused the person (their sessions are then
// ended).
func (r *Rechecker) Check(ctx context.Context, sessionID string, id uuid.UUID, provider string) error {
	r.init()
	if ok, seen := r.checked.Get(sessionID); seen {
		if !ok {
			return ErrRemoved
		}
		return nil
	}
	p, known := sso.Find(r.Providers, provider)
	if !known {
		// A provider the operator removed from the configuration: its
		// people can no longer be checked, nor sign in again.
		return r.end(ctx, sessionID, id, "provider "+provider+" is no longer configured")
	}
	refused, why, err := r.refresh(ctx, p, id)
	if err != nil {
		r.Log.Warn("sso: re-check against the identity provider failed; session kept", "provider", p.ID, "identity", id, "err", err)
		return nil
	}
	if refused {
		return r.end(ctx, sessionID, id, why)
	}
	if r.Interval >= 0 {
		r.checked.Add(sessionID, true)
	}
	return nil
}

func (r *Rechecker) end(ctx context.Context, sessionID string, id uuid.UUID, why string) error {
	if err := r.Kratos.EndSessions(ctx, id); err != nil {
		return err
	}
	r.checked.Add(sessionID, false)
	r.Log.Info("sso: the identity provider refused the person; sessions ended", "identity", id, "why", why)
	return fmt.Errorf("%w (%s)", ErrRemoved, why)
}

// refresh exchanges the person's refresh token once, under a lock (one
// re-check at a time per person, so a rotated token is not used twice).
// refused: the provider answered no; err: it could not be asked.
func (r *Rechecker) refresh(ctx context.Context, p sso.Provider, id uuid.UUID) (refused bool, why string, err error) {
	tokenURL, err := r.tokenEndpoint(ctx, p)
	if err != nil {
		return false, "", err
	}
	err = r.DB.Auth(ctx, func(ctx context.Context, tx pgx.Tx) error {
		sealed, err := db.Q.AuthSSOTokenLock(ctx, tx, dbq.AuthSSOTokenLockParams{UserID: id, Provider: p.ID})
		if err != nil {
			return err
		}
		rt := ""
		if len(sealed) > 0 && r.Seal != nil {
			plain, err := r.Seal.Open(sealed, id[:])
			if err == nil {
				rt = string(plain)
			}
		}
		if rt == "" {
			if rt, err = r.Kratos.OIDCRefreshToken(ctx, id, p.ID); err != nil {
				return err
			}
		}
		if rt == "" {
			// Nothing to ask the provider with: the session lives out its
			// lifespan (configure offline_access to get one).
			return errors.New("no refresh token from " + p.ID + " (request the offline_access scope)")
		}
		conf := &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: oauth2.Endpoint{TokenURL: tokenURL}, Scopes: p.Scopes}
		tok, err := conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, r.HTTP), &oauth2.Token{RefreshToken: rt}).Token()
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			refused, why = true, p.ID+" refused the refresh token: "+strings.TrimSpace(re.ErrorCode+" "+re.ErrorDescription)
			return nil
		}
		if err != nil {
			return err
		}
		if tok.RefreshToken != "" && tok.RefreshToken != rt && r.Seal != nil {
			// Rotated: only the new one works from now on.
			sealed, err := r.Seal.Seal([]byte(tok.RefreshToken), id[:])
			if err != nil {
				return err
			}
			return db.Q.AuthSSOTokenPut(ctx, tx, dbq.AuthSSOTokenPutParams{UserID: id, Provider: p.ID, Sealed: sealed})
		}
		return nil
	})
	return refused, why, err
}

// tokenEndpoint reads the provider's discovery document once.
func (r *Rechecker) tokenEndpoint(ctx context.Context, p sso.Provider) (string, error) {
	r.mu.Lock()
	u, ok := r.tokenAt[p.Issuer]
	r.mu.Unlock()
	if ok {
		return u, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(p.Issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	resp, err := r.HTTP.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s discovery: %s", p.ID, resp.Status)
	}
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&doc); err != nil || doc.TokenEndpoint == "" {
		return "", fmt.Errorf("%s discovery: no token_endpoint (%v)", p.ID, err)
	}
	r.mu.Lock()
	r.tokenAt[p.Issuer] = doc.TokenEndpoint
	r.mu.Unlock()
	return doc.TokenEndpoint, nil
}
