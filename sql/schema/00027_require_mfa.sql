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

-- The second factors a person has (Kratos credential types: totp,
-- lookup_secret), as Kratos last told us through its settings hook. A change
-- is audited in every tenant the person belongs to.
ALTER TABLE users ADD COLUMN mfa_methods text[] NOT NULL DEFAULT '{}';

-- +goose StatementBegin
CREATE FUNCTION secureops_user_mfa_changed(p_user uuid, p_methods text[], p_ip text)
RETURNS TABLE (added text[], removed text[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev_admin text := secureops_definer_begin();
    before text[];
    m text;
BEGIN
    SELECT u.mfa_methods INTO before FROM users u WHERE u.id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM set_config('secureops.platform_admin', prev_admin, true);
        RETURN;
    END IF;
    added := ARRAY(SELECT x FROM unnest(p_methods) x WHERE NOT x = ANY (before) ORDER BY x);
    removed := ARRAY(SELECT x FROM unnest(before) x WHERE NOT x = ANY (p_methods) ORDER BY x);
    UPDATE users SET mfa_methods = ARRAY(SELECT DISTINCT x FROM unnest(p_methods) x ORDER BY x), updated_at = now()
    WHERE id = p_user;
    FOREACH m IN ARRAY added LOOP
        INSERT INTO audit_log (tenant_id, actor_user_id, effective_user_id, action, target_type, target_id, details, ip)
        SELECT ms.tenant_id, p_user, p_user, 'mfa.enrolled', 'user', p_user::text, jsonb_build_object('method', m), coalesce(p_ip, '')
        FROM memberships ms WHERE ms.user_id = p_user;
    END LOOP;
    FOREACH m IN ARRAY removed LOOP
        INSERT INTO audit_log (tenant_id, actor_user_id, effective_user_id, action, target_type, target_id, details, ip)
        SELECT ms.tenant_id, p_user, p_user, 'mfa.removed', 'user', p_user::text, jsonb_build_object('method', m), coalesce(p_ip, '')
        FROM memberships ms WHERE ms.user_id = p_user;
    END LOOP;
    PERFORM set_config('secureops.platform_admin', prev_admin, true);
    RETURN NEXT;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_user_mfa_changed(uuid, text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_user_mfa_changed(uuid, text[], text) TO secureops_app;

-- +goose Down
DROP FUNCTION secureops_user_mfa_changed(uuid, text[], text);
ALTER TABLE users DROP COLUMN mfa_methods;
DROP FUNCTION secureops_tenant_set_require_mfa(uuid, boolean);
DROP FUNCTION secureops_tenant_chain_requires_mfa(uuid);
