// What the API does to every request before routing: whose address it is,
// which request id it carries, and whether a browser sent it from elsewhere.

package api

import (
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/secureops/secureops/internal/clientip"
)

// clientAddr sets RemoteAddr to the client's address: the socket's peer, or
// behind one of TRUSTED_PROXIES the address it forwarded for. Rate limits,
// the failed-authentication lock and audit entries then see the client, and
// a header sent by anyone else is never believed.
func clientAddr(res *clientip.Resolver) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ip := res.Addr(r); ip != "" {
				r.RemoteAddr = net.JoinHostPort(ip, "0")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// requestIDShape is what a client's X-Request-Id may look like to be kept:
// a bounded token (it is logged and stored in the audit log verbatim).
var requestIDShape = regexp.MustCompile(`^[A-Za-z0-9._:/+=-]{1,64}$`)

// boundedRequestID drops a client's X-Request-Id that is not a bounded
// token, so chi's RequestID generates one instead.
func boundedRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(middleware.RequestIDHeader); v != "" && !requestIDShape.MatchString(v) {
			r.Header.Del(middleware.RequestIDHeader)
		}
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses state-changing requests a browser sent from another
// origin with the session cookie (net/http's CrossOriginProtection: Sec-Fetch-
// Site, else Origin against Host), multipart imports and bodiless POSTs
// included. Requests that carry their credential in a header (an API key, a
// session token) cannot be forged by a page and pass; so do the origins
// allowed to call the payload codec (the Temporal Web UI).
func crossOrigin(trusted []string) (func(http.Handler) http.Handler, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range trusted {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, Problem{Status: http.StatusForbidden, Detail: "cross-origin request refused: send it from the portal's own origin, or authenticate with an API key", Instance: r.URL.Path})
	}))
	return func(next http.Handler) http.Handler {
		checked := cop.Handler(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "" || r.Header.Get("X-Session-Token") != "" {
				next.ServeHTTP(w, r)
				return
			}
			checked.ServeHTTP(w, r)
		})
	}, nil
}

// allowed lists the methods the router serves at path, for a 405's Allow.
func allowed(mux chi.Router, path string) string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		if mux.Match(chi.NewRouteContext(), m, path) {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}
