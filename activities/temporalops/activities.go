// Package temporalops holds the activities whose outside system is the
// Temporal service itself: joining a tenant's scan gate and finding the slot
// holders that ended, reconciling scan rows with their workflows, and keeping
// scan schedules' Temporal Schedules in line with the database. They talk to
// Temporal through the client, never through workflow code, and know other
// processes only by their contracts (internal/contract/...).
package temporalops

import (
	"time"

	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/contract/gate"
	"github.com/secureops/secureops/internal/contract/reconcile"
	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/schedsync"
	"github.com/secureops/secureops/internal/temporalx"
)

// Activities needs the Temporal client and the database (platform scope for
// the reconciler and the schedules sync).
type Activities struct {
	DB     *db.DB
	Client client.Client
	// Grace overrides the reconciler's DefaultGrace (tests).
	Grace time.Duration
}

func (a *Activities) syncer() schedsync.Syncer { return schedsync.Syncer{Client: a.Client} }

// Register binds the activities to their names in the contracts.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	gate.Acquire.Register(reg, a.Acquire)
	gate.Ended.Register(reg, a.Ended)
	reconcile.Scans.Register(reg, a.Scans)
	reconcile.Signups.Register(reg, a.Signups)
	schedule.SyncTenant.Register(reg, a.SyncTenant)
	schedule.Ensure.Register(reg, a.Ensure)
}
