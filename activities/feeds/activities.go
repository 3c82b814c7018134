// Package feeds holds the activities of the threat-intelligence refresh
// (contract: internal/contract/intel): downloading and loading the CISA KEV
// catalogue and FIRST's EPSS scores, re-prioritising open findings page by
// page, and listing the KEV alerts still to send. The rules live in
// internal/threatintel and internal/findings; these wrap them for Temporal.
package feeds

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/intel"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/threatintel"
)

// Activities reach Postgres (platform scope) and the feeds' URLs.
type Activities struct {
	DB *db.DB
	// KEVURL and EPSSURL (config KEV_URL, EPSS_URL): "" loads the embedded
	// KEV catalogue and skips EPSS.
	KEVURL, EPSSURL string
	// PublicURL links finding.kev events to the portal.
	PublicURL string
	// Loader downloads and loads; nil builds one on DB.
	Loader *threatintel.Loader
	// Now is the clock of the alert window (tests); nil means time.Now.
	Now func() time.Time
}

// Register binds the activities to their names.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	intel.RefreshKEV.Register(reg, a.RefreshKEV)
	intel.RefreshEPSS.Register(reg, a.RefreshEPSS)
	intel.Reprioritize.Register(reg, a.Reprioritize)
	intel.PendingAlerts.Register(reg, a.PendingAlerts)
}

func (a *Activities) loader() *threatintel.Loader {
	if a.Loader != nil {
		return a.Loader
	}
	return &threatintel.Loader{DB: a.DB}
}

// RefreshKEV refreshes the KEV catalogue (the embedded copy without a URL).
func (a *Activities) RefreshKEV(ctx context.Context) (intel.SourceResult, error) {
	r, err := a.loader().RefreshKEV(ctx, a.KEVURL)
	return sourceResult(r), classify(err)
}

// RefreshEPSS refreshes the EPSS scores (skipped without a URL).
func (a *Activities) RefreshEPSS(ctx context.Context) (intel.SourceResult, error) {
	r, err := a.loader().RefreshEPSS(ctx, a.EPSSURL)
	return sourceResult(r), classify(err)
}

// Reprioritize re-prioritises one page of open findings and records the KEV
// alerts it decides, with their finding.kev events, in the same transaction.
func (a *Activities) Reprioritize(ctx context.Context, in intel.PageInput) (intel.Page, error) {
	r := &threatintel.Reprioritizer{DB: a.DB, PublicURL: a.PublicURL, Now: a.Now}
	p, err := r.Page(ctx, in.After, in.Limit, in.BatchKey)
	return intel.Page{Seen: p.Seen, Updated: p.Updated, Alerts: p.Alerts, Last: p.Last, Done: p.Done}, err
}

// PendingAlerts lists, per tenant, the KEV alerts not emailed and the
// finding.kev deliveries not delivered.
func (a *Activities) PendingAlerts(ctx context.Context) ([]intel.TenantAlerts, error) {
	ps, err := threatintel.Pending(ctx, a.DB)
	out := make([]intel.TenantAlerts, 0, len(ps))
	for _, p := range ps {
		out = append(out, intel.TenantAlerts{TenantID: p.TenantID, Email: p.Email, DeliveryIDs: p.DeliveryIDs})
	}
	return out, err
}

func sourceResult(r threatintel.Result) intel.SourceResult {
	return intel.SourceResult{Source: r.Source, Status: r.Status, Version: r.Version, ModelVersion: r.ModelVersion, Rows: r.Rows, Previous: r.Previous}
}

// classify makes a refused file a non-retryable error; download and
// database errors stay retryable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, threatintel.ErrRefused) {
		return temporal.NewNonRetryableApplicationError(err.Error(), intel.ErrRefused, err)
	}
	return err
}
