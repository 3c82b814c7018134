-- name: TargetCreate :one
-- Registering the same target twice returns the existing row (idempotent for
-- CI pipelines that register before every upload).
INSERT INTO targets (tenant_id, kind, value, host, name, verification_token, verification_status, verification_method, verified_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (tenant_id, value) DO UPDATE SET name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE targets.name END
RETURNING *, (xmax = 0) AS created;

-- name: TargetGet :one
SELECT * FROM targets WHERE id = $1;

-- name: TargetByValue :one
SELECT * FROM targets WHERE tenant_id = $1 AND value = $2;

-- name: TargetList :many
SELECT * FROM targets
WHERE (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind)::text)
  AND (sqlc.narg(verification_status)::text IS NULL OR verification_status = sqlc.narg(verification_status)::text)
  AND (sqlc.narg(before_created)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(before_created)::timestamptz, sqlc.narg(before_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(lim);

-- name: TargetDelete :execrows
DELETE FROM targets WHERE id = $1;

-- name: TargetVerificationStart :one
-- A verified target stays verified; anything else (re)starts pending.
UPDATE targets
SET verification_status = 'pending', verification_method = '', verification_error = '',
    verification_checks = 0, verification_started_at = now()
WHERE id = $1 AND verification_status NOT IN ('verified', 'not_required')
RETURNING *;

-- name: TargetVerificationChecked :one
-- One check's outcome. Only a pending target moves: a deleted or already
-- verified target is left alone by a late check.
UPDATE targets
SET verification_status = sqlc.arg(status)::text,
    verification_method = sqlc.arg(method)::text,
    verification_error = sqlc.arg(error)::text,
    verification_checks = verification_checks + 1,
    verification_checked_at = now(),
    verified_at = CASE WHEN sqlc.arg(status)::text = 'verified' THEN now() ELSE verified_at END,
    verified_addrs = CASE WHEN sqlc.arg(status)::text = 'verified' THEN coalesce(sqlc.arg(addrs)::text[], '{}') ELSE verified_addrs END
WHERE id = sqlc.arg(id) AND verification_status = 'pending'
RETURNING *;

-- name: TargetPinAddresses :exec
-- A scan proved ownership afresh at addresses the proof did not cover yet.
UPDATE targets
SET verified_addrs = ARRAY(SELECT DISTINCT unnest(verified_addrs || sqlc.arg(addrs)::text[]) ORDER BY 1)
WHERE id = sqlc.arg(id);
