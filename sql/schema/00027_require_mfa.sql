-- +goose Up
-- A tenant's "require MFA" (tenants.settings require_mfa, set by owners):
-- when it or a tenant above it requires it, the API refuses its members'
-- sessions that did not use a second factor (aal2).
-- +goose StatementBegin
CREATE FUNCTION secureops_tenant_chain_requires_mfa(p_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text := secureops_definer_begin();
    required boolean;
BEGIN
    WITH RECURSIVE up AS (
        SELECT t.id, t.parent_id, t.settings, 0 AS depth FROM tenants t WHERE t.id = p_id
        UNION ALL
        SELECT t.id, t.parent_id, t.settings, up.depth + 1 FROM tenants t JOIN up ON t.id = up.parent_id
        WHERE up.depth < 64
    )
    SELECT COALESCE(bool_or(up.settings->'require_mfa' = 'true'::jsonb), false) INTO required FROM up;
    PERFORM set_config('secureops.platform_admin', prev, true);
    RETURN required;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_tenant_chain_requires_mfa(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_tenant_chain_requires_mfa(uuid) TO secureops_app;

-- +goose StatementBegin
CREATE FUNCTION secureops_tenant_set_require_mfa(p_tenant uuid, p_required boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text;
    result boolean;
BEGIN
    IF NOT (p_tenant = ANY (secureops_scope()) OR secureops_is_platform_admin()) THEN
        RETURN NULL;
    END IF;
    IF p_required IS NULL THEN
        RAISE EXCEPTION 'require_mfa must be true or false' USING ERRCODE = '22023';
    END IF;
    prev := secureops_definer_begin();
    UPDATE tenants
    SET settings = jsonb_set(settings, '{require_mfa}', to_jsonb(p_required)),
        updated_at = now()
    WHERE id = p_tenant
    RETURNING (settings->'require_mfa') = 'true'::jsonb INTO result;
    PERFORM set_config('secureops.platform_admin', prev, true);
    RETURN result;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_tenant_set_require_mfa(uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_tenant_set_require_mfa(uuid, boolean) TO secureops_app;

-- +goose Down
DROP FUNCTION secureops_tenant_set_require_mfa(uuid, boolean);
DROP FUNCTION secureops_tenant_chain_requires_mfa(uuid);
