// Reading requests: strict JSON bodies, path ids, repeated filters.

package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// firstErr returns the first error; funcs are only called while all is well,
// so a decode is not attempted for a request already refused.
func firstErr(items ...any) error {
	for _, it := range items {
		switch v := it.(type) {
		case error:
			if v != nil {
				return v
			}
		case func() error:
			if err := v(); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeJSON reads a JSON body strictly: right media type, bounded size, no
// unknown fields, nothing after the object.
func decodeJSON(r *http.Request, v any, limit int64) error {
	// Requiring the media type also keeps cross-site form posts out: a
	// browser cannot send application/json cross-origin without a preflight.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return statusErr(http.StatusUnsupportedMediaType, "the body must be sent with Content-Type: application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return statusErr(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit))
		case errors.As(err, &te) && te.Field == "":
			return badRequest("the body must be a JSON object")
		case errors.Is(err, io.EOF):
			return badRequest("the body is empty; a JSON object is required")
		case errors.As(err, &se):
			return badRequest(fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se))
		case errors.As(err, &te):
			return invalid(te.Field, fmt.Sprintf("%s must be %s", te.Field, te.Type))
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return badRequest(err.Error())
		default:
			return badRequest("malformed JSON: " + err.Error())
		}
	}
	if dec.More() {
		return badRequest("unexpected data after the JSON object")
	}
	return nil
}

func pathUUID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, name))
	if err != nil {
		return uuid.Nil, invalid(name, name+" must be a UUID")
	}
	return id, nil
}

// multi reads a filter given as repeated parameters or a comma list.
func multi(q map[string][]string, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
