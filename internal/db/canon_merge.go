package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/findings"
)

// MergeCanonical re-keys the stored findings of shared checks under the
// current canonical map (findings.Canonical) and merges those that are now
// one issue: in each group the oldest finding (first seen, then id) survives;
// the others' scan occurrences, triage events and decisions, SLA notices and
// alerts move to it (a row the survivor already has for the same scan or
// stage stays with the duplicate and goes with it), their reporters join its
// reporters, and it takes the group's first and last sightings, the highest
// severity and, when it was fixed but another was not, the open status.
//
// Migrate runs it after the schema migrations, once per version of the map
// (finding_canon_versions): running it again changes nothing. It returns how
// many findings were merged into others.
func MergeCanonical(ctx context.Context, conn *pgx.Conn) (int, error) {
	merged := 0
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('secureops.platform_admin', 'on', true)"); err != nil {
			return err
		}
		// One migrator at a time; the others find the version recorded.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('secureops.finding_canon'))"); err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM finding_canon_versions WHERE version = $1)", findings.CanonVersion).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		// Ingest writes findings under this lock's shadow too: hold them off
		// while the keys move.
		if _, err := tx.Exec(ctx, "LOCK TABLE findings IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		rekey, err := canonRekeys(ctx, tx)
		if err != nil {
			return err
		}
		if len(rekey) > 0 {
			if merged, err = mergeRekeyed(ctx, tx, rekey); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, "INSERT INTO finding_canon_versions (version, merged) VALUES ($1, $2)", findings.CanonVersion, merged)
		return err
	})
	return merged, err
}

type rekeyRow struct {
	id          uuid.UUID
	fingerprint string
}

// canonRekeys lists the findings of shared checks whose fingerprint is not
// the canonical one. Only those: every other finding keeps the fingerprint
// its ingest gave it, which the stored (cleaned, cut) columns may not
// reproduce exactly.
func canonRekeys(ctx context.Context, tx pgx.Tx) ([]rekeyRow, error) {
	rows, err := tx.Query(ctx, `SELECT id, fingerprint, title, cves, component, host, port, protocol, url, target, scanner, rule_id, evidence
		FROM findings WHERE cardinality(cves) = 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rekeyRow
	for rows.Next() {
		var (
			id uuid.UUID
			fp string
			f  findings.Finding
			p  int32
		)
		if err := rows.Scan(&id, &fp, &f.Title, &f.CVEs, &f.Component, &f.Host, &p, &f.Protocol, &f.URL, &f.Target, &f.Scanner, &f.RuleID, &f.Evidence); err != nil {
			return nil, err
		}
		f.Port = int(p)
		if _, ok := findings.Canonical(&f); !ok {
			continue
		}
		if nfp := f.ComputeFingerprint(); nfp != fp {
			out = append(out, rekeyRow{id: id, fingerprint: nfp})
		}
	}
	return out, rows.Err()
}

// mergeSQL runs in order over canon_rekey (finding id → its canonical
// fingerprint).
var mergeSQL = []string{
	// Every finding of a group: the re-keyed ones and those already stored
	// under the canonical fingerprint.
	`CREATE TEMP TABLE canon_member ON COMMIT DROP AS
	 SELECT f.id, f.tenant_id, COALESCE(r.fingerprint, f.fingerprint) AS fp, f.first_seen_at
	 FROM findings f LEFT JOIN canon_rekey r ON r.id = f.id
	 WHERE r.id IS NOT NULL
	    OR (f.tenant_id, f.fingerprint) IN (SELECT g.tenant_id, k.fingerprint FROM canon_rekey k JOIN findings g ON g.id = k.id)`,
	`CREATE TEMP TABLE canon_group ON COMMIT DROP AS
	 SELECT id, fp, first_value(id) OVER (PARTITION BY tenant_id, fp ORDER BY first_seen_at, id) AS survivor
	 FROM canon_member`,
	`CREATE TEMP TABLE canon_dup ON COMMIT DROP AS
	 SELECT id, survivor FROM canon_group WHERE id <> survivor`,
	// The survivor: all reporters (per scanner the newest report), the
	// group's sightings, the highest severity, open if any was.
	`UPDATE findings s SET
	     reporters = agg.reporters,
	     severity = secureops_reported_severity(agg.reporters, agg.severity),
	     first_seen_at = agg.first_seen_at,
	     first_scan_id = agg.first_scan_id,
	     last_seen_at = agg.last_seen_at,
	     last_scan_id = agg.last_scan_id,
	     kev = s.kev OR agg.kev,
	     priority = GREATEST(s.priority, agg.priority),
	     status = CASE WHEN s.status = 'fixed' AND agg.open THEN 'open' ELSE s.status END,
	     fixed_at = CASE WHEN s.status = 'fixed' AND agg.open THEN NULL ELSE s.fixed_at END,
	     status_changed_at = CASE WHEN s.status = 'fixed' AND agg.open THEN now() ELSE s.status_changed_at END
	 FROM (
	     SELECT g.survivor,
	            (SELECT jsonb_object_agg(e.key, e.value ORDER BY f2.last_seen_at, f2.id)
	             FROM canon_group g2 JOIN findings f2 ON f2.id = g2.id, jsonb_each(f2.reporters) e
	             WHERE g2.survivor = g.survivor) AS reporters,
	            (array_agg(f.severity ORDER BY secureops_severity_rank(f.severity) DESC))[1] AS severity,
	            min(f.first_seen_at) AS first_seen_at,
	            (array_agg(f.first_scan_id ORDER BY f.first_seen_at, f.id))[1] AS first_scan_id,
	            max(f.last_seen_at) AS last_seen_at,
	            (array_agg(f.last_scan_id ORDER BY f.last_seen_at DESC, f.id))[1] AS last_scan_id,
	            bool_or(f.kev) AS kev,
	            max(f.priority) AS priority,
	            bool_or(f.status IN ('new', 'open', 'reopened')) AS open
	     FROM canon_group g JOIN findings f ON f.id = g.id
	     WHERE g.survivor IN (SELECT survivor FROM canon_dup)
	     GROUP BY g.survivor
	 ) agg
	 WHERE s.id = agg.survivor`,
	// Occurrences: one per scan, listing every scanner.
	`INSERT INTO scan_findings (scan_id, finding_id, tenant_id, severity, change, scanners)
	 SELECT sf.scan_id, d.survivor, sf.tenant_id, sf.severity, sf.change, sf.scanners
	 FROM scan_findings sf JOIN canon_dup d ON d.id = sf.finding_id
	 ON CONFLICT (scan_id, finding_id) DO UPDATE SET
	     scanners = ARRAY(SELECT DISTINCT x FROM unnest(scan_findings.scanners || EXCLUDED.scanners) x ORDER BY x),
	     severity = CASE WHEN secureops_severity_rank(EXCLUDED.severity) > secureops_severity_rank(scan_findings.severity)
	                     THEN EXCLUDED.severity ELSE scan_findings.severity END,
	     change = CASE WHEN scan_findings.change = 'fixed' THEN EXCLUDED.change ELSE scan_findings.change END`,
	`UPDATE finding_events e SET finding_id = d.survivor FROM canon_dup d WHERE e.finding_id = d.id`,
	`UPDATE finding_triage t SET finding_id = d.survivor FROM canon_dup d
	 WHERE t.finding_id = d.id
	   AND NOT EXISTS (SELECT 1 FROM finding_triage o WHERE o.finding_id = d.survivor AND o.scan_id = t.scan_id AND o.source = t.source)`,
	`UPDATE sla_notices n SET finding_id = d.survivor FROM canon_dup d
	 WHERE n.finding_id = d.id AND NOT EXISTS (SELECT 1 FROM sla_notices o WHERE o.finding_id = d.survivor AND o.stage = n.stage)`,
	`UPDATE finding_alerts a SET finding_id = d.survivor FROM canon_dup d
	 WHERE a.finding_id = d.id AND NOT EXISTS (SELECT 1 FROM finding_alerts o WHERE o.finding_id = d.survivor AND o.kind = a.kind)`,
	`DELETE FROM findings f USING canon_dup d WHERE f.id = d.id`,
	`UPDATE findings f SET fingerprint = r.fingerprint FROM canon_rekey r WHERE f.id = r.id`,
}

func mergeRekeyed(ctx context.Context, tx pgx.Tx, rekey []rekeyRow) (int, error) {
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE canon_rekey (id uuid PRIMARY KEY, fingerprint text NOT NULL) ON COMMIT DROP"); err != nil {
		return 0, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"canon_rekey"}, []string{"id", "fingerprint"},
		pgx.CopyFromSlice(len(rekey), func(i int) ([]any, error) { return []any{rekey[i].id, rekey[i].fingerprint}, nil })); err != nil {
		return 0, fmt.Errorf("stage re-keyed findings: %w", err)
	}
	for i, q := range mergeSQL {
		if _, err := tx.Exec(ctx, q); err != nil {
			return 0, fmt.Errorf("merge step %d: %w", i+1, err)
		}
	}
	var n int
	err := tx.QueryRow(ctx, "SELECT count(*) FROM canon_dup").Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, err
}
