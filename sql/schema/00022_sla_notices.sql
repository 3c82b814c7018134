-- +goose Up
-- SLA notices: the tenant's SLA workflow (sla/<tenant-id>) records, in the
-- transaction that decides to notify, one row per finding and stage —
-- due_soon (deadline within 3 days) and overdue — so a retried activity or
-- a reset workflow never notifies twice. batch_id groups the notices one
-- transaction decided for the tenant: the email (email/sla/<batch-id>/<user-id>)
-- and the finding.sla_breached event (finding.sla_breached/<batch-id>).
CREATE TABLE sla_notices (
    finding_id  uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    stage       text NOT NULL CHECK (stage IN ('due_soon', 'overdue')),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    batch_id    uuid NOT NULL,
    due_at      timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    emailed_at  timestamptz,
    PRIMARY KEY (finding_id, stage)
);
CREATE INDEX sla_notices_unemailed_idx ON sla_notices (tenant_id, batch_id) WHERE emailed_at IS NULL;
ALTER TABLE sla_notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE sla_notices FORCE ROW LEVEL SECURITY;
CREATE POLICY sla_notices_scoped ON sla_notices
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY sla_notices_platform_admin ON sla_notices
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE ON sla_notices TO secureops_app;

-- The finding.sla_breached webhook event: open critical findings past their
-- deadline (once per finding).
ALTER TABLE webhooks DROP CONSTRAINT webhooks_events_check;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_events_check
    CHECK (cardinality(events) > 0 AND events <@ ARRAY['scan.completed', 'finding.critical', 'finding.kev', 'finding.sla_breached']);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_type_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_type_check
    CHECK (event_type IN ('scan.completed', 'finding.critical', 'finding.kev', 'finding.sla_breached', 'ping'));

-- +goose Down
DELETE FROM webhook_deliveries WHERE event_type = 'finding.sla_breached';
UPDATE webhooks SET events = array_remove(events, 'finding.sla_breached') WHERE 'finding.sla_breached' = ANY (events);
DELETE FROM webhooks WHERE cardinality(events) = 0;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_type_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_type_check
    CHECK (event_type IN ('scan.completed', 'finding.critical', 'finding.kev', 'ping'));
ALTER TABLE webhooks DROP CONSTRAINT webhooks_events_check;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_events_check
    CHECK (cardinality(events) > 0 AND events <@ ARRAY['scan.completed', 'finding.critical', 'finding.kev']);
DROP TABLE sla_notices;
