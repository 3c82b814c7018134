// Writing successful answers; failures go through writeError (problem.go).

package api

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/google/uuid"
)

func ptr(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

func nullPtr(n uuid.NullUUID) *uuid.UUID {
	if !n.Valid {
		return nil
	}
	return &n.UUID
}

// writeJSON encodes v before it commits to a status: a value that cannot be
// encoded (a time outside years 0–9999) answers 500 problem JSON, never a
// 200 with an empty body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("encoding a response failed", "error", err)
		writeProblem(w, Problem{Status: http.StatusInternalServerError, Detail: "the answer could not be encoded; the request id in X-Request-Id helps support find it"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
