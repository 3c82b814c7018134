// Package workers decides which workflows and activities run on which task
// queue, and starts and stops the Temporal workers of a process.
package workers

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/fx"

	adojo "github.com/secureops/secureops/activities/defectdojo"
	agate "github.com/secureops/secureops/activities/gate"
	anotify "github.com/secureops/secureops/activities/notify"
	areconcile "github.com/secureops/secureops/activities/reconcile"
	"github.com/secureops/secureops/activities/scanner"
	aschedules "github.com/secureops/secureops/activities/schedules"
	"github.com/secureops/secureops/activities/store"
	averify "github.com/secureops/secureops/activities/verify"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	dojo "github.com/secureops/secureops/internal/defectdojo"
	"github.com/secureops/secureops/internal/schedules"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/workflows/gate"
	"github.com/secureops/secureops/workflows/notify"
	"github.com/secureops/secureops/workflows/reconcile"
	"github.com/secureops/secureops/workflows/scan"
	"github.com/secureops/secureops/workflows/schedule"
	"github.com/secureops/secureops/workflows/verify"
)

// Deps are what the activities need.
type Deps struct {
	Client client.Client
	DB     *db.DB
	Config config.Config
	Log    *slog.Logger
	// Resolver answers scan-time and ownership-check DNS questions (nil: the
	// system resolver); tests point it at a DNS server they control.
	Resolver *net.Resolver
}

// Workers is the set of Temporal workers of one process.
type Workers struct {
	log     *slog.Logger
	workers []worker.Worker
	// background tasks run while the workers run (onboarding's janitor).
	background []func(context.Context)
	cancel     context.CancelFunc
}

// ParseQueues validates a --queues value; empty means all.
func ParseQueues(qs []string) ([]string, error) {
	if len(qs) == 0 {
		return temporalx.AllQueues, nil
	}
	for _, q := range qs {
		if !slices.Contains(temporalx.AllQueues, q) {
			return nil, fmt.Errorf("unknown task queue %q (known: %v)", q, temporalx.AllQueues)
		}
	}
	return qs, nil
}

// New builds (but does not start) one worker per queue.
func New(d Deps, queues []string) (*Workers, error) {
	queues, err := ParseQueues(queues)
	if err != nil {
		return nil, err
	}
	ws := &Workers{log: d.Log}
	res := d.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	for _, q := range queues {
		w := worker.New(d.Client, q, worker.Options{
			// Lets in-flight activities (a scanner mid-run) finish or notice
			// cancellation before the process exits on deploy.
			WorkerStopTimeout: 10 * time.Second,
		})
		switch q {
		case temporalx.QueueScans:
			w.RegisterWorkflowWithOptions(scan.ScanWorkflow, scan.RegisterOptions())
			st := &store.Activities{DB: d.DB, ScanLimits: d.Config.ScanLimits}
			w.RegisterActivityWithOptions(st.ScanMarkRunning, activity.RegisterOptions{Name: store.ScanMarkRunningName})
			w.RegisterActivityWithOptions(st.IngestReport, activity.RegisterOptions{Name: store.IngestReportName})
			w.RegisterActivityWithOptions(st.ScanFinish, activity.RegisterOptions{Name: store.ScanFinishName})
			w.RegisterActivityWithOptions(st.ScanAuthorize, activity.RegisterOptions{Name: store.ScanAuthorizeName})
			w.RegisterActivityWithOptions(st.ScanClaim, activity.RegisterOptions{Name: store.ScanClaimName})
			w.RegisterWorkflowWithOptions(gate.Workflow, gate.RegisterOptions())
			w.RegisterWorkflowWithOptions(schedule.ScheduledScanWorkflow, schedule.RegisterOptions())
			w.RegisterWorkflowWithOptions(schedule.SyncTenantWorkflow, schedule.SyncRegisterOptions())
			w.RegisterActivityWithOptions(st.ScheduledScanCreate, activity.RegisterOptions{Name: store.ScheduledScanCreateName})
			w.RegisterActivityWithOptions(st.RecordUsage, activity.RegisterOptions{Name: store.RecordUsageName})
			w.RegisterWorkflowWithOptions(notify.NotifyWorkflow, notify.RegisterOptions())
			dd := &adojo.Activities{DB: d.DB, ProductType: d.Config.DefectDojoProductType}
			if d.Config.DefectDojoURL != "" {
				dd.Client = dojo.New(d.Config.DefectDojoURL, d.Config.DefectDojoToken, &http.Client{Timeout: 5 * time.Minute})
			}
			w.RegisterActivityWithOptions(dd.Reimport, activity.RegisterOptions{Name: adojo.ReimportName})
			na := &anotify.Activities{DB: d.DB, Policy: d.Config.ScanPolicy(), Resolver: res, PublicURL: d.Config.PublicURL}
			w.RegisterActivityWithOptions(na.Prepare, activity.RegisterOptions{Name: anotify.PrepareName})
			w.RegisterActivityWithOptions(na.Deliver, activity.RegisterOptions{Name: anotify.DeliverName})
			w.RegisterActivityWithOptions(na.MarkFailed, activity.RegisterOptions{Name: anotify.MarkFailedName})
			sa := &aschedules.Activities{DB: d.DB, Syncer: schedules.Syncer{Client: d.Client}}
			w.RegisterActivityWithOptions(sa.SyncTenant, activity.RegisterOptions{Name: aschedules.SyncTenantName})
			ga := &agate.Activities{Client: d.Client}
			w.RegisterActivityWithOptions(ga.Acquire, activity.RegisterOptions{Name: agate.AcquireName})
			w.RegisterActivityWithOptions(ga.Ended, activity.RegisterOptions{Name: agate.EndedName})
			// Ownership checks are light DNS and HTTP requests: they run with
			// the orchestration, not on scanner hosts.
			w.RegisterWorkflowWithOptions(reconcile.Workflow, reconcile.RegisterOptions())
			ra := &areconcile.Activities{DB: d.DB, Client: d.Client}
			w.RegisterActivityWithOptions(ra.Scans, activity.RegisterOptions{Name: areconcile.ScansName})
			w.RegisterActivityWithOptions(ra.Signups, activity.RegisterOptions{Name: areconcile.SignupsName})
			ws.background = append(ws.background, func(ctx context.Context) { ensureReconcileSchedule(ctx, d) })
			w.RegisterWorkflowWithOptions(verify.Workflow, verify.RegisterOptions())
			va := &averify.Activities{DB: d.DB, Policy: d.Config.ScanPolicy(), Resolver: res, TXT: res}
			w.RegisterActivityWithOptions(va.Check, activity.RegisterOptions{Name: averify.CheckName})
		case temporalx.QueueScanners:
			sc := &scanner.Activities{
				DB:         d.DB,
				Policy:     d.Config.ScanPolicy(),
				Resolver:   res,
				NmapPath:   d.Config.NmapPath,
				NiktoPath:  d.Config.NiktoPath,
				ZAPPath:    d.Config.ZAPPath,
				TrivyPath:  d.Config.TrivyPath,
				NucleiPath: d.Config.NucleiPath,
				Log:        d.Log,
			}
			w.RegisterActivityWithOptions(sc.Run, activity.RegisterOptions{Name: scanner.RunName})
		case temporalx.QueueOnboarding:
			bg, err := registerOnboarding(w, d)
			if err != nil {
				return nil, err
			}
			ws.background = append(ws.background, bg)
		}
		ws.workers = append(ws.workers, w)
	}
	return ws, nil
}

// ensureReconcileSchedule creates the reconciler's schedule, retrying while
// the Temporal frontend is not reachable yet.
func ensureReconcileSchedule(ctx context.Context, d Deps) {
	for wait := time.Second; ; wait = min(2*wait, time.Minute) {
		err := reconcile.EnsureSchedule(ctx, d.Client)
		if err == nil || ctx.Err() != nil {
			return
		}
		if d.Log != nil {
			d.Log.Warn("creating the scan reconciler's schedule", "error", err, "retry_in", wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Start starts every worker; on error the ones already started are stopped.
func (ws *Workers) Start() error {
	for i, w := range ws.workers {
		if err := w.Start(); err != nil {
			for _, s := range ws.workers[:i] {
				s.Stop()
			}
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ws.cancel = cancel
	for _, bg := range ws.background {
		go bg(ctx)
	}
	return nil
}

// Stop stops every worker, waiting for running activities up to the stop timeout.
func (ws *Workers) Stop() {
	if ws.cancel != nil {
		ws.cancel()
	}
	for _, w := range ws.workers {
		w.Stop()
	}
}

// Queues is the fx-supplied list of queues this process serves.
type Queues []string

// Module runs the workers of the supplied Queues for the app's lifetime.
var Module = fx.Module("workers",
	fx.Provide(func(d Deps, q Queues) (*Workers, error) { return New(d, q) }),
	fx.Invoke(func(lc fx.Lifecycle, ws *Workers) {
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error { return ws.Start() },
			OnStop:  func(context.Context) error { ws.Stop(); return nil },
		})
	}),
)

// DepsModule assembles Deps from the app's components.
var DepsModule = fx.Provide(func(c client.Client, d *db.DB, cfg config.Config, log *slog.Logger) Deps {
	return Deps{Client: c, DB: d, Config: cfg, Log: log}
})
