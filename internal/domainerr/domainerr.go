// Package domainerr holds the errors the domain layer speaks: a kind that says
// what went wrong for the caller (not found, conflict, not verified, …), a
// detail a person can act on, and optionally the input fields at fault.
//
// Database errors become domain errors once, at the db edge (db.InTx), so no
// caller above internal/db reads a Postgres error code. The JSON API maps each
// kind to a status and problem JSON; the portal maps it to an error page;
// activities map it to retryable or non-retryable application errors.
package domainerr

import (
	"errors"
	"strings"
)

// Kind classifies an error for whoever must answer it.
type Kind int

// The kinds. The zero value is not a kind: an error without one is internal.
const (
	_ Kind = iota
	// NotFound: a missing object, or another tenant's (never told apart).
	NotFound
	// Conflict: the change clashes with the state of existing objects.
	Conflict
	// Invalid: bad input; Fields name the parts at fault.
	Invalid
	// Refused: well-formed input that a policy refuses (an address outside
	// the allowed ranges, an unregistered target).
	Refused
	// NotVerified: the target's owner has not proven control of it.
	NotVerified
	// OverLimit: the tenant's tier does not allow more of this.
	OverLimit
	// Forbidden: the caller's role or tenant does not allow the action.
	Forbidden
	// Gone: the object existed and is no longer available.
	Gone
	// TooLarge: the input exceeds a size the domain accepts.
	TooLarge
	// Unavailable: a dependency (Temporal, Kratos) could not do its part;
	// trying again later may work.
	Unavailable
	// PaymentRequired: the tenant's billing holds the action (a payment
	// overdue past its grace period, a cancelled subscription).
	PaymentRequired
)

// Field names one invalid input field.
type Field struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a domain error.
type Error struct {
	Kind   Kind
	Detail string
	Fields []Field
	// Err is the cause, kept for logs and errors.Is; never shown to callers.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Detail == "" {
		return e.Err.Error()
	}
	if e.Err != nil {
		return e.Detail + ": " + e.Err.Error()
	}
	return e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// New is an error of kind with a detail.
func New(kind Kind, detail string) *Error { return &Error{Kind: kind, Detail: detail} }

// Wrap is an error of kind with a detail and its cause.
func Wrap(kind Kind, detail string, cause error) *Error {
	return &Error{Kind: kind, Detail: detail, Err: cause}
}

// ErrNotFound answers missing objects and other tenants' objects alike, so
// the existence of a foreign id never leaks.
var ErrNotFound = New(NotFound, "no such resource")

// InvalidField is bad input in one field; the detail is the message.
func InvalidField(field, msg string) *Error {
	return &Error{Kind: Invalid, Detail: msg, Fields: []Field{{Field: field, Message: msg}}}
}

// InvalidFields is bad input in several fields under one detail.
func InvalidFields(detail string, fields []Field) *Error {
	return &Error{Kind: Invalid, Detail: detail, Fields: fields}
}

// Is reports whether err is a domain error of kind.
func Is(err error, kind Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}

// As returns the domain error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// FromPostgres turns a Postgres error code into a domain error (or nil when
// the code means nothing to a caller). internal/db calls it at its edge; code
// and cause come from the driver's error.
func FromPostgres(code string, cause error) *Error {
	switch {
	case code == "23505":
		return Wrap(Conflict, "this conflicts with an existing object", cause)
	case code == "23503":
		return Wrap(Conflict, "this refers to an object that does not exist or is still in use", cause)
	case strings.HasPrefix(code, "22") || code == "23514":
		// Data exceptions (NUL bytes, invalid encodings, out-of-range values).
		return Wrap(Invalid, "a value in the request is not acceptable", cause)
	}
	return nil
}
