-- +goose Up
-- Billing cycles (workflows/billingflow, one billing/<tenant-id> per tenant).

-- Every Stripe webhook event received, once: the id is the dedupe key (a
-- retried delivery inserts nothing and signals nothing), the payload is kept
-- so the workflow can fall back to the event's own object when a re-read
-- from Stripe is not about it (stripe-mock answers fixtures). tenant_id is
-- null for events about customers no tenant has.
CREATE TABLE stripe_events (
    id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    tenant_id   uuid REFERENCES tenants (id) ON DELETE CASCADE,
    type        text NOT NULL,
    object_id   text NOT NULL,
    created     timestamptz NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_tenant_idx ON stripe_events (tenant_id, created);
ALTER TABLE stripe_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE stripe_events FORCE ROW LEVEL SECURITY;
CREATE POLICY stripe_events_scoped ON stripe_events
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY stripe_events_platform_admin ON stripe_events
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT ON stripe_events TO secureops_app;

-- The billing workflow's state, written by it on every change: what the API
-- answers and what refuses a suspended tenant's scans without a Temporal
-- round trip. The workflow is the truth; this is its projection.
CREATE TABLE tenant_billing (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    status     text NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'suspended', 'cancelled')),
    plan       text NOT NULL,
    state      jsonb NOT NULL,
    -- The workflow's own clock at the write: a late (retried) write of an
    -- older state never overwrites a newer one.
    version    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenant_billing ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_billing FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_billing_scoped_read ON tenant_billing FOR SELECT
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY tenant_billing_platform_admin ON tenant_billing
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE ON tenant_billing TO secureops_app;

-- One Stripe meter event per completed scan, recorded after Stripe accepted
-- it (identifier = the scan id): a retry or a reset of the billing workflow
-- finds the row and sends nothing again.
CREATE TABLE billing_meter_events (
    scan_id    uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    identifier text NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_meter_events_tenant_idx ON billing_meter_events (tenant_id, sent_at);
ALTER TABLE billing_meter_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_meter_events FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_meter_events_scoped ON billing_meter_events
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY billing_meter_events_platform_admin ON billing_meter_events
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT ON billing_meter_events TO secureops_app;

-- The billing status that refuses new scans for a tenant: its own, or an
-- ancestor's (a reseller's unpaid bill stops its customers' scans too).
-- NULL when scans may run. Definer: a sub-tenant's caller cannot read its
-- ancestors' rows.
-- +goose StatementBegin
CREATE FUNCTION secureops_tenant_billing_hold(p_id uuid) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text := secureops_definer_begin();
    hold text;
BEGIN
    WITH RECURSIVE up AS (
        SELECT t.id, t.parent_id, 0 AS depth FROM tenants t WHERE t.id = p_id
        UNION ALL
        SELECT t.id, t.parent_id, up.depth + 1 FROM tenants t JOIN up ON t.id = up.parent_id
        WHERE up.depth < 64
    )
    SELECT b.status INTO hold FROM up JOIN tenant_billing b ON b.tenant_id = up.id
    WHERE b.status IN ('suspended', 'cancelled')
    ORDER BY up.depth LIMIT 1;
    PERFORM set_config('secureops.platform_admin', prev, true);
    RETURN hold;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_tenant_billing_hold(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_tenant_billing_hold(uuid) TO secureops_app;

-- +goose Down
DROP FUNCTION secureops_tenant_billing_hold(uuid);
DROP TABLE billing_meter_events;
DROP TABLE tenant_billing;
DROP TABLE stripe_events;
