-- +goose Up
-- Reads at scale (issue 16): every findings read a tenant makes costs what
-- that tenant's own rows cost, whatever the table holds.
SELECT set_config('secureops.platform_admin', 'on', true);

-- One index per sort the findings list offers (db.FindingSorts), each led by
-- the tenant and ending with id like the keyset, so a page is read in order
-- from the tenant's entries instead of sorting all of them. Each expression
-- is exactly the list's sort expression. (last_seen_at and priority have
-- theirs: findings_tenant_last_seen_idx, findings_tenant_priority_idx.)
CREATE INDEX findings_tenant_first_seen_idx ON findings (tenant_id, first_seen_at, id);
CREATE INDEX findings_tenant_cvss_idx ON findings (tenant_id, cvss_score, id);
CREATE INDEX findings_tenant_severity_rank_idx ON findings (tenant_id,
    (CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END), id);
CREATE INDEX findings_tenant_epss_idx ON findings (tenant_id, (COALESCE(epss, -1)), id);

-- The target and host filters in the list's default order: a page of one
-- target's (or host's) findings is read in order instead of finding it
-- among all of the tenant's. (findings_scan_target_idx holds open findings
-- only, for the fixed sweep.)
CREATE INDEX findings_tenant_target_seen_idx ON findings (tenant_id, scan_target, last_seen_at DESC, id DESC);
CREATE INDEX findings_tenant_host_seen_idx ON findings (tenant_id, host, last_seen_at DESC, id DESC);

-- The CVE filter. findings_cves_idx cannot serve it through row security:
-- arraycontains (@>) is not leakproof, so the planner may not evaluate it
-- before the policies, i.e. not as an index condition, and reads every
-- finding of the tenant (EXPLAIN as secureops_app shows it; as a superuser
-- the index is used). Marking it leakproof takes a superuser. So each
-- finding's CVEs are also rows here, compared with texteq (leakproof)
-- under the tenant: the list asks for the ids of (tenant, cve). Kept by
-- statement triggers on findings like the counters below.
CREATE TABLE finding_cve_links (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    cve        text NOT NULL,
    finding_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, cve, finding_id)
);
ALTER TABLE finding_cve_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE finding_cve_links FORCE ROW LEVEL SECURITY;
CREATE POLICY finding_cve_links_scoped ON finding_cve_links
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY finding_cve_links_platform_admin ON finding_cve_links
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE, DELETE ON finding_cve_links TO secureops_app;

-- The triggers' functions run without JIT: a statement of an ingest that
-- plans with enable_nestloop off carries the planner's disable cost, which
-- is far above jit_above_cost, and compiling each trigger statement took
-- 150-380 ms of a 10k-finding ingest (auto_explain), more than its work.
-- +goose StatementBegin
CREATE FUNCTION secureops_finding_cves_ins() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$
BEGIN
    INSERT INTO finding_cve_links (tenant_id, cve, finding_id)
    SELECT n.tenant_id, c, n.id FROM new_rows n, unnest(n.cves) c
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Only rows whose CVEs changed write anything.
-- +goose StatementBegin
CREATE FUNCTION secureops_finding_cves_upd() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$
BEGIN
    -- The pairs deleted (no longer in the row) and inserted (new in it)
    -- are disjoint, so one statement may do both.
    WITH ch AS MATERIALIZED (
        SELECT n.tenant_id, n.id, o.cves AS old_cves, n.cves AS new_cves
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.cves IS DISTINCT FROM n.cves
    ), gone AS (
        DELETE FROM finding_cve_links fc USING ch, unnest(ch.old_cves) c
        WHERE fc.tenant_id = ch.tenant_id AND fc.cve = c AND fc.finding_id = ch.id AND NOT (c = ANY (ch.new_cves))
    )
    INSERT INTO finding_cve_links (tenant_id, cve, finding_id)
    SELECT ch.tenant_id, c, ch.id FROM ch, unnest(ch.new_cves) c
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_finding_cves_del() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$
BEGIN
    DELETE FROM finding_cve_links fc USING old_rows o, unnest(o.cves) c
    WHERE fc.tenant_id = o.tenant_id AND fc.cve = c AND fc.finding_id = o.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_finding_cves_truncate() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$
BEGIN
    DELETE FROM finding_cve_links;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER findings_cves_ins AFTER INSERT ON findings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION secureops_finding_cves_ins();
CREATE TRIGGER findings_cves_upd AFTER UPDATE ON findings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION secureops_finding_cves_upd();
CREATE TRIGGER findings_cves_del AFTER DELETE ON findings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION secureops_finding_cves_del();
CREATE TRIGGER findings_cves_truncate AFTER TRUNCATE ON findings
    FOR EACH STATEMENT EXECUTE FUNCTION secureops_finding_cves_truncate();

INSERT INTO finding_cve_links (tenant_id, cve, finding_id)
SELECT tenant_id, c, id FROM findings, unnest(cves) c
ON CONFLICT DO NOTHING;

-- The dashboard's open findings: how many are open per scan target,
-- severity and first-seen time. Every finding an ingest creates has that
-- ingest's time as first_seen_at, so a tenant has about one row per scan
-- and severity here instead of one per finding, and the dashboard's counts,
-- SLA (first seen before a deadline) and oldest open finding are exact
-- sums and minimums over these rows. Kept by statement triggers on
-- findings, so every writer (ingest, the fixed sweep, triage, merges,
-- deletes) keeps it without knowing about it.
CREATE TABLE finding_open_counts (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    scan_target   text NOT NULL,
    severity      text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    n             bigint NOT NULL,
    PRIMARY KEY (tenant_id, scan_target, severity, first_seen_at)
);
ALTER TABLE finding_open_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE finding_open_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY finding_open_counts_scoped ON finding_open_counts
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY finding_open_counts_platform_admin ON finding_open_counts
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE, DELETE ON finding_open_counts TO secureops_app;


-- +goose StatementBegin
CREATE FUNCTION secureops_open_counts_ins() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$
BEGIN
    INSERT INTO finding_open_counts AS c (tenant_id, scan_target, severity, first_seen_at, n)
    SELECT tenant_id, scan_target, severity, first_seen_at, count(*)
    FROM new_rows WHERE status IN ('new', 'open', 'reopened')
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (tenant_id, scan_target, severity, first_seen_at) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- An update adds the open rows of new_rows and subtracts those of
-- old_rows; unchanged rows cancel out and write nothing (a re-scan that
-- only moves last_seen_at touches no counter). Keys are written in one
-- order, so concurrent writers queue instead of deadlocking on each
-- other's counters. Buckets that reach zero are removed.
-- +goose StatementBegin
CREATE FUNCTION secureops_open_counts_upd() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$
DECLARE
    emptied boolean;
BEGIN
    WITH d AS (
        SELECT tenant_id, scan_target, severity, first_seen_at, sum(d)::bigint AS d FROM (
            SELECT tenant_id, scan_target, severity, first_seen_at, 1 AS d
            FROM new_rows WHERE status IN ('new', 'open', 'reopened')
            UNION ALL
            SELECT tenant_id, scan_target, severity, first_seen_at, -1
            FROM old_rows WHERE status IN ('new', 'open', 'reopened')
        ) x GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0
    ), up AS (
        INSERT INTO finding_open_counts AS c (tenant_id, scan_target, severity, first_seen_at, n)
        SELECT tenant_id, scan_target, severity, first_seen_at, d FROM d ORDER BY 1, 2, 3, 4
        ON CONFLICT (tenant_id, scan_target, severity, first_seen_at) DO UPDATE SET n = c.n + EXCLUDED.n
        RETURNING c.n
    )
    SELECT bool_or(n = 0) INTO emptied FROM up;
    IF emptied THEN
        DELETE FROM finding_open_counts c
        WHERE c.n = 0 AND c.tenant_id IN (SELECT DISTINCT tenant_id FROM old_rows);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_open_counts_del() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$
BEGIN
    WITH d AS (
        SELECT tenant_id, scan_target, severity, first_seen_at, count(*) AS d
        FROM old_rows WHERE status IN ('new', 'open', 'reopened')
        GROUP BY 1, 2, 3, 4
    )
    UPDATE finding_open_counts c SET n = c.n - d.d
    FROM d
    WHERE c.tenant_id = d.tenant_id AND c.scan_target = d.scan_target AND c.severity = d.severity
      AND c.first_seen_at = d.first_seen_at;
    DELETE FROM finding_open_counts c
    WHERE c.n = 0 AND c.tenant_id IN (SELECT DISTINCT tenant_id FROM old_rows);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION secureops_open_counts_truncate() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$
BEGIN
    DELETE FROM finding_open_counts;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER findings_open_counts_ins AFTER INSERT ON findings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION secureops_open_counts_ins();
CREATE TRIGGER findings_open_counts_upd AFTER UPDATE ON findings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION secureops_open_counts_upd();
CREATE TRIGGER findings_open_counts_del AFTER DELETE ON findings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION secureops_open_counts_del();
CREATE TRIGGER findings_open_counts_truncate AFTER TRUNCATE ON findings
    FOR EACH STATEMENT EXECUTE FUNCTION secureops_open_counts_truncate();

INSERT INTO finding_open_counts (tenant_id, scan_target, severity, first_seen_at, n)
SELECT tenant_id, scan_target, severity, first_seen_at, count(*)
FROM findings WHERE status IN ('new', 'open', 'reopened')
GROUP BY 1, 2, 3, 4;

-- +goose Down
SELECT set_config('secureops.platform_admin', 'on', true);
DROP TRIGGER findings_open_counts_truncate ON findings;
DROP TRIGGER findings_open_counts_del ON findings;
DROP TRIGGER findings_open_counts_upd ON findings;
DROP TRIGGER findings_open_counts_ins ON findings;
DROP FUNCTION secureops_open_counts_truncate();
DROP FUNCTION secureops_open_counts_del();
DROP FUNCTION secureops_open_counts_upd();
DROP FUNCTION secureops_open_counts_ins();
DROP TABLE finding_open_counts;
DROP TRIGGER findings_cves_truncate ON findings;
DROP TRIGGER findings_cves_del ON findings;
DROP TRIGGER findings_cves_upd ON findings;
DROP TRIGGER findings_cves_ins ON findings;
DROP FUNCTION secureops_finding_cves_truncate();
DROP FUNCTION secureops_finding_cves_del();
DROP FUNCTION secureops_finding_cves_upd();
DROP FUNCTION secureops_finding_cves_ins();
DROP TABLE finding_cve_links;
DROP INDEX findings_tenant_host_seen_idx;
DROP INDEX findings_tenant_target_seen_idx;
DROP INDEX findings_tenant_epss_idx;
DROP INDEX findings_tenant_severity_rank_idx;
DROP INDEX findings_tenant_cvss_idx;
DROP INDEX findings_tenant_first_seen_idx;
