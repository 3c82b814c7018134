-- +goose Up
-- Every email the platform sends is first a row here, keyed by a business
-- idempotency key (email/invite/<tenant>/<user>, email/welcome/<tenant>), so a
-- retried step never sends twice. With EMAIL_PROVIDER=outbox (dev) the row is
-- the delivery; with resend a worker delivers it and records the provider id.
CREATE TABLE email_outbox (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    idempotency_key  text NOT NULL UNIQUE,
    to_address       text NOT NULL,
    subject          text NOT NULL,
    body_text        text NOT NULL,
    body_html        text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    provider_id      text NOT NULL DEFAULT ''
);
CREATE INDEX email_outbox_tenant_idx ON email_outbox (tenant_id, created_at DESC);

ALTER TABLE email_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY email_outbox_scoped ON email_outbox
    USING (tenant_id = ANY (secureops_scope())) WITH CHECK (tenant_id = ANY (secureops_scope()));
CREATE POLICY email_outbox_platform_admin ON email_outbox
    USING (secureops_is_platform_admin()) WITH CHECK (secureops_is_platform_admin());
GRANT SELECT, INSERT, UPDATE ON email_outbox TO secureops_app;

-- +goose Down
DROP TABLE email_outbox;
