package ownership

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/targets"
)

// proveAttempts is how many times a failing proof is tried before the scan
// fails: a web server restarting or a DNS answer lost must not fail a
// scheduled scan, a proof that is gone must.
const proveAttempts = 3

// Prove makes the ownership proof hold at scan time, just before any active
// scanner runs. The target's name is resolved once, every address checked
// against the tenant's policy, and the proof re-checked for the address the
// scanners will be given:
//   - at an address the proof covered (pinned when it was verified), the
//     proof's own method again: the TXT record, or the token on that address
//     on every port that will be scanned;
//   - at an address it did not cover (the name was re-pointed), only the
//     token served on that exact address proves it; the address is then
//     pinned. A TXT record alone proves the name, not a new address.
//
// The scanners get the proven address and nothing else. Images are pulled,
// not attacked: they need no proof.
func (a *Activities) Prove(ctx context.Context, in scan.Ref) (scan.Proof, error) {
	var row dbq.Target
	err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
		sc, err := db.Q.ScanGet(ctx, tx, in.ScanID)
		if err != nil {
			return err
		}
		if !sc.TargetID.Valid {
			return notVerified("the target " + sc.Target + " is not registered; register and verify it before scanning")
		}
		row, err = db.Q.TargetGet(ctx, tx, sc.TargetID.UUID)
		if errors.Is(err, pgx.ErrNoRows) {
			return notVerified("the target " + sc.Target + " was deleted")
		}
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return scan.Proof{}, temporal.NewNonRetryableApplicationError("scan "+in.ScanID.String()+" does not exist", scan.ErrScanGone, err)
	}
	if err != nil {
		return scan.Proof{}, err
	}
	t, err := targets.ParseAs(targets.Kind(row.Kind), row.Value)
	if err != nil {
		return scan.Proof{}, temporal.NewNonRetryableApplicationError("the stored target no longer parses", scan.ErrInvalidTarget, err)
	}
	if t.Kind == targets.KindImage {
		return scan.Proof{Method: "none"}, nil
	}
	if row.VerificationStatus != "verified" {
		return scan.Proof{}, notVerified(fmt.Sprintf("the target %s is not verified (status %s)", row.Value, row.VerificationStatus))
	}
	pol, err := a.policyFor(ctx, in.TenantID)
	if err != nil {
		return scan.Proof{}, err
	}
	addr, err := targets.ResolveChecked(ctx, a.Resolver, pol, t)
	switch {
	case errors.Is(err, targets.ErrNotAllowed):
		return scan.Proof{}, temporal.NewNonRetryableApplicationError(err.Error(), scan.ErrTargetNotAllowed, nil)
	case err != nil:
		return scan.Proof{}, err // DNS trouble: retried
	}
	proof := scan.Proof{Address: addr.String(), Method: row.VerificationMethod}
	if row.VerificationMethod == "auto" {
		// Dev and test: this machine is the tenant's, and the policy allowed
		// only loopback above.
		return proof, nil
	}
	covered := slices.Contains(row.VerifiedAddrs, addr.String())
	var ok bool
	var why string
	switch {
	case covered && row.VerificationMethod == "dns":
		ok, why = a.checkDNS(ctx, t.Host, row.VerificationToken)
	default:
		var reasons []string
		ok, reasons = a.checkWellKnown(ctx, t, addr, row.VerificationToken)
		why = strings.Join(reasons, "; ")
		if !covered {
			why = fmt.Sprintf("%s now resolves to an address its ownership proof did not cover; serve the verification file there on every port to scan (%s), or verify the target again", t.Host, why)
			proof.Method = "http"
		}
	}
	if !ok {
		msg := "the ownership proof of " + row.Value + " no longer holds: " + why
		if activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt < proveAttempts {
			return scan.Proof{}, errors.New(msg)
		}
		return scan.Proof{}, notVerified(msg)
	}
	if !covered {
		err := a.DB.InTx(ctx, db.TenantScope(in.TenantID), func(ctx context.Context, tx pgx.Tx) error {
			return db.Q.TargetPinAddresses(ctx, tx, dbq.TargetPinAddressesParams{ID: row.ID, Addrs: []string{addr.String()}})
		})
		if err != nil {
			return scan.Proof{}, err
		}
		proof.Pinned = true
	}
	return proof, nil
}

func notVerified(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, scan.ErrTargetNotVerified, nil)
}
