// Package scanner runs scanner processes against a tenant's target and stores
// their raw reports. Each run heartbeats its progress, and when the workflow is
// cancelled the whole scanner process group is killed.
package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/activities/internal/reportparse"
	"github.com/secureops/secureops/internal/checks"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/temporalx"
)

// maxReport caps what we keep of a scanner's output (the import limit too).
const maxReport = 100 << 20

// Activities runs scanners.
type Activities struct {
	DB       *db.DB
	Policy   targets.Policy
	Resolver targets.Resolver
	// Scanner binaries: a name looked up in PATH or a path. An empty path
	// means the scanner is not available on this worker.
	NmapPath   string
	NiktoPath  string
	ZAPPath    string
	TrivyPath  string
	NucleiPath string
	// NiktoMaxTime bounds each nikto run (its -maxtime); zero means an hour.
	NiktoMaxTime time.Duration
	// CheckOptions tune the native "secureops" scanner (Progress is replaced).
	CheckOptions checks.Options
	Log          *slog.Logger
	// HeartbeatEvery is how often a running scanner reports progress.
	HeartbeatEvery time.Duration
}

// job is one scanner run: the parsed target and, for network targets, the
// one address the policy accepted. Scanners connect only to addr; the
// target's name is passed as virtual host / SNI where the tool allows it.
type job struct {
	in   scan.RunInput
	t    targets.Target
	addr netip.Addr
	bin  string // resolved executable, empty for the native scanner
}

// Run resolves the target once, checks every address it resolves to
// against the policy, runs the scanner on the accepted address and stores
// the raw report once it is known to parse.
func (a *Activities) Run(ctx context.Context, in scan.RunInput) (scan.RunResult, error) {
	if !scan.Known[in.Scanner] {
		return scan.RunResult{}, temporal.NewNonRetryableApplicationError("unknown scanner "+in.Scanner, scan.ErrUnknownScanner, nil)
	}
	t, err := targets.Parse(in.Target)
	if err != nil {
		return scan.RunResult{}, nonRetryable(err)
	}
	if err := acceptsKind(in.Scanner, t); err != nil {
		return scan.RunResult{}, err
	}
	j := job{in: in, t: t}
	if t.Kind == targets.KindImage {
		if err := a.checkRegistry(ctx, t); err != nil {
			return scan.RunResult{}, err
		}
	} else {
		pol, err := a.DB.TenantPolicy(ctx, a.Policy, in.TenantID)
		if err != nil {
			return scan.RunResult{}, err
		}
		if in.Address != "" {
			// The workflow proved ownership at this address a moment ago: scan
			// it, not whatever the name resolves to by now. The policy still
			// has the last word.
			addr, perr := netip.ParseAddr(in.Address)
			if perr != nil {
				return scan.RunResult{}, temporal.NewNonRetryableApplicationError("the proven address does not parse", scan.ErrInvalidTarget, perr)
			}
			if err := pol.Check(addr); err != nil {
				return scan.RunResult{}, nonRetryable(err)
			}
			j.addr = addr.Unmap()
		} else if j.addr, err = targets.ResolveChecked(ctx, a.Resolver, pol, t); err != nil {
			return scan.RunResult{}, nonRetryable(err) // DNS failures stay retryable
		}
	}
	// After the policy: a refused target is refused on every worker, which
	// is the answer the tenant needs, whatever this worker has installed.
	if j.bin, err = a.binary(in.Scanner); err != nil {
		return scan.RunResult{}, err
	}
	var report []byte
	switch in.Scanner {
	case "nmap":
		report, err = a.runNmap(ctx, j)
	case "nikto":
		report, err = a.runNikto(ctx, j)
	case "secureops":
		report, err = a.runChecks(ctx, j)
	case "zap":
		report, err = a.runZAP(ctx, j)
	case "trivy":
		report, err = a.runTrivy(ctx, j)
	case "nuclei":
		report, err = a.runNuclei(ctx, j)
	}
	if err != nil {
		return scan.RunResult{}, err
	}
	// A scanner can exit 0 without a usable report (nikto with an unknown
	// -Format, a tool version that changed its output); failing here names
	// the scanner run instead of failing later in ingest. Retrying would
	// only reproduce it.
	if _, err := reportparse.Parse(in.Scanner, report, in.Scanner+" produced a report that does not parse: "); err != nil {
		return scan.RunResult{}, err
	}
	var id uuid.UUID
	err = a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		id, err = db.Q.ScanReportUpsert(ctx, tx, dbq.ScanReportUpsertParams{
			TenantID: in.TenantID, ScanID: in.ScanID, Scanner: in.Scanner, Content: report,
		})
		return err
	})
	if err != nil {
		return scan.RunResult{}, fmt.Errorf("store report: %w", err)
	}
	res := scan.RunResult{ReportID: id, Scanner: in.Scanner, Bytes: len(report)}
	if j.addr.IsValid() {
		res.Address = j.addr.String()
	}
	return res, nil
}

// acceptsKind keeps image targets and network scanners apart: trivy reads
// an image from its registry, every other scanner connects to a host.
func acceptsKind(scanner string, t targets.Target) error {
	switch {
	case scans.FitsKind(scanner, t.Kind) == nil:
		return nil
	case scanner == scans.ImageScanner:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"trivy scans container images, and %s is a %s target; register the image as image:<reference>", t, t.Kind), scan.ErrInvalidTarget, nil)
	default:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s scans hosts over the network and cannot scan the image %s; only trivy scans images", scanner, t.Image), scan.ErrInvalidTarget, nil)
	}
}

// pathEnv names the variable that configures each external scanner.
var pathEnv = map[string]string{
	"nmap": "NMAP_PATH", "nikto": "NIKTO_PATH", "zap": "ZAP_PATH", "trivy": "TRIVY_PATH", "nuclei": "NUCLEI_PATH",
}

// binary finds the scanner's executable on this worker.
func (a *Activities) binary(scanner string) (string, error) {
	var p string
	switch scanner {
	case "secureops":
		return "", nil // built in
	case "nmap":
		p = a.NmapPath
	case "nikto":
		p = a.NiktoPath
	case "zap":
		p = a.ZAPPath
	case "trivy":
		p = a.TrivyPath
	case "nuclei":
		p = a.NucleiPath
	}
	env := pathEnv[scanner]
	if p == "" {
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s is not configured on this worker: set %s to its executable", scanner, env), scan.ErrScannerNotPresent, nil)
	}
	path, err := exec.LookPath(p)
	if err != nil {
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s is not installed on this worker (%s=%s: %v): install it or set %s to its executable", scanner, env, p, err, env), scan.ErrScannerNotPresent, err)
	}
	return path, nil
}

// process is one scanner execution. progress reads a percentage from the
// tail of what the scanner printed so far (nil: none, heartbeats carry -1).
type process struct {
	path string
	args []string
	env  []string // added to the worker's environment
	// isolated: env is the whole environment, nothing of the worker's.
	isolated bool
	progress func([]byte) (int, bool)
}

// runProcess starts a scanner in its own process group, heartbeats while it
// runs (with the progress parsed from its output), and kills the group when
// the activity context ends: cancellation of the workflow reaches us through
// the heartbeat, and the scanner must not outlive it. It returns what the
// scanner wrote to stdout.
func (a *Activities) runProcess(ctx context.Context, in scan.RunInput, p process) ([]byte, error) {
	log := a.logger(ctx)
	cmd := exec.CommandContext(ctx, p.path, p.args...)
	switch {
	case p.isolated:
		cmd.Env = append([]string{}, p.env...)
	case len(p.env) > 0:
		cmd.Env = append(os.Environ(), p.env...)
	}
	// Pdeathsig: if the worker dies, its scanner dies with it instead of
	// running on beside the retry's scanner.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	out := &lockedBuffer{}
	var stderr bytes.Buffer
	cmd.Stdout = out
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	progress := p.progress
	if progress == nil {
		progress = func([]byte) (int, bool) { return 0, false }
	}
	log.Info("scanner starting", "scanner", in.Scanner, "args", p.args)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", in.Scanner, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	every := a.HeartbeatEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := -1
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				return nil, fmt.Errorf("%s failed: %w: %s", in.Scanner, err, bytes.TrimSpace(stderr.Bytes()))
			}
			b := out.Bytes()
			if out.total > maxReport {
				return nil, temporal.NewNonRetryableApplicationError("scanner output larger than 100 MB", scan.ErrReportTooLarge, nil)
			}
			return b, nil
		case <-tick.C:
			pct, ok := progress(out.Tail(64 << 10))
			if !ok {
				pct = last
			}
			activity.RecordHeartbeat(ctx, pct)
			if ok && pct != last {
				last = pct
				a.saveProgress(ctx, in, pct)
			}
		}
	}
}

// saveProgress is best effort: a missed update only delays what the user sees.
func (a *Activities) saveProgress(ctx context.Context, in scan.RunInput, pct int) {
	if pct < 0 || a.DB == nil {
		return
	}
	if pct > 99 {
		pct = 99 // 100 means stored and parsed, which the workflow decides
	}
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.ScanSetProgress(ctx, tx, dbq.ScanSetProgressParams{
			ID: in.ScanID, Progress: int32(pct), Message: in.Scanner + " running", RunID: temporalx.ActivityRunID(ctx),
		})
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		a.logger(ctx).Warn("saving scan progress failed", "error", err)
	}
}

func (a *Activities) logger(ctx context.Context) *slog.Logger {
	l := a.Log
	if l == nil {
		l = slog.Default()
	}
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		l = l.With("workflow_id", info.WorkflowExecution.ID, "activity", info.ActivityType.Name)
	}
	return l
}

type lockedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	total int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += len(p)
	if b.total > maxReport {
		return len(p), nil // keep draining the pipe; Run rejects the report
	}
	return b.buf.Write(p)
}

// Tail returns the last n bytes written, enough to find the latest progress line.
func (b *lockedBuffer) Tail(n int) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	all := b.buf.Bytes()
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return append([]byte(nil), all...)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if len(q) > l.n {
		q = q[:l.n]
	}
	l.n -= len(q)
	_, _ = l.w.Write(q)
	return len(p), nil
}

// Register binds Run to its name in internal/contract/scan.
func Register(reg temporalx.ActivityRegistry, a *Activities) {
	scan.RunScanner.Register(reg, a.Run)
}
