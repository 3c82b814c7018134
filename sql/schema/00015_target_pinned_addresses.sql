-- +goose Up
-- The addresses a target's ownership proof covered. A scan goes only to
-- these; a name that now resolves elsewhere needs a fresh proof for the new
-- address before anything scans it.
ALTER TABLE targets ADD COLUMN verified_addrs text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE targets DROP COLUMN verified_addrs;
