package defectdojo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/dojo"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/parsers"
	"github.com/secureops/secureops/internal/scans"
)

// EngagementName is the engagement every SecureOps test lives in.
const EngagementName = "SecureOps"

// BuildID marks our import of a scan's report in DefectDojo's import history.
func BuildID(scanID uuid.UUID, scanner string) string {
	return "secureops-scan/" + scanID.String() + "/" + scanner
}

// TestTitle is the DefectDojo test a target's scanner reports go to; each
// re-import updates it and closes what the new report no longer has.
func TestTitle(target, scanner string) string { return "secureops/" + target + "/" + scanner }

// Reimport sends a completed scan's report to the tenant's DefectDojo
// product exactly once: our own record is checked first, then DefectDojo's
// import history (an answer lost between its commit and ours), and only
// then is the report sent.
func (a *Activities) Reimport(ctx context.Context, in scan.ReimportInput) (scan.ReimportResult, error) {
	if a.Client == nil {
		return scan.ReimportResult{Skipped: "DefectDojo is not configured"}, nil
	}
	scanType, ok := dojo.ScanTypes[in.Scanner]
	if !ok {
		return scan.ReimportResult{Skipped: "DefectDojo has no parser for " + in.Scanner}, nil
	}
	var (
		sc      dbq.Scan
		tenant  dbq.Tenant
		report  []byte
		already *dbq.ScanDefectdojoImport
	)
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if sc, err = db.Q.ScanGet(ctx, tx, in.ScanID); err != nil {
			return err
		}
		if tenant, err = db.Q.TenantGet(ctx, tx, in.TenantID); err != nil {
			return err
		}
		if rec, err := db.Q.DefectDojoImportGet(ctx, tx, dbq.DefectDojoImportGetParams{ScanID: in.ScanID, Scanner: in.Scanner}); err == nil {
			already = &rec
			return nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rep, err := db.Q.ScanReportByScanner(ctx, tx, dbq.ScanReportByScannerParams{ScanID: in.ScanID, Scanner: in.Scanner})
		if err != nil {
			return fmt.Errorf("load the %s report: %w", in.Scanner, err)
		}
		// An import's report may be in chunks (scan_report_chunks).
		if report, err = scans.ReportContent(ctx, tx, rep); err != nil {
			return fmt.Errorf("load the %s report: %w", in.Scanner, err)
		}
		return nil
	})
	if err != nil {
		return scan.ReimportResult{}, err
	}
	switch {
	case already != nil:
		return scan.ReimportResult{TestID: already.TestID, Already: true}, nil
	case sc.Status != "completed":
		return scan.ReimportResult{Skipped: "the scan did not complete"}, nil
	case tenant.DefectdojoProductID == nil:
		return scan.ReimportResult{Skipped: "the tenant has no DefectDojo product"}, nil
	}
	build := BuildID(in.ScanID, in.Scanner)
	testID, err := a.Client.FindImport(ctx, build)
	if err != nil {
		return scan.ReimportResult{}, classify("find import", err)
	}
	// A retry may follow an attempt whose request timed out on our side
	// while DefectDojo went on importing; its history shows the import only
	// once it is done. Give it time before sending the report again.
	if testID == 0 && activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt > 1 {
		for i := 0; i < 8 && testID == 0; i++ {
			activity.RecordHeartbeat(ctx, i)
			select {
			case <-ctx.Done():
				return scan.ReimportResult{}, ctx.Err()
			case <-time.After(a.retryWait()):
			}
			if testID, err = a.Client.FindImport(ctx, build); err != nil {
				return scan.ReimportResult{}, classify("find import", err)
			}
		}
	}
	res := scan.ReimportResult{TestID: testID, Already: testID != 0}
	if testID == 0 {
		file, name := report, in.Scanner+"-report"
		if in.Scanner == "secureops" {
			if file, err = genericReport(report); err != nil {
				return scan.ReimportResult{}, temporal.NewNonRetryableApplicationError(err.Error(), scan.ErrDefectDojoRejected, err)
			}
			name = "secureops.json"
		}
		finished := sc.CreatedAt
		if sc.FinishedAt != nil {
			finished = *sc.FinishedAt
		}
		r, err := a.Client.Reimport(ctx, dojo.ReimportRequest{
			ScanType: scanType, ProductName: ProductName(tenant.Name), EngagementName: EngagementName,
			TestTitle: TestTitle(sc.Target, in.Scanner), BuildID: build, ScanDate: finished, FileName: name, File: file,
		})
		if err != nil {
			return scan.ReimportResult{}, classify("reimport", err)
		}
		res.TestID = r.TestID
	}
	err = a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		return db.Q.DefectDojoImportRecord(ctx, tx, dbq.DefectDojoImportRecordParams{
			ScanID: in.ScanID, Scanner: in.Scanner, TenantID: in.TenantID, TestID: res.TestID, BuildID: build,
		})
	})
	return res, err
}

func (a *Activities) retryWait() time.Duration {
	if a.RetryWait > 0 {
		return a.RetryWait
	}
	return 15 * time.Second
}

// genericFinding is one entry of DefectDojo's Generic Findings Import JSON.
type genericFinding struct {
	Title            string            `json:"title"`
	Severity         string            `json:"severity"`
	Description      string            `json:"description"`
	Mitigation       string            `json:"mitigation,omitempty"`
	References       string            `json:"references,omitempty"`
	CVE              string            `json:"cve,omitempty"`
	CWE              int               `json:"cwe,omitempty"`
	CVSSv3           string            `json:"cvssv3,omitempty"`
	CVSSv3Score      float64           `json:"cvssv3_score,omitempty"`
	ComponentName    string            `json:"component_name,omitempty"`
	ComponentVersion string            `json:"component_version,omitempty"`
	UniqueID         string            `json:"unique_id_from_tool"`
	VulnID           string            `json:"vuln_id_from_tool,omitempty"`
	Endpoints        []genericEndpoint `json:"endpoints,omitempty"`
	Active           bool              `json:"active"`
	Verified         bool              `json:"verified"`
	// EPSS and KEV fields are added here once findings carry enrichment.
}

type genericEndpoint struct {
	Protocol string `json:"protocol,omitempty"`
	Host     string `json:"host"`
	Port     int    `json:"port,omitempty"`
	Path     string `json:"path,omitempty"`
}

// genericReport turns our native scanner's findings into DefectDojo's
// Generic Findings Import, keeping our fingerprint as the tool's unique id so
// DefectDojo's re-import matches findings the way we do.
func genericReport(native []byte) ([]byte, error) {
	fs, err := parsers.Parse("secureops", native)
	if err != nil {
		return nil, fmt.Errorf("the native report does not parse: %w", err)
	}
	out := struct {
		Findings []genericFinding `json:"findings"`
	}{Findings: make([]genericFinding, 0, len(fs))}
	for _, f := range fs {
		g := genericFinding{
			Title: f.Title, Severity: titleCase(f.Severity), Description: describe(f), Mitigation: f.Remediation,
			References: strings.Join(f.References, "\n"), CVSSv3: f.CVSSVector, CVSSv3Score: f.CVSSScore,
			ComponentName: f.Component, ComponentVersion: f.ComponentVersion, UniqueID: f.Fingerprint, VulnID: f.RuleID,
			Active: true,
		}
		if len(f.CVEs) > 0 {
			g.CVE = f.CVEs[0]
		}
		if len(f.CWEs) > 0 {
			g.CWE = f.CWEs[0]
		}
		if f.Host != "" {
			ep := genericEndpoint{Host: f.Host, Port: f.Port}
			if i := strings.Index(f.URL, "://"); i > 0 {
				ep.Protocol = f.URL[:i]
				if j := strings.Index(f.URL[i+3:], "/"); j >= 0 {
					ep.Path = strings.TrimPrefix(f.URL[i+3+j:], "/")
				}
			}
			g.Endpoints = []genericEndpoint{ep}
		}
		out.Findings = append(out.Findings, g)
	}
	return json.Marshal(out)
}

func titleCase(s findings.Severity) string {
	v := string(s)
	if v == "" {
		return "Info"
	}
	return strings.ToUpper(v[:1]) + v[1:]
}

func describe(f findings.Finding) string {
	d := f.Description
	if d == "" {
		d = f.Title
	}
	if f.Evidence != "" {
		d += "\n\nEvidence:\n" + f.Evidence
	}
	return d
}
