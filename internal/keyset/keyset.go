// Package keyset is the position type of newest-first listings that the
// domain packages page through: (created_at, id) of the last row served.
// The API encodes it as an opaque cursor (api/paging.go).
package keyset

import (
	"time"

	"github.com/google/uuid"
)

// Key is a row's position in a newest-first listing.
type Key struct {
	At time.Time
	ID uuid.UUID
}
