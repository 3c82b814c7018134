package temporalops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"

	"github.com/secureops/secureops/internal/contract/reconcile"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// The reconciler brings scan rows and their workflows back in line after a
// crash: a scan row is written before its workflow is started, so an API
// process that dies in between leaves a scan that nothing would ever run,
// and a workflow terminated from the Web UI leaves a scan that nothing would
// ever finish.

// DefaultGrace is how old an unfinished scan must be before the reconciler
// looks at it: well past the API's 15 s start timeout, so it never races a
// start that is still under way.
const DefaultGrace = 2 * time.Minute

// MaxStartAge is the oldest scan the reconciler still starts: older scans
// without a workflow fail instead, so a day-old request (or one whose
// workflow history Temporal's retention has removed) does not run as if new.
const MaxStartAge = 24 * time.Hour

const pageSize = 100

func (a *Activities) grace() time.Duration {
	if a.Grace > 0 {
		return a.Grace
	}
	return DefaultGrace
}

// progress is the heartbeat: a retried pass resumes after the last scan it
// settled instead of describing every workflow again.
type progress struct {
	reconcile.Result
	AfterCreated time.Time `json:"after_created"`
	AfterID      uuid.UUID `json:"after_id"`
}

// Scans settles every unfinished scan older than the grace period: a scan
// without a workflow gets one, started with the same id the API would have
// used (so a start that did happen is never doubled), and a scan whose
// workflow is closed fails, naming the workflow. Scans whose workflow runs
// are left alone, however long they take.
func (a *Activities) Scans(ctx context.Context) (reconcile.Result, error) {
	var p progress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	for {
		var page []dbq.ScansUnfinishedRow
		err := a.DB.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
			var err error
			page, err = db.Q.ScansUnfinished(ctx, tx, dbq.ScansUnfinishedParams{
				GraceSeconds: a.grace().Seconds(), MaxStartAgeSeconds: MaxStartAge.Seconds(),
				AfterCreated: p.AfterCreated, AfterID: p.AfterID, Lim: pageSize,
			})
			return err
		})
		if err != nil {
			return p.Result, fmt.Errorf("list unfinished scans: %w", err)
		}
		for _, row := range page {
			if err := a.settle(ctx, row, &p.Result); err != nil {
				return p.Result, fmt.Errorf("scan %s: %w", row.ID, err)
			}
			p.Checked++
			p.AfterCreated, p.AfterID = row.CreatedAt, row.ID
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, p)
			}
		}
		if len(page) < pageSize {
			return p.Result, nil
		}
	}
}

func (a *Activities) settle(ctx context.Context, row dbq.ScansUnfinishedRow, res *reconcile.Result) error {
	desc, err := a.Client.DescribeWorkflowExecution(ctx, row.WorkflowID, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		switch {
		case row.TooOldToStart:
			return a.fail(ctx, row, fmt.Sprintf(
				"the scan's workflow was never started (or is older than Temporal keeps); start the scan again (workflow %s)", row.WorkflowID), res)
		case row.ScheduleID.Valid:
			// Its schedule's run starts it as a child: starting it here would
			// make that start fail, and the schedule pause on the failure.
			return nil
		}
		return a.start(ctx, row, res)
	}
	if err != nil {
		return fmt.Errorf("describe %s: %w", row.WorkflowID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	st := info.GetStatus()
	if st == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || st == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
		return nil
	}
	// Closed while the row says otherwise: the run's own last write never
	// happened (terminated, timed out, or failed before it could).
	msg := fmt.Sprintf("the scan's workflow ended (%s) before the scan finished; see workflow %s",
		workflowStatus(st), row.WorkflowID)
	return a.fail(ctx, row, msg, res)
}

// fail fails the scan unless a run has taken it over since it was listed.
func (a *Activities) fail(ctx context.Context, row dbq.ScansUnfinishedRow, msg string, res *reconcile.Result) error {
	return a.DB.InTx(ctx, db.TenantScope(row.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		n, err := db.Q.ScanFailAbandoned(ctx, tx, dbq.ScanFailAbandonedParams{ID: row.ID, Error: msg, ListedRunID: row.RunID})
		if n > 0 {
			res.Failed++
		}
		return err
	})
}

// Signups withdraws sign-ups whose onboarding workflow never began (the API
// process died between reserving the name and starting it), so the person
// can sign up again instead of finding their company name and address
// taken by nothing. It returns how many it withdrew. A sign-up whose
// workflow exists is the workflow's business (an operator resets or
// terminates it in the Web UI).
func (a *Activities) Signups(ctx context.Context) (int, error) {
	var rows []dbq.SignupsWithoutTenantRow
	err := a.DB.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		rows, err = db.Q.SignupsWithoutTenant(ctx, tx, dbq.SignupsWithoutTenantParams{GraceSeconds: a.grace().Seconds(), Lim: 500})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("list sign-ups without a tenant: %w", err)
	}
	withdrawn := 0
	for _, row := range rows {
		_, err := a.Client.DescribeWorkflowExecution(ctx, row.WorkflowID, "")
		var notFound *serviceerror.NotFound
		if !errors.As(err, &notFound) {
			if err != nil {
				return withdrawn, fmt.Errorf("describe %s: %w", row.WorkflowID, err)
			}
			continue
		}
		if err := a.DB.InTx(ctx, db.Scope{PlatformAdmin: true}, func(ctx context.Context, tx pgx.Tx) error {
			return db.Q.SignupWithdraw(ctx, tx, row.TokenHash)
		}); err != nil {
			return withdrawn, fmt.Errorf("withdraw sign-up %s: %w", row.Slug, err)
		}
		withdrawn++
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, withdrawn)
		}
	}
	return withdrawn, nil
}

func (a *Activities) start(ctx context.Context, row dbq.ScansUnfinishedRow, res *reconcile.Result) error {
	in := scan.Input{TenantID: row.TenantID, ScanID: row.ID, Target: row.Target, Scanners: row.Scanners}
	if row.ReportID.Valid {
		id := row.ReportID.UUID
		in.ReportID = &id
	}
	opts := scan.StartOptions(in)
	opts.ID = row.WorkflowID // the id the row records is the one described above
	_, err := a.Client.ExecuteWorkflow(ctx, opts, scan.WorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil // started meanwhile, by its own start after all
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", row.WorkflowID, err)
	}
	res.Started++
	return nil
}

func workflowStatus(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed out"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "cancelled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed"
	default:
		return s.String()
	}
}
