-- +goose Up
-- Learning from analysts. A rule an analyst asked for from a verdict
-- ("always for this rule on this target") carries the analyst's standing
-- approval (approved_by): its closing decisions are recorded approved and
-- close the finding at once, instead of waiting for an analyst again. Owners
-- and admins may give a rule the same approval through the API.
ALTER TABLE triage_rules
    ADD COLUMN approved_by  text NOT NULL DEFAULT '' CHECK (length(approved_by) <= 200),
    ADD COLUMN from_finding uuid REFERENCES findings (id) ON DELETE SET NULL;

-- Whether a triage answer (the rules' or a model's row in finding_triage)
-- was useful, with a comment: by whom (a user or a key). One verdict per
-- person and answer; a second one replaces the first.
CREATE TABLE triage_feedback (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    triage_id   bigint NOT NULL REFERENCES finding_triage (id) ON DELETE CASCADE,
    finding_id  uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    actor       text NOT NULL CHECK (actor <> '' AND length(actor) <= 200),
    useful      boolean NOT NULL,
    comment     text NOT NULL DEFAULT '' CHECK (length(comment) <= 2000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX triage_feedback_once_idx ON triage_feedback (triage_id, actor);
CREATE INDEX triage_feedback_tenant_idx ON triage_feedback (tenant_id, created_at DESC);
ALTER TABLE triage_feedback ENABLE ROW LEVEL SECURITY;
ALTER TABLE triage_feedback FORCE ROW LEVEL SECURITY;
CREATE POLICY triage_feedback_scoped ON triage_feedback
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY triage_feedback_platform_admin ON triage_feedback
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE ON triage_feedback TO secureops_app;

-- +goose Down
DROP TABLE triage_feedback;
ALTER TABLE triage_rules DROP COLUMN from_finding, DROP COLUMN approved_by;
