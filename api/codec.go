// The payload codec endpoint (Temporal's remote codec protocol), for the
// Web UI and tctl to read encrypted payloads.

package api

import (
	"io"
	"net/http"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/secureops/secureops/internal/domainerr"
)

func (s *Server) codecHandler(decode bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
		if err != nil {
			return statusErr(http.StatusRequestEntityTooLarge, "the body is larger than 8 MiB")
		}
		var in commonpb.Payloads
		if err := protojson.Unmarshal(b, &in); err != nil {
			return badRequest("the body must be {\"payloads\": [...]} in Temporal's JSON payload format")
		}
		out := in.Payloads
		if c := s.Onboarding.Codec; c != nil {
			if decode {
				out, err = c.Decode(in.Payloads)
			} else {
				out, err = c.Encode(in.Payloads)
			}
			if err != nil {
				return domainerr.New(domainerr.Refused, err.Error())
			}
		}
		res, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(res)
		return nil
	}
}

// codecCORS lets the Temporal Web UI (another origin) call the codec with
// the admin's session cookie. Preflights are answered here, before routing
// and authentication, as browsers send them without credentials.
func (s *Server) codecCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !strings.HasPrefix(r.URL.Path, codecPrefix) {
			next.ServeHTTP(w, r)
			return
		}
		allowed := false
		for _, o := range s.Onboarding.CodecCORSOrigins {
			if o == origin {
				allowed = true
				break
			}
		}
		w.Header().Add("Vary", "Origin")
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				writeProblem(w, Problem{Status: http.StatusForbidden, Detail: "origin not allowed to use the codec", Instance: r.URL.Path})
				return
			}
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization, X-Session-Token, X-Tenant-Id")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
