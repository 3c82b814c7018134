package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
}

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error types handlers return; the mapper turns them into problems.
type (
	// ValidationError is bad input: 400 with the fields at fault.
	ValidationError struct {
		Detail string
		Fields []FieldError
	}
	// StatusError is any other client-facing failure with its own status.
	StatusError struct {
		Status int
		Detail string
	}
)

func (e *ValidationError) Error() string { return e.Detail }
func (e *StatusError) Error() string     { return e.Detail }

func invalid(field, msg string) error {
	return &ValidationError{Detail: msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

func statusErr(status int, detail string) error { return &StatusError{Status: status, Detail: detail} }

// errNotFound answers both missing objects and other tenants' objects, so the
// existence of a foreign id never leaks.
var errNotFound = &StatusError{Status: http.StatusNotFound, Detail: "no such resource"}

// writeError is the one place errors become HTTP answers. Anything unknown is
// a 500 whose detail stays in the log, never in the response.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := Problem{Instance: r.URL.Path}
	var ve *ValidationError
	var se *StatusError
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ve):
		p.Status, p.Detail, p.Errors = http.StatusBadRequest, ve.Detail, ve.Fields
	case errors.As(err, &se):
		p.Status, p.Detail = se.Status, se.Detail
	case errors.Is(err, pgx.ErrNoRows):
		p.Status, p.Detail = http.StatusNotFound, errNotFound.Detail
	case errors.As(err, &pe) && pe.Code == "23505":
		p.Status, p.Detail = http.StatusConflict, "this conflicts with an existing object"
	case errors.As(err, &pe) && pe.Code == "23503":
		p.Status, p.Detail = http.StatusConflict, "this refers to an object that does not exist or is still in use"
	case errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || pe.Code == "23514"):
		// Data exceptions (NUL bytes, invalid encodings, out-of-range values).
		p.Status, p.Detail = http.StatusBadRequest, "a value in the request is not acceptable"
	case errors.Is(err, context.Canceled):
		p.Status, p.Detail = 499, "the client closed the request"
	default:
		slog.ErrorContext(r.Context(), "request failed", "error", err, "path", r.URL.Path)
		p.Status, p.Detail = http.StatusInternalServerError, "internal error; the request id in X-Request-Id helps support find it"
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p Problem) {
	p.Title = http.StatusText(p.Status)
	if p.Type == "" {
		p.Type = "about:blank"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
