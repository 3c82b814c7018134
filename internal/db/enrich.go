package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/findings"
)

// EnrichSelect is one page of the open findings, in id order,
// after After (the intel refresh, in the platform scope). Ingest does the
// same for its batch before the upsert (IngestFindings).
type EnrichSelect struct {
	After uuid.UUID
	Limit int
	// IDs, when set, selects these open findings instead (one whose
	// severity a triage rule changed).
	IDs []uuid.UUID
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

// enrichSelect reads what the rule needs of each finding and what it holds
// now, so only changes are written.
const enrichSelect = `
SELECT f.id, f.tenant_id, f.severity, f.cvss_score, f.host, f.port, f.url, f.component, f.cves, f.first_seen_at,
       f.kev, f.kev_date_added, f.epss, f.epss_percentile, f.priority, f.sla_due_at
FROM findings f
`

// findingIntel is what the intel tables say about a finding's CVEs: in KEV
// (the earliest date added, any known ransomware use), and the highest EPSS
// score and percentile.
type findingIntel struct {
	kev        bool
	kevDate    pgtype.Date
	ransomware bool
	epss, pct  pgtype.Float4
}

type kevInfo struct {
	added      time.Time
	ransomware bool
}

type epssInfo struct{ epss, pct float32 }

// intelIndex holds the intel of a batch's CVEs: two indexed lookups per
// batch, whatever its size.
type intelIndex struct {
	kev  map[string]kevInfo
	epss map[string]epssInfo
}

func loadIntel(ctx context.Context, tx pgx.Tx, cves []string) (intelIndex, error) {
	ix := intelIndex{kev: map[string]kevInfo{}, epss: map[string]epssInfo{}}
	if len(cves) == 0 {
		return ix, nil
	}
	rows, err := tx.Query(ctx, "SELECT cve_id, date_added, known_ransomware FROM intel_kev WHERE cve_id = ANY ($1)", cves)
	if err != nil {
		return ix, fmt.Errorf("read KEV: %w", err)
	}
	for rows.Next() {
		var cve string
		var k kevInfo
		if err := rows.Scan(&cve, &k.added, &k.ransomware); err != nil {
			rows.Close()
			return ix, err
		}
		ix.kev[cve] = k
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ix, err
	}
	rows, err = tx.Query(ctx, "SELECT cve, epss, percentile FROM intel_epss WHERE cve = ANY ($1)", cves)
	if err != nil {
		return ix, fmt.Errorf("read EPSS: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cve string
		var e epssInfo
		if err := rows.Scan(&cve, &e.epss, &e.pct); err != nil {
			return ix, err
		}
		ix.epss[cve] = e
	}
	return ix, rows.Err()
}

func (ix intelIndex) of(cves []string) findingIntel {
	var fi findingIntel
	for _, c := range cves {
		if k, ok := ix.kev[c]; ok {
			if !fi.kev || k.added.Before(fi.kevDate.Time) {
				fi.kevDate = pgtype.Date{Time: k.added, Valid: true}
			}
			fi.kev = true
			fi.ransomware = fi.ransomware || k.ransomware
		}
		if e, ok := ix.epss[c]; ok {
			if !fi.epss.Valid || e.epss > fi.epss.Float32 {
				fi.epss = pgtype.Float4{Float32: e.epss, Valid: true}
			}
			if !fi.pct.Valid || e.pct > fi.pct.Float32 {
				fi.pct = pgtype.Float4{Float32: e.pct, Valid: true}
			}
		}
	}
	return fi
}

// priorityOf runs the rule (findings.Priority) on a finding and its intel.
func priorityOf(fi findingIntel, sev findings.Severity, cvss float64, host string, port int32, url, component string) int16 {
	return int16(findings.Priority(findings.PriorityInput{
		Severity: sev, CVSSScore: cvss, EPSSPercentile: float64(fi.pct.Float32), HasEPSS: fi.pct.Valid,
		KEV: fi.kev, Ransomware: fi.ransomware, Exposure: findings.ExposureOf(host, port, url, component),
	}))
}

// distinctCVEs collects the CVEs of a batch once each.
func distinctCVEs(lists ...[]string) []string {
	seen := map[string]struct{}{}
	var out []string
	for _, l := range lists {
		for _, c := range l {
			if _, ok := seen[c]; !ok {
				seen[c] = struct{}{}
				out = append(out, c)
			}
		}
	}
	return out
}

// EnrichFindings sets a page of open findings' kev, kev_date_added, epss,
// epss_percentile, priority (findings.Priority) and sla_due_at
// (findings.SLADue with the tenant's SLA days): one query reads them with
// what they hold, two more their CVEs' intel, the rule runs in Go, and the
// changed rows are copied to a transaction-local stage and written by one
// UPDATE.
func EnrichFindings(ctx context.Context, tx pgx.Tx, sel EnrichSelect) (EnrichResult, error) {
	var res EnrichResult
	limit := sel.Limit
	if limit <= 0 {
		limit = 5000
	}
	var rows pgx.Rows
	var err error
	if sel.IDs != nil {
		rows, err = tx.Query(ctx, enrichSelect+`WHERE f.id = ANY ($1) AND f.status IN ('new', 'open', 'reopened')
ORDER BY f.id`, sel.IDs)
	} else {
		rows, err = tx.Query(ctx, enrichSelect+`WHERE f.id > $1 AND f.status IN ('new', 'open', 'reopened')
ORDER BY f.id LIMIT $2`, sel.After, limit)
	}
	if err != nil {
		return res, fmt.Errorf("read findings' intel: %w", err)
	}
	type row struct {
		id, tenant           uuid.UUID
		severity             string
		cvss                 float64
		host, url, component string
		port                 int32
		cves                 []string
		firstSeen            time.Time
		curKEV               bool
		curKEVDate           pgtype.Date
		curEPSS, curPct      pgtype.Float4
		curPriority          pgtype.Int2
		curDue               *time.Time
	}
	var all []row
	tenants := map[uuid.UUID]findings.SLADays{}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.tenant, &r.severity, &r.cvss, &r.host, &r.port, &r.url, &r.component, &r.cves, &r.firstSeen,
			&r.curKEV, &r.curKEVDate, &r.curEPSS, &r.curPct, &r.curPriority, &r.curDue); err != nil {
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
	lists := make([][]string, len(all))
	for i := range all {
		lists[i] = all[i].cves
	}
	ix, err := loadIntel(ctx, tx, distinctCVEs(lists...))
	if err != nil {
		return res, err
	}
	var changed [][]any
	for i := range all {
		r := &all[i]
		sev := findings.Severity(r.severity)
		fi := ix.of(r.cves)
		p := priorityOf(fi, sev, r.cvss, r.host, r.port, r.url, r.component)
		var due *time.Time
		if d, ok := findings.SLADue(r.firstSeen, sev, fi.kev, tenants[r.tenant]); ok {
			d = d.Truncate(time.Microsecond)
			due = &d
		}
		if r.curKEV == fi.kev && sameDate(r.curKEVDate, fi.kevDate) && r.curEPSS == fi.epss && r.curPct == fi.pct &&
			r.curPriority.Valid && r.curPriority.Int16 == p && sameTime(r.curDue, due) {
			continue
		}
		changed = append(changed, []any{r.id, fi.kev, fi.kevDate, fi.epss, fi.pct, p, due})
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

// ingestIntel computes each staged finding's intel, priority and SLA days
// before the upsert, so the batch is written once: one lookup of the tenant's
// SLA days and two of the batch's CVEs.
func ingestIntel(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, rows []dbq.FindingStageCopyParams) error {
	days := map[uuid.UUID]findings.SLADays{tenant: nil}
	if err := slaDaysOf(ctx, tx, days); err != nil {
		return err
	}
	lists := make([][]string, len(rows))
	for i := range rows {
		lists[i] = rows[i].Cves
	}
	ix, err := loadIntel(ctx, tx, distinctCVEs(lists...))
	if err != nil {
		return err
	}
	for i := range rows {
		r := &rows[i]
		sev := findings.Severity(r.Severity)
		fi := ix.of(r.Cves)
		r.Kev = pgtype.Bool{Bool: fi.kev, Valid: true}
		r.KevDateAdded, r.Epss, r.EpssPercentile = fi.kevDate, fi.epss, fi.pct
		r.Priority = pgtype.Int2{Int16: priorityOf(fi, sev, r.CvssScore, r.Host, r.Port, r.Url, r.Component), Valid: true}
		if d, ok := findings.SLADaysFor(sev, fi.kev, days[tenant]); ok {
			r.SlaDays = pgtype.Int4{Int32: int32(d), Valid: true}
		}
	}
	return nil
}
