-- +goose Up
-- The root of a tenant's tree and its tier: the paying tenant, whose plan's
-- concurrent-scan limit the whole tree shares. A sub-tenant cannot read its
-- ancestors' rows, so this reads them with the definer's rights and returns
-- only the id and the tier.
-- +goose StatementBegin
CREATE FUNCTION secureops_tenant_root(p_id uuid) RETURNS TABLE (id uuid, tier text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS
$$
DECLARE
    prev text := secureops_definer_begin();
BEGIN
    RETURN QUERY
    WITH RECURSIVE up AS (
        SELECT t.id, t.parent_id, t.tier, 0 AS depth FROM tenants t WHERE t.id = p_id
        UNION ALL
        SELECT t.id, t.parent_id, t.tier, up.depth + 1 FROM tenants t JOIN up ON t.id = up.parent_id
        WHERE up.depth < 64
    )
    SELECT up.id, up.tier FROM up ORDER BY up.depth DESC LIMIT 1;
    PERFORM set_config('secureops.platform_admin', prev, true);
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION secureops_tenant_root(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secureops_tenant_root(uuid) TO secureops_app;

-- +goose Down
DROP FUNCTION secureops_tenant_root(uuid);
