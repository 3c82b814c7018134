// Package workers decides which workflows and activities run on which task
// queue, and starts and stops the Temporal workers of a process. It builds
// each activities package's dependencies and calls the packages' Register
// functions per queue; the clients of outside systems come from their own fx
// modules (temporalx, kratos, dojo, stripe, email), one per process.
package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/resend/resend-go/v2"
	stripeclient "github.com/stripe/stripe-go/v76/client"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/fx"

	"github.com/secureops/secureops/activities/deadlines"
	"github.com/secureops/secureops/activities/defectdojo"
	"github.com/secureops/secureops/activities/email"
	"github.com/secureops/secureops/activities/feeds"
	"github.com/secureops/secureops/activities/identity"
	"github.com/secureops/secureops/activities/ownership"
	"github.com/secureops/secureops/activities/reports"
	"github.com/secureops/secureops/activities/scanner"
	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/activities/stripe"
	"github.com/secureops/secureops/activities/temporalops"
	"github.com/secureops/secureops/activities/triaging"
	"github.com/secureops/secureops/activities/webhooks"
	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/contract/intel"
	"github.com/secureops/secureops/internal/contract/maintenance"
	"github.com/secureops/secureops/internal/contract/reconcile"
	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/dojo"
	"github.com/secureops/secureops/internal/kratos"
	"github.com/secureops/secureops/internal/llmtriage"
	"github.com/secureops/secureops/internal/reporting"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/internal/triagerules"
	"github.com/secureops/secureops/workflows/billingflow"
	"github.com/secureops/secureops/workflows/gateflow"
	"github.com/secureops/secureops/workflows/intelflow"
	"github.com/secureops/secureops/workflows/maintenanceflow"
	"github.com/secureops/secureops/workflows/notifyflow"
	"github.com/secureops/secureops/workflows/onboardingflow"
	"github.com/secureops/secureops/workflows/reconcileflow"
	"github.com/secureops/secureops/workflows/reportflow"
	"github.com/secureops/secureops/workflows/scanflow"
	"github.com/secureops/secureops/workflows/scheduleflow"
	"github.com/secureops/secureops/workflows/slaflow"
	"github.com/secureops/secureops/workflows/triageflow"
	"github.com/secureops/secureops/workflows/verifyflow"
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
	// Clients of outside systems, provided once per process by their fx
	// modules. Nil ones are built from Config by the same constructors (a
	// test or tool calling New without fx); nil after that means the system
	// is not configured.
	Kratos *kratos.Client
	Dojo   *dojo.Client
	Stripe *stripeclient.API
	Resend *resend.Client
	// ReportWriter writes reports' prose with a model; nil writes rules prose.
	ReportWriter reporting.Writer
	// TriageDecider is the model the Triage workflow asks after its rules
	// (internal/llmtriage when LLM_* is configured); nil: rules only.
	TriageDecider triagerules.Decider
}

// withClients fills the outside-system clients fx did not provide.
func (d Deps) withClients() (Deps, error) {
	if d.Kratos == nil {
		d.Kratos = kratos.FromConfig(kratos.ConfigFrom(d.Config))
	}
	if d.Dojo == nil {
		d.Dojo = dojo.FromConfig(dojo.ConfigFrom(d.Config))
	}
	if d.Stripe == nil {
		d.Stripe = stripe.FromConfig(stripe.ConfigFrom(d.Config))
	}
	if d.Resend == nil {
		rc, err := email.FromConfig(email.ConfigFrom(d.Config))
		if err != nil {
			return d, err
		}
		d.Resend = rc
	}
	if d.Resolver == nil {
		d.Resolver = net.DefaultResolver
	}
	if (d.TriageDecider == nil || d.ReportWriter == nil) && d.Config.LLM.Configured() {
		c, err := llmtriage.New(d.Config.LLM, d.DB, llmtriage.Options{})
		if err != nil {
			return d, err
		}
		if c != nil && d.TriageDecider == nil {
			d.TriageDecider = llmDecider{c}
		}
		if c != nil && d.ReportWriter == nil {
			d.ReportWriter = c.ReportWriter()
		}
	}
	return d, nil
}

// Workers is the set of Temporal workers of one process.
type Workers struct {
	log     *slog.Logger
	client  client.Client
	workers []worker.Worker
	// schedules are the platform Schedules the served queues keep.
	schedules []temporalx.PlatformSchedule
	cancel    context.CancelFunc
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
	d, err = d.withClients()
	if err != nil {
		return nil, err
	}
	c := d.Config
	ws := &Workers{log: d.Log, client: d.Client}
	dd := &defectdojo.Activities{DB: d.DB, Client: d.Dojo, ProductType: c.DefectDojoProductType}
	ops := &temporalops.Activities{DB: d.DB, Client: d.Client}
	for _, q := range queues {
		w := worker.New(d.Client, q, Options(q, c))
		switch q {
		case temporalx.QueueScans:
			scanflow.Register(w)
			gateflow.Register(w)
			scheduleflow.Register(w)
			notifyflow.Register(w)
			reconcileflow.Register(w)
			// Ownership checks are light DNS and HTTP requests: they run with
			// the orchestration, not on scanner hosts.
			verifyflow.Register(w)
			store.Register(w, &store.Activities{DB: d.DB, ScanLimits: c.ScanLimits, DeadlinesChanged: func(ctx context.Context, t uuid.UUID) error {
				return sla.DeadlinesChanged(ctx, d.Client, t)
			}})
			defectdojo.Register(w, dd)
			webhooks.Register(w, &webhooks.Activities{DB: d.DB, Policy: c.WebhookPolicy(), Resolver: d.Resolver, PublicURL: c.PublicURL, Log: d.Log})
			temporalops.Register(w, ops)
			ownership.Register(w, &ownership.Activities{DB: d.DB, Policy: c.ScanPolicy(), Resolver: d.Resolver, TXT: d.Resolver})
			// The daily threat-intel refresh: feeds, re-prioritisation, KEV alerts.
			intelflow.Register(w)
			feeds.Register(w, &feeds.Activities{DB: d.DB, KEVURL: c.KEVURL, EPSSURL: c.EPSSURL, PublicURL: c.PublicURL})
			ws.schedules = append(ws.schedules, reconcile.Schedule, intel.Schedule)
			// Reports: numbers by SQL, prose by the writer (rules without a model).
			reportflow.Register(w)
			reports.Register(w, &reports.Activities{DB: d.DB, Writer: d.ReportWriter, Log: d.Log, Brand: c.Brand})
			// Each tenant's SLA timers (sla/<tenant-id>): notices, finding.sla_breached.
			slaflow.Register(w)
			deadlines.Register(w, &deadlines.Activities{DB: d.DB, Client: d.Client, PublicURL: c.PublicURL})
			// Triage of every completed scan and import: rules, a model, analysts.
			triageflow.Register(w)
			triaging.Register(w, &triaging.Activities{DB: d.DB, Decider: d.TriageDecider, Log: d.Log})
		case temporalx.QueueScanners:
			sa := &scanner.Activities{
				DB:         d.DB,
				Policy:     c.ScanPolicy(),
				Resolver:   d.Resolver,
				NmapPath:   c.NmapPath,
				NiktoPath:  c.NiktoPath,
				ZAPPath:    c.ZAPPath,
				TrivyPath:  c.TrivyPath,
				NucleiPath: c.NucleiPath,
				Log:        d.Log,
			}
			if missing := sa.Missing(); len(missing) > 0 && d.Log != nil {
				d.Log.Warn("scanners configured but not installed on this worker: their runs here fail", "missing", missing)
			}
			scanner.Register(w, sa)
		case temporalx.QueueOnboarding:
			if c.Mode == config.ModeProduction && c.SealKey == nil {
				return nil, errors.New("the onboarding queue needs SECUREOPS_SEAL_KEY (32 bytes, base64) to seal first API keys")
			}
			if d.Stripe == nil && d.Log != nil {
				d.Log.Warn("Stripe is not configured (STRIPE_SECRET_KEY, STRIPE_API_BASE): onboarding skips billing")
			}
			onboardingflow.Register(w)
			maintenanceflow.Register(w)
			store.RegisterOnboarding(w, &store.Onboarding{DB: d.DB, SealKey: c.SealKey, Policy: c.ScanPolicy()})
			sa := &stripe.Activities{DB: d.DB, API: d.Stripe, PublicURL: c.PublicURL}
			stripe.Register(w, sa)
			identity.Register(w, &identity.Activities{DB: d.DB, Kratos: d.Kratos})
			defectdojo.Register(w, dd)
			// Scan summaries and alerts go out from here too: this queue's
			// workers hold the email provider's credentials.
			ea := &email.Activities{DB: d.DB, From: c.EmailFrom, OpsEmail: c.OpsEmail, PublicURL: c.PublicURL, Resend: d.Resend,
				Kratos: d.Kratos, RevealSecrets: c.Mode != config.ModeProduction, Brand: c.Brand, Templates: c.EmailTemplates}
			email.Register(w, ea)
			// Onboarding keeps the initial target's schedule.
			temporalops.Register(w, ops)
			// Each tenant's billing cycle (billing/<tenant-id>): Stripe,
			// dunning emails, suspension through the schedules' sync.
			billingflow.Register(w)
			store.RegisterBilling(w, &store.Billing{DB: d.DB})
			stripe.RegisterBilling(w, sa)
			email.RegisterBilling(w, ea)
			ws.schedules = append(ws.schedules, maintenance.Schedule)
		}
		ws.workers = append(ws.workers, w)
	}
	return ws, nil
}

// StopTimeout lets in-flight activities (a scanner mid-run) finish or
// notice cancellation before the process exits on deploy; the process's
// drain (config.ShutdownTimeout) is above it, and a container's stop grace
// period must be above that.
const StopTimeout = 10 * time.Second

// Options are the SDK worker options of queue q: on the scanners queue at
// most SCANNER_MAX_CONCURRENT scanner processes at once per worker (the
// SDK's default of 1,000 would start a scanner for every waiting task).
func Options(q string, c config.Config) worker.Options {
	o := worker.Options{WorkerStopTimeout: StopTimeout}
	if q == temporalx.QueueScanners && c.ScannerMaxConcurrent > 0 {
		o.MaxConcurrentActivityExecutionSize = c.ScannerMaxConcurrent
	}
	return o
}

// ensureSchedules creates (or brings in line) the platform Schedules of the
// served queues, retrying while the Temporal frontend is not reachable yet.
// The work they run is workflows, visible in the Web UI; this only makes
// sure the schedules exist.
func (ws *Workers) ensureSchedules(ctx context.Context) {
	for _, s := range ws.schedules {
		for wait := time.Second; ; wait = min(2*wait, time.Minute) {
			err := temporalx.EnsureSchedule(ctx, ws.client, s)
			if err == nil || ctx.Err() != nil {
				break
			}
			if ws.log != nil {
				ws.log.Warn("creating a platform schedule", "schedule", s.ID, "error", err, "retry_in", wait)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
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
	go ws.ensureSchedules(ctx)
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

// DepsModule assembles Deps from the app's components; the outside systems'
// clients come from their own modules (cmd/secureops wires them once per
// process, for the API and the workers alike).
var DepsModule = fx.Provide(func(c client.Client, d *db.DB, cfg config.Config, log *slog.Logger,
	kc *kratos.Client, dc *dojo.Client, sc *stripeclient.API, rc *resend.Client) Deps {
	return Deps{Client: c, DB: d, Config: cfg, Log: log, Kratos: kc, Dojo: dc, Stripe: sc, Resend: rc}
})
