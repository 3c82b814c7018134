package scans

import (
	"context"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/targets"
)

// InsertImport records the scan of an uploaded report (source "import") with
// the rules of an upload, once:
//   - the report must be about a target a scan could be about: a host (or an
//     image's registry) whose spelling names an address the scan policy
//     forbids (cloud metadata, and loopback or private ranges where they are
//     not allowed) is refused, verified or not;
//   - a complete report closes the findings it does not list, which is a
//     triage decision: without findings:triage the import is partial.
func (r Rules) InsertImport(ctx context.Context, tx dbq.DBTX, a *auth.Access, n NewScan) (Scan, error) {
	if err := r.CheckImportTarget(n.Target); err != nil {
		return Scan{}, err
	}
	n.Source = "import"
	n.Complete = ImportComplete(a, n.Complete)
	return Insert(ctx, tx, n)
}

// ImportComplete is whether an import asked to be complete counts as
// complete for a: closing findings by their absence needs findings:triage.
func ImportComplete(a *auth.Access, complete bool) bool {
	return complete && a.Can(auth.PermFindingsTriage)
}

// CheckImportTarget refuses (422) an import target, in its canonical form,
// whose host the scan policy forbids by its spelling.
func (r Rules) CheckImportTarget(value string) error {
	t, err := targets.Parse(value)
	if err != nil {
		return domainerr.Wrap(domainerr.Refused, "the import's target is not valid: "+err.Error(), err)
	}
	host := t.Host
	if t.Kind == targets.KindImage {
		host, _ = t.RegistryHost()
	}
	if host == "" {
		return nil
	}
	if err := r.Policy.CheckName(host); err != nil {
		return domainerr.Wrap(domainerr.Refused, "imports are not accepted for this target: "+err.Error(), err)
	}
	return nil
}
