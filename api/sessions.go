package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/secureops/secureops/internal/kratos"
)

// sessionDelete logs the caller out: the Kratos session of the request's
// cookie or token is revoked through the admin API and dropped from the
// session cache, so it stops working at once rather than when the cache
// forgets it.
func (s *Server) sessionDelete(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get("Authorization") != "" {
		return badRequest("an API key has no session to end; revoke the key with DELETE /api/v1/api-keys/{id}")
	}
	cookie := ""
	if c, err := r.Cookie("ory_kratos_session"); err == nil {
		cookie = c.Name + "=" + c.Value
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	err := s.Kratos.Logout(ctx, cookie, r.Header.Get("X-Session-Token"))
	if err != nil && !errors.Is(err, kratos.ErrUnauthenticated) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
