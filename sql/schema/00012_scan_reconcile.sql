-- +goose Up
-- The reconciler looks for scans that are not finished, across tenants, oldest
-- first: few rows at any time, so a small partial index keeps that cheap.
CREATE INDEX scans_unfinished_idx ON scans (created_at, id) WHERE status IN ('queued', 'running');

-- +goose Down
DROP INDEX scans_unfinished_idx;
