-- name: TenantLogoUpsert :one
INSERT INTO tenant_logos (tenant_id, png, width, height, sha256, updated_by)
VALUES (@tenant_id, @png, @width, @height, @sha256, sqlc.narg(updated_by))
ON CONFLICT (tenant_id) DO UPDATE
SET png = EXCLUDED.png, width = EXCLUDED.width, height = EXCLUDED.height, sha256 = EXCLUDED.sha256,
    updated_by = EXCLUDED.updated_by, updated_at = now()
RETURNING tenant_id, width, height, sha256, updated_at;

-- name: TenantLogoGet :one
SELECT * FROM tenant_logos WHERE tenant_id = @tenant_id;

-- name: TenantLogoDelete :execrows
DELETE FROM tenant_logos WHERE tenant_id = @tenant_id;
