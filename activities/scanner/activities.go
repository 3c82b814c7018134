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
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/activities/store"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/targets"
)

// RunName is the registered name of Run.
const RunName = "scanner.Run"

// Known lists the scanners Run can start.
var Known = map[string]bool{"nmap": true}

// maxReport caps what we keep of a scanner's output (the import limit too).
const maxReport = 100 << 20

// Activities runs scanners.
type Activities struct {
	DB       *db.DB
	Policy   targets.Policy
	Resolver targets.Resolver
	NmapPath string
	Log      *slog.Logger
	// HeartbeatEvery is how often a running scanner reports progress.
	HeartbeatEvery time.Duration
}

// RunInput is one scanner against one target of one scan.
type RunInput struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ScanID   uuid.UUID `json:"scan_id"`
	Scanner  string    `json:"scanner"`
	Target   string    `json:"target"`
}

// RunResult points at the stored report.
type RunResult struct {
	ReportID uuid.UUID `json:"report_id"`
	Scanner  string    `json:"scanner"`
	Address  string    `json:"address"`
	Bytes    int       `json:"bytes"`
}

// Run resolves the target once, checks the resolved address against the
// policy, runs the scanner on that address and stores the raw report.
func (a *Activities) Run(ctx context.Context, in RunInput) (RunResult, error) {
	if !Known[in.Scanner] {
		return RunResult{}, temporal.NewNonRetryableApplicationError("unknown scanner "+in.Scanner, ErrUnknownScanner, nil)
	}
	t, err := targets.Parse(in.Target)
	if err != nil {
		return RunResult{}, nonRetryable(err)
	}
	addr, err := targets.Resolve(ctx, a.Resolver, t)
	if err != nil {
		return RunResult{}, err // DNS failures may be transient
	}
	if err := a.Policy.Check(addr); err != nil {
		return RunResult{}, nonRetryable(err)
	}
	var report []byte
	switch in.Scanner {
	case "nmap":
		report, err = a.runNmap(ctx, in, t, addr)
	}
	if err != nil {
		return RunResult{}, err
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
		return RunResult{}, fmt.Errorf("store report: %w", err)
	}
	return RunResult{ReportID: id, Scanner: in.Scanner, Address: addr.String(), Bytes: len(report)}, nil
}

// nmap writes <taskprogress … percent="42.10" …/> into its XML every
// --stats-every interval; that is our progress signal.
var nmapProgress = regexp.MustCompile(`<taskprogress [^>]*percent="([0-9.]+)"`)

func (a *Activities) runNmap(ctx context.Context, in RunInput, t targets.Target, addr netip.Addr) ([]byte, error) {
	path, err := exec.LookPath(a.NmapPath)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("nmap is not installed on this worker: "+err.Error(), ErrScannerNotPresent, err)
	}
	// -sT works unprivileged; -Pn because the target was just resolved and
	// policy-checked, so host discovery only adds time; -n: we resolved already.
	args := []string{"-sT", "-sV", "-Pn", "-n", "--stats-every", "2s", "-oX", "-"}
	if t.Port > 0 {
		args = append(args, "-p", strconv.Itoa(t.Port))
	}
	if addr.Is6() {
		args = append(args, "-6")
	}
	args = append(args, addr.String())
	return a.runProcess(ctx, in, path, args, func(out []byte) (int, bool) {
		m := nmapProgress.FindAllSubmatch(out, -1)
		if len(m) == 0 {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(m[len(m)-1][1]), 64)
		if err != nil {
			return 0, false
		}
		return int(f), true
	})
}

// runProcess starts a scanner in its own process group, heartbeats while it
// runs (with the progress parsed from its output), and kills the group when
// the activity context ends: cancellation of the workflow reaches us through
// the heartbeat, and the scanner must not outlive it.
func (a *Activities) runProcess(ctx context.Context, in RunInput, path string, args []string, progress func([]byte) (int, bool)) ([]byte, error) {
	log := a.logger(ctx)
	cmd := exec.CommandContext(ctx, path, args...)
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
	log.Info("scanner starting", "scanner", in.Scanner, "args", args)
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
				return nil, temporal.NewNonRetryableApplicationError("scanner output larger than 100 MB", "ReportTooLarge", nil)
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
func (a *Activities) saveProgress(ctx context.Context, in RunInput, pct int) {
	if pct < 0 || a.DB == nil {
		return
	}
	if pct > 99 {
		pct = 99 // 100 means stored and parsed, which the workflow decides
	}
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.ScanSetProgress(ctx, tx, dbq.ScanSetProgressParams{
			ID: in.ScanID, Progress: int32(pct), Message: in.Scanner + " running", RunID: store.RunID(ctx),
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
