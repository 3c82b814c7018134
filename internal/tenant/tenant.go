// Package tenant carries the calling tenant through a request's context.
package tenant

import (
	"context"

	"github.com/google/uuid"
)

// DevTenantID is the development tenant the migrations create. Until
// authentication lands every API call acts for it.
var DevTenantID = uuid.MustParse("00000000-0000-0000-0000-000000000001")

type ctxKey struct{}

// Caller is who a request acts for.
type Caller struct {
	TenantID uuid.UUID
}

// With stores the caller in ctx.
func With(ctx context.Context, c Caller) context.Context { return context.WithValue(ctx, ctxKey{}, c) }

// From returns the caller, and false when the request has none.
func From(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(ctxKey{}).(Caller)
	return c, ok
}
