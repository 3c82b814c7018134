package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/secureops/secureops/internal/findings"
)

// EnrichSelect says which findings EnrichFindings works on: either the
// findings of an ingest batch (the rows in this transaction's finding_stage,
// of Tenant), or one page of the open findings with CVEs in id order, after
// After (the intel refresh, whose scope is the platform).
type EnrichSelect struct {
	// FromStage: the ingest batch of TenantID.
	FromStage bool
	TenantID  uuid.UUID
	// After and Limit page through open findings with CVEs (FromStage false).
	After uuid.UUID
	Limit int
}

// EnrichResult is what one EnrichFindings call did.
type EnrichResult struct {
	// Seen: findings read; Updated: findings whose intel, priority or
	// deadline changed.
	Seen    int   `json:"seen"`
	Updated int64 `json:"updated"`
	// Last is the id of the last finding seen (the next page's After);
	// uuid.Nil when the page was empty.
	Last uuid.UUID `json:"last"`
}

// The intel of each finding in one set-based statement: its CVEs looked up
// in KEV (earliest date added, any ransomware use) and EPSS (the highest
// score), with what the finding holds now, so only changes are written.
const enrichSelect = `
SELECT f.id, f.tenant_id, f.severity, f.cvss_score, f.host, f.port, f.url, f.component, f.first_seen_at,
       f.kev, f.kev_date_added, f.epss, f.epss_percentile, f.priority, f.sla_due_at,
       COALESCE(k.kev, false), k.date_added, COALESCE(k.ransomware, false), e.epss, e.percentile
FROM findings f
LEFT JOIN LATERAL (
    SELECT bool_or(true) AS kev, min(ik.date_added) AS date_added, bool_or(ik.known_ransomware) AS ransomware
    FROM intel_kev ik WHERE ik.cve_id = ANY (f.cves)
) k ON cardinality(f.cves) > 0
LEFT JOIN LATERAL (
    SELECT max(ie.epss) AS epss, max(ie.percentile) AS percentile
    FROM intel_epss ie WHERE ie.cve = ANY (f.cves)
) e ON cardinality(f.cves) > 0
`

// EnrichFindings sets the selected findings' kev, kev_date_added, epss,
// epss_percentile, priority (findings.Priority) and sla_due_at
// (findings.SLADue with the tenant's SLA days): one query reads them with
// their intel, the rule runs in Go, the changed rows are copied to a
// transaction-local stage and written by one UPDATE.
func EnrichFindings(ctx context.Context, tx pgx.Tx, sel EnrichSelect) (EnrichResult, error) {
	var res EnrichResult
	var q string
	var args []any
	if sel.FromStage {
		q = enrichSelect + `WHERE f.tenant_id = $1 AND f.fingerprint IN (SELECT fingerprint FROM finding_stage)`
		args = []any{sel.TenantID}
	} else {
		limit := sel.Limit
		if limit <= 0 {
			limit = 5000
		}
		q = enrichSelect + `WHERE f.id > $1 AND f.status IN ('new', 'open', 'reopened') AND cardinality(f.cves) > 0
ORDER BY f.id LIMIT $2`
		args = []any{sel.After, limit}
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return res, fmt.Errorf("read findings' intel: %w", err)
	}
	type row struct {
		id, tenant           uuid.UUID
		severity             string
		cvss                 float64
		host, url, component string
		port                 int32
		firstSeen            time.Time
		curKEV               bool
		curKEVDate           pgtype.Date
		curEPSS, curPct      pgtype.Float4
		curPriority          pgtype.Int2
		curDue               *time.Time
		kev                  bool
		kevDate              pgtype.Date
		ransomware           bool
		epss, pct            pgtype.Float4
	}
	var all []row
	tenants := map[uuid.UUID]findings.SLADays{}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.tenant, &r.severity, &r.cvss, &r.host, &r.port, &r.url, &r.component, &r.firstSeen,
			&r.curKEV, &r.curKEVDate, &r.curEPSS, &r.curPct, &r.curPriority, &r.curDue,
			&r.kev, &r.kevDate, &r.ransomware, &r.epss, &r.pct); err != nil {
			rows.Close()
			return res, err
		}
		all = append(all, r)
		tenants[r.tenant] = nil
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("read findings' intel: %w", err)
	}
	res.Seen = len(all)
	if len(all) == 0 {
		return res, nil
	}
	res.Last = all[len(all)-1].id
	if err := slaDaysOf(ctx, tx, tenants); err != nil {
		return res, err
	}
	var changed [][]any
	for i := range all {
		r := &all[i]
		sev := findings.Severity(r.severity)
		p := int16(findings.Priority(findings.PriorityInput{
			Severity: sev, CVSSScore: r.cvss, EPSSPercentile: float64(r.pct.Float32), HasEPSS: r.pct.Valid,
			KEV: r.kev, Ransomware: r.ransomware, Exposure: findings.ExposureOf(r.host, r.port, r.url, r.component),
		}))
		var due *time.Time
		if d, ok := findings.SLADue(r.firstSeen, sev, r.kev, tenants[r.tenant]); ok {
			d = d.Truncate(time.Microsecond)
			due = &d
		}
		if !r.kev {
			r.kevDate = pgtype.Date{}
		}
		if r.curKEV == r.kev && sameDate(r.curKEVDate, r.kevDate) && r.curEPSS == r.epss && r.curPct == r.pct &&
			r.curPriority.Valid && r.curPriority.Int16 == p && sameTime(r.curDue, due) {
			continue
		}
		changed = append(changed, []any{r.id, r.kev, r.kevDate, r.epss, r.pct, p, due})
	}
	if len(changed) == 0 {
		return res, nil
	}
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS finding_enrich_stage (LIKE public.finding_enrich_stage) ON COMMIT DROP"); err != nil {
		return res, fmt.Errorf("create enrichment stage: %w", err)
	}
	if _, err := tx.Exec(ctx, "TRUNCATE pg_temp.finding_enrich_stage"); err != nil {
		return res, fmt.Errorf("empty enrichment stage: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", "finding_enrich_stage"},
		[]string{"id", "kev", "kev_date_added", "epss", "epss_percentile", "priority", "sla_due_at"},
		pgx.CopyFromRows(changed)); err != nil {
		return res, fmt.Errorf("copy enrichment: %w", err)
	}
	tag, err := tx.Exec(ctx, `UPDATE findings f
SET kev = s.kev, kev_date_added = s.kev_date_added, epss = s.epss, epss_percentile = s.epss_percentile,
    priority = s.priority, sla_due_at = s.sla_due_at
FROM pg_temp.finding_enrich_stage s WHERE f.id = s.id`)
	if err != nil {
		return res, fmt.Errorf("write enrichment: %w", err)
	}
	res.Updated = tag.RowsAffected()
	return res, nil
}

func sameDate(a, b pgtype.Date) bool {
	return a.Valid == b.Valid && (!a.Valid || a.Time.Equal(b.Time))
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// slaDaysOf fills each tenant's SLA days (settings.sla_days over the defaults).
func slaDaysOf(ctx context.Context, tx pgx.Tx, tenants map[uuid.UUID]findings.SLADays) error {
	ids := make([]uuid.UUID, 0, len(tenants))
	for id := range tenants {
		ids = append(ids, id)
		tenants[id] = findings.ParseSLADays(nil)
	}
	rows, err := tx.Query(ctx, `SELECT id, COALESCE(settings->'sla_days', '{}')::jsonb FROM tenants WHERE id = ANY ($1)`, ids)
	if err != nil {
		return fmt.Errorf("read SLA days: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return err
		}
		var m map[string]float64
		_ = json.Unmarshal(raw, &m) // a malformed override falls back to the defaults
		tenants[id] = findings.ParseSLADays(m)
	}
	return rows.Err()
}
