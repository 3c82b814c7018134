package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/secureops/secureops/internal/domainerr"
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
type FieldError = domainerr.Field

// StatusError is a failure of the HTTP request itself, before any domain
// rule ran: an unsupported media type, a body over its size limit, missing
// credentials. Everything else a handler returns is a domain error.
type StatusError struct {
	Status int
	Detail string
	// Type is the problem's type URI reference ("" : about:blank), for
	// answers a client acts on (the portal sends the person to the right page).
	Type string
}

func (e *StatusError) Error() string { return e.Detail }

func statusErr(status int, detail string) error { return &StatusError{Status: status, Detail: detail} }

// invalid is bad input in one field of the request.
func invalid(field, msg string) error { return domainerr.InvalidField(field, msg) }

// badRequest is bad input that no single field explains (malformed JSON).
func badRequest(detail string) error { return domainerr.New(domainerr.Invalid, detail) }

// errNotFound answers both missing objects and other tenants' objects, so the
// existence of a foreign id never leaks.
var errNotFound = domainerr.ErrNotFound

// statusOf is each domain error kind's HTTP status.
var statusOf = map[domainerr.Kind]int{
	domainerr.NotFound:    http.StatusNotFound,
	domainerr.Conflict:    http.StatusConflict,
	domainerr.Invalid:     http.StatusBadRequest,
	domainerr.Refused:     http.StatusUnprocessableEntity,
	domainerr.NotVerified: http.StatusUnprocessableEntity,
	domainerr.OverLimit:   http.StatusTooManyRequests,
	domainerr.Forbidden:   http.StatusForbidden,
	domainerr.Gone:        http.StatusGone,
	domainerr.TooLarge:    http.StatusRequestEntityTooLarge,
	domainerr.Unavailable: http.StatusServiceUnavailable,
	// A suspended tenant's new scans (internal/payments.Hold).
	domainerr.PaymentRequired: http.StatusPaymentRequired,
}

// writeError is the one place errors become HTTP answers: domain errors by
// their kind, request errors by their status. Anything unknown is a 500 whose
// detail stays in the log, never in the response.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := Problem{Instance: r.URL.Path}
	var se *StatusError
	de, isDomain := domainerr.As(err)
	switch {
	case isDomain && statusOf[de.Kind] != 0:
		p.Status, p.Detail, p.Errors = statusOf[de.Kind], de.Detail, de.Fields
	case errors.As(err, &se):
		p.Status, p.Detail, p.Type = se.Status, se.Detail, se.Type
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
