-- name: InitialAPIKeyGet :one
SELECT * FROM initial_api_keys WHERE tenant_id = $1;

-- name: InitialAPIKeyCreate :exec
INSERT INTO initial_api_keys (tenant_id, api_key_id, sealed, expires_at) VALUES ($1, $2, $3, $4);

-- name: InitialAPIKeyTake :one
-- Reveal once: the sealed secret is returned and erased in one statement, so
-- two concurrent reveals cannot both get it.
WITH old AS (
    SELECT o.tenant_id, o.sealed FROM initial_api_keys o
    WHERE o.tenant_id = sqlc.arg(tenant_id)::uuid AND o.sealed IS NOT NULL AND o.expires_at > now()
    FOR UPDATE
)
UPDATE initial_api_keys SET sealed = NULL, revealed_at = now()
FROM old WHERE initial_api_keys.tenant_id = old.tenant_id
RETURNING initial_api_keys.api_key_id, old.sealed::bytea AS sealed;

-- name: InitialAPIKeyDelete :exec
DELETE FROM initial_api_keys WHERE tenant_id = $1;

-- name: InitialAPIKeyPurgeExpired :many
-- Unrevealed secrets past their week are erased and their keys revoked:
-- nobody can ever use a key whose secret nobody saw.
WITH purged AS (
    UPDATE initial_api_keys SET sealed = NULL
    WHERE sealed IS NOT NULL AND expires_at <= now()
    RETURNING tenant_id, api_key_id
)
UPDATE api_keys a SET revoked_at = COALESCE(a.revoked_at, now())
FROM purged WHERE a.id = purged.api_key_id
RETURNING a.tenant_id, a.id;
