-- +goose Up
-- The model's triage answers, kept per tenant so a re-scan of the same
-- finding (same fingerprint) with the same prompt version and model does not
-- ask the model again. The stored decision is the model's own; the guards
-- (KEV or EPSS >= 0.5 is never a false positive) are applied each time an
-- answer is used, against the finding's intel of that moment.
CREATE TABLE llm_triage_cache (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    fingerprint    text NOT NULL CHECK (fingerprint <> ''),
    prompt_version text NOT NULL,
    model          text NOT NULL,
    decision       text NOT NULL CHECK (decision IN ('valid', 'false_positive', 'needs_review')),
    confidence     real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    reasoning      text NOT NULL DEFAULT '',
    remediation    text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, fingerprint, prompt_version, model)
);
ALTER TABLE llm_triage_cache ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_triage_cache FORCE ROW LEVEL SECURITY;
CREATE POLICY llm_triage_cache_scoped ON llm_triage_cache
    USING (tenant_id = ANY ((SELECT secureops_scope())::uuid[])) WITH CHECK (tenant_id = ANY ((SELECT secureops_scope())::uuid[]));
CREATE POLICY llm_triage_cache_platform_admin ON llm_triage_cache
    USING ((SELECT secureops_is_platform_admin())) WITH CHECK ((SELECT secureops_is_platform_admin()));
GRANT SELECT, INSERT, UPDATE, DELETE ON llm_triage_cache TO secureops_app;

-- Tenant users cannot update their tenant row; this sets exactly the tenant's
-- consent to send its findings to an outside model (settings.llm_opt_in) and
-- nothing else, for a tenant in the caller's scope (NULL otherwise).
-- +goose StatementBegin
CREATE FUNCTION secureops_tenant_set_llm_opt_in(p_tenant uuid, p_opt_in boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text;
    result boolean;
BEGIN
    IF NOT (p_tenant = ANY (secureops_scope()) OR secureops_is_platform_admin()) THEN
        RETURN NULL;
    END IF;
    IF p_opt_in IS NULL THEN
        RAISE EXCEPTION 'llm_opt_in must be true or false' USING ERRCODE = '22023';
    END IF;
    prev := secureops_definer_begin();
    UPDATE tenants
    SET settings = jsonb_set(settings, '{llm_opt_in}', to_jsonb(p_opt_in)),
        updated_at = now()
    WHERE id = p_tenant
    RETURNING (settings->'llm_opt_in') = 'true'::jsonb INTO result;
    PERFORM set_config('secureops.platform_admin', prev, true);
    RETURN result;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_tenant_set_llm_opt_in(uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_tenant_set_llm_opt_in(uuid, boolean) TO secureops_app;

-- +goose Down
DROP FUNCTION secureops_tenant_set_llm_opt_in(uuid, boolean);
DROP TABLE llm_triage_cache;
