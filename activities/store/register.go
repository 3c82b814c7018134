package store

import (
	"github.com/secureops/secureops/internal/contract/maintenance"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/contract/schedule"
	"github.com/secureops/secureops/internal/temporalx"
)

// Register binds the scan-queue activities to their names in the contracts
// (internal/contract/scan, schedule): workers and tests register through it,
// and the compiler checks each method against the reference's types.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	scan.MarkRunning.Register(reg, a.ScanMarkRunning)
	scan.Claim.Register(reg, a.ScanClaim)
	scan.Authorize.Register(reg, a.ScanAuthorize)
	scan.IngestReport.Register(reg, a.IngestReport)
	scan.Finish.Register(reg, a.ScanFinish)
	scan.RecordUsage.Register(reg, a.RecordUsage)
	schedule.CreateScan.Register(reg, a.ScheduledScanCreate)
}

// RegisterOnboarding binds onboarding's Postgres activities, and the
// maintenance job that erases unrevealed first-key secrets.
func RegisterOnboarding(reg temporalx.ActivityRegistry, o *Onboarding) {
	onboarding.ReserveTenant.Register(reg, o.ReserveTenant)
	onboarding.CreateInitialAPIKey.Register(reg, o.CreateInitialAPIKey)
	onboarding.RevokeInitialAPIKey.Register(reg, o.RevokeInitialAPIKey)
	onboarding.RecordScanPolicy.Register(reg, o.RecordScanPolicy)
	onboarding.DeleteScanPolicy.Register(reg, o.DeleteScanPolicy)
	onboarding.CreateBaselineScan.Register(reg, o.CreateBaselineScan)
	onboarding.ActivateTenant.Register(reg, o.ActivateTenant)
	onboarding.FailTenant.Register(reg, o.FailTenant)
	maintenance.PurgeInitialKeys.Register(reg, o.PurgeExpiredInitialKeys)
}
