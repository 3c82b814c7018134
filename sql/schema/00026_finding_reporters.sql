-- +goose Up
-- One issue is one finding whichever scanners reported it (findings.Canonical
-- keys the checks scanners share). A finding now records every scanner that
-- reported it, and each scan's occurrence the scanners that saw it there:
--
-- findings.reporters: {"<scanner>": {"rule_id", "title", "severity",
--   "evidence", "last_scan_id", "gone"}}, keyed by the scanner (report format)
--   that reported it; "gone" is true once a complete scan by that scanner no
--   longer reports it. A finding is fixed when every reporter is gone.
--   reported_by stays the first reporter: the finding's own columns (title,
--   description, …) are its report; severity is the highest any current
--   reporter gives.
-- scan_findings.scanners: the scanners of that scan that reported the
--   finding (the per-scan, per-scanner occurrence); for a 'fixed' row, the
--   scanner whose complete run fixed it.
--
-- Findings stored before this migration are re-keyed and merged by
-- db.Migrate right after it (db.MergeCanonical; finding_canon_versions says
-- which version of the canonical map they were merged under).
SELECT set_config('secureops.platform_admin', 'on', true);

ALTER TABLE findings ADD COLUMN reporters jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE scan_findings ADD COLUMN scanners text[] NOT NULL DEFAULT '{}';

UPDATE findings SET reporters = jsonb_build_object(
    COALESCE(NULLIF(reported_by, ''), scanner),
    jsonb_strip_nulls(jsonb_build_object('rule_id', rule_id, 'title', title, 'severity', severity, 'evidence', evidence,
                       'last_scan_id', last_scan_id, 'gone', CASE WHEN status = 'fixed' THEN true END)));

UPDATE scan_findings sf SET scanners = ARRAY[COALESCE(NULLIF(f.reported_by, ''), f.scanner)]
FROM findings f WHERE f.id = sf.finding_id;

-- Severity order for "the highest reported".
-- +goose StatementBegin
CREATE FUNCTION secureops_severity_rank(s text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE s WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 WHEN 'info' THEN 0 ELSE -1 END
$$;
-- +goose StatementEnd

-- The severity a finding has: the highest of sev and the severities of the
-- reporters not gone.
-- +goose StatementBegin
CREATE FUNCTION secureops_reported_severity(reporters jsonb, sev text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT v FROM (
        SELECT sev AS v
        UNION ALL
        SELECT e.value ->> 'severity' FROM jsonb_each(reporters) e
        WHERE NOT COALESCE((e.value ->> 'gone')::boolean, false) AND e.value ->> 'severity' IS NOT NULL
    ) r ORDER BY secureops_severity_rank(v) DESC LIMIT 1
$$;
-- +goose StatementEnd

-- Which version of the canonical map (findings.CanonVersion) stored
-- findings were last re-keyed under; not tenant data.
CREATE TABLE finding_canon_versions (
    version     text PRIMARY KEY,
    merged      integer NOT NULL DEFAULT 0,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON finding_canon_versions FROM PUBLIC;
GRANT SELECT ON finding_canon_versions TO secureops_app;

-- +goose Down
SELECT set_config('secureops.platform_admin', 'on', true);
DROP TABLE finding_canon_versions;
DROP FUNCTION secureops_reported_severity(jsonb, text);
DROP FUNCTION secureops_severity_rank(text);
ALTER TABLE scan_findings DROP COLUMN scanners;
ALTER TABLE findings DROP COLUMN reporters;
