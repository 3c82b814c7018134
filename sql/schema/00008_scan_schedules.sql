-- +goose Up
-- A recurring scan of one target. The row is the tenant's intent; the
-- Temporal Schedule scan-schedule/<id> is what runs it (and what operators
-- see, pause and trigger in the Web UI).
CREATE TABLE scan_schedules (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    target_id        uuid NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    scanners         text[] NOT NULL CHECK (cardinality(scanners) > 0),
    cron             text NOT NULL DEFAULT '',
    interval_seconds integer NOT NULL DEFAULT 0 CHECK (interval_seconds >= 0),
    timezone         text NOT NULL DEFAULT 'UTC',
    description      text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    -- The tenant's own pause; a suspended tenant pauses every schedule on
    -- top of this without touching it, so resuming restores exactly it.
    paused           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((cron = '') <> (interval_seconds = 0)),
    -- Creating the same schedule twice is the same schedule.
    UNIQUE (tenant_id, target_id, scanners, cron, interval_seconds, timezone)
);
CREATE INDEX scan_schedules_tenant_idx ON scan_schedules (tenant_id, created_at DESC, id DESC);
ALTER TABLE scan_schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY scan_schedules_scoped ON scan_schedules
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY scan_schedules_platform_admin ON scan_schedules
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE, DELETE ON scan_schedules TO secureops_app;

ALTER TABLE scans ADD COLUMN schedule_id uuid REFERENCES scan_schedules (id) ON DELETE SET NULL;

-- +goose Down
ALTER TABLE scans DROP COLUMN schedule_id;
DROP TABLE scan_schedules;
