-- +goose Up
-- A tenant's HTTP endpoint for events. The secret signs every request; it is
-- stored as is because signing needs it (a hash would not do), and the API
-- shows it only in the response that created the webhook.
CREATE TABLE webhooks (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    secret          text NOT NULL CHECK (length(secret) >= 32),
    events          text[] NOT NULL
                    CHECK (cardinality(events) > 0 AND events <@ ARRAY['scan.completed', 'finding.critical']),
    description     text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    -- A receiver answering 410 Gone asked us to stop: the webhook is switched
    -- off, with the reason, rather than deleted, so its history stays visible.
    active          boolean NOT NULL DEFAULT true,
    disabled_reason text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_tenant_idx ON webhooks (tenant_id, created_at DESC, id DESC);

-- One delivery per event per webhook, whatever retries, resets or repeated
-- runs of the notification workflow do: the event id is the idempotency key
-- (scan.completed/<scan-id>), and receivers see it in X-SecureOps-Event-Id.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    event_type       text NOT NULL CHECK (event_type IN ('scan.completed', 'finding.critical', 'ping')),
    -- The whole event as sent (the envelope with its data).
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    -- NULL: no HTTP answer (yet), e.g. a refused connection or a timeout.
    last_status_code integer,
    last_error       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (tenant_id, event_id);

-- Every HTTP attempt of a delivery, for the tenant debugging their receiver.
CREATE TABLE webhook_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    status_code integer,
    error       text NOT NULL DEFAULT '',
    duration_ms integer NOT NULL DEFAULT 0,
    at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (delivery_id, attempt)
);

ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhooks FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY webhooks_scoped ON webhooks
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY webhooks_platform_admin ON webhooks
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
CREATE POLICY webhook_deliveries_scoped ON webhook_deliveries
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY webhook_deliveries_platform_admin ON webhook_deliveries
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
CREATE POLICY webhook_attempts_scoped ON webhook_attempts
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY webhook_attempts_platform_admin ON webhook_attempts
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks TO secureops_app;
GRANT SELECT, INSERT, UPDATE ON webhook_deliveries TO secureops_app;
-- Attempts are history: the application appends, never rewrites.
GRANT SELECT, INSERT ON webhook_attempts TO secureops_app;

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
