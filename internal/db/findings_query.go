package db

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db/dbq"
)

// FindingSorts are the orders GET /findings offers; a leading "-" is
// descending. Each pairs with id for a stable keyset.
var FindingSorts = map[string]string{
	"last_seen_at":  "f.last_seen_at",
	"first_seen_at": "f.first_seen_at",
	"severity":      "(CASE f.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END)",
	"cvss_score":    "f.cvss_score",
	// Unset (not yet enriched) sorts below every value.
	"priority": "COALESCE(f.priority, -1)",
	"epss":     "COALESCE(f.epss, -1)",
}

// sortCast is how a cursor's value is compared with the sort expression.
var sortCast = map[string]string{
	"last_seen_at": "timestamptz", "first_seen_at": "timestamptz", "severity": "integer", "cvss_score": "double precision",
	"priority": "integer", "epss": "real",
}

// FindingFilter selects a tenant's findings. Empty fields do not filter.
type FindingFilter struct {
	// TenantIDs is the caller's scope, named in the statement although row
	// security enforces it too: a policy's "tenant_id = ANY(scope) OR …" is
	// no index condition, so without it a page of one tenant's findings
	// reads and sorts every tenant's. Empty: a platform-wide listing.
	TenantIDs  []uuid.UUID
	Severities []string
	Statuses   []string
	ScanTarget string // the scan target the finding belongs to
	Host       string // the finding's own host
	Scanner    string // the tool (finding scanner) or the report format that reported it
	CVE        string
	Text       string // title, description, component (case-insensitive substring)
	// KEV: only findings in (true) or not in (false) CISA's KEV catalogue.
	KEV *bool
	// EPSSMin: only findings whose EPSS score is at least this.
	EPSSMin *float64
	// SLA: "overdue" (open, past its deadline) or "due_soon" (open, due
	// within SLADueSoon).
	SLA    string
	Sort   string // e.g. "-last_seen_at" (default)
	Cursor string
	Limit  int
}

// SLA filter values and the window of "due_soon".
const (
	SLAOverdue = "overdue"
	SLADueSoon = "due_soon"
	DueSoon    = 3 * 24 * time.Hour // the SQL says interval '3 days'
)

// findingColumns are the findings columns in dbq.Finding's order.
const findingColumns = `f.id, f.tenant_id, f.fingerprint, f.title, f.severity, f.status, f.cves, f.cwes, f.cvss_score,
f.cvss_vector, f.component, f.component_version, f.host, f.port, f.protocol, f.url, f.target, f.scanner, f.rule_id,
f.description, f.remediation, f.refs, f.evidence, f.first_seen_at, f.last_seen_at, f.last_scan_id, f.scan_target,
f.reported_by, f.first_scan_id, f.fixed_at, f.status_changed_at, f.kev, f.kev_date_added, f.epss, f.epss_percentile,
f.priority, f.sla_due_at, f.reporters`

// ErrBadCursor is a cursor this API did not issue (or for another sort).
var ErrBadCursor = errors.New("bad cursor")

type findingCursor struct {
	Sort  string    `json:"s"`
	Value string    `json:"v"`
	ID    uuid.UUID `json:"i"`
}

// ListFindings runs a filtered, keyset-paginated listing and returns the
// page and the cursor of the next one ("" at the end). The statement is
// built from fixed fragments; every value is a bind parameter.
func ListFindings(ctx context.Context, tx pgx.Tx, f FindingFilter) ([]dbq.Finding, string, error) {
	sort := f.Sort
	if sort == "" {
		sort = "-last_seen_at"
	}
	desc := strings.HasPrefix(sort, "-")
	key := strings.TrimPrefix(sort, "-")
	expr, ok := FindingSorts[key]
	if !ok {
		return nil, "", fmt.Errorf("unknown sort %q", sort)
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	tenantIs := "" // the tenant condition, for a column of another table
	switch len(f.TenantIDs) {
	case 0:
	case 1:
		// Equality, not = ANY: only then does the (tenant_id, sort) index
		// hand the rows over in order.
		tenantIs = " = " + arg(f.TenantIDs[0]) + "::uuid"
	default:
		tenantIs = " = ANY(" + arg(f.TenantIDs) + "::uuid[])"
	}
	if tenantIs != "" {
		where = append(where, "f.tenant_id"+tenantIs)
	}
	if len(f.Severities) > 0 {
		where = append(where, "f.severity = ANY("+arg(f.Severities)+"::text[])")
	}
	if len(f.Statuses) > 0 {
		where = append(where, "f.status = ANY("+arg(f.Statuses)+"::text[])")
	}
	if f.ScanTarget != "" {
		where = append(where, "f.scan_target = "+arg(f.ScanTarget))
	}
	if f.Host != "" {
		where = append(where, "f.host = "+arg(strings.ToLower(f.Host)))
	}
	if f.Scanner != "" {
		p := arg(f.Scanner)
		// Any scanner that reported the finding (its reporters), or the tool
		// a generic report names.
		where = append(where, "(f.scanner = "+p+" OR f.reporters ? "+p+")")
	}
	if f.CVE != "" {
		p := arg(strings.ToUpper(f.CVE))
		if tenantIs != "" {
			// Through finding_cve_links: under row security @> on findings.cves
			// is no index condition (it is not leakproof), texteq there is.
			where = append(where, "f.id IN (SELECT c.finding_id FROM finding_cve_links c WHERE c.tenant_id"+tenantIs+" AND c.cve = "+p+")")
		} else {
			where = append(where, "f.cves @> ARRAY["+p+"::text]")
		}
	}
	if f.Text != "" {
		p := arg("%" + escapeLike(f.Text) + "%")
		where = append(where, "(f.title ILIKE "+p+" OR f.description ILIKE "+p+" OR f.component ILIKE "+p+")")
	}
	if f.KEV != nil {
		if *f.KEV {
			where = append(where, "f.kev")
		} else {
			where = append(where, "NOT f.kev")
		}
	}
	if f.EPSSMin != nil {
		where = append(where, "f.epss >= "+arg(*f.EPSSMin)+"::real")
	}
	switch f.SLA {
	case "":
	case SLAOverdue:
		where = append(where, "f.status IN ('new', 'open', 'reopened') AND f.sla_due_at < now()")
	case SLADueSoon:
		where = append(where, "f.status IN ('new', 'open', 'reopened') AND f.sla_due_at >= now() AND f.sla_due_at < now() + interval '3 days'")
	default:
		return nil, "", fmt.Errorf("unknown sla filter %q", f.SLA)
	}
	if f.Cursor != "" {
		c, err := decodeFindingCursor(f.Cursor)
		if err != nil || c.Sort != sort {
			return nil, "", ErrBadCursor
		}
		op := ">"
		if desc {
			op = "<"
		}
		where = append(where, fmt.Sprintf("(%s, f.id) %s (%s::%s, %s::uuid)", expr, op, arg(c.Value), sortCast[key], arg(c.ID)))
	}
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	textExpr := expr + "::text"
	if sortCast[key] == "timestamptz" {
		// Zone- and DateStyle-independent, microsecond exact.
		textExpr = "to_char(" + expr + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	}
	q := "SELECT " + findingColumns + ", " + textExpr + " AS sort_value FROM findings f"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += fmt.Sprintf(" ORDER BY %s %s, f.id %s LIMIT %s", expr, dir, dir, arg(limit+1))

	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	type row struct {
		dbq.Finding
		SortValue string
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		fv := &x.Finding
		err := r.Scan(&fv.ID, &fv.TenantID, &fv.Fingerprint, &fv.Title, &fv.Severity, &fv.Status, &fv.Cves,
			&fv.Cwes, &fv.CvssScore, &fv.CvssVector, &fv.Component, &fv.ComponentVersion, &fv.Host, &fv.Port,
			&fv.Protocol, &fv.Url, &fv.Target, &fv.Scanner, &fv.RuleID, &fv.Description, &fv.Remediation,
			&fv.Refs, &fv.Evidence, &fv.FirstSeenAt, &fv.LastSeenAt, &fv.LastScanID, &fv.ScanTarget,
			&fv.ReportedBy, &fv.FirstScanID, &fv.FixedAt, &fv.StatusChangedAt, &fv.Kev, &fv.KevDateAdded, &fv.Epss,
			&fv.EpssPercentile, &fv.Priority, &fv.SlaDueAt, &fv.Reporters, &x.SortValue)
		return x, err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = encodeFindingCursor(findingCursor{Sort: sort, Value: last.SortValue, ID: last.ID})
	}
	res := make([]dbq.Finding, len(out))
	for i := range out {
		res[i] = out[i].Finding
	}
	return res, next, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func encodeFindingCursor(c findingCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeFindingCursor(s string) (findingCursor, error) {
	var c findingCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if _, ok := sortCast[strings.TrimPrefix(c.Sort, "-")]; !ok || c.Value == "" {
		return c, ErrBadCursor
	}
	// Reject values the cast would turn into a 500.
	switch sortCast[strings.TrimPrefix(c.Sort, "-")] {
	case "timestamptz":
		if _, err := time.Parse(time.RFC3339Nano, c.Value); err != nil {
			return c, ErrBadCursor
		}
	default:
		if _, err := strconv.ParseFloat(c.Value, 64); err != nil {
			return c, ErrBadCursor
		}
	}
	return c, nil
}
