-- +goose Up
-- URL targets are now spelled without their scheme's default port and with
-- the port as a plain number (https://x:443/ and https://x:0443/ are
-- https://x/). Rewrite what was stored before in the one-string form, so
-- lookups by value, scan targets and the findings' fixed scope still match.
-- A target whose new spelling exists already in its tenant keeps the old one
-- (merging two targets is not a migration's call).
SELECT set_config('secureops.platform_admin', 'on', true);

-- +goose StatementBegin
CREATE FUNCTION pg_temp.url_norm(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(v,
        '^(https?://[^/?#]*):0+([0-9])', '\1:\2'),
        '^(https://[^/?#]*):443(?=[/?#]|$)', '\1'),
        '^(http://[^/?#]*):80(?=[/?#]|$)', '\1')
$$;
-- +goose StatementEnd

UPDATE targets t SET value = pg_temp.url_norm(t.value)
WHERE t.kind = 'url' AND pg_temp.url_norm(t.value) <> t.value
  AND NOT EXISTS (SELECT 1 FROM targets o WHERE o.tenant_id = t.tenant_id AND o.value = pg_temp.url_norm(t.value));

UPDATE scans SET target = pg_temp.url_norm(target)
WHERE target ~ '^https?://' AND pg_temp.url_norm(target) <> target
  AND EXISTS (SELECT 1 FROM targets t WHERE t.id = scans.target_id AND t.value = pg_temp.url_norm(scans.target));

UPDATE findings f SET scan_target = pg_temp.url_norm(f.scan_target)
WHERE f.scan_target ~ '^https?://' AND pg_temp.url_norm(f.scan_target) <> f.scan_target
  AND EXISTS (SELECT 1 FROM targets t WHERE t.tenant_id = f.tenant_id AND t.value = pg_temp.url_norm(f.scan_target))
  AND NOT EXISTS (SELECT 1 FROM targets t WHERE t.tenant_id = f.tenant_id AND t.value = f.scan_target);

-- +goose Down
-- The old spellings are not kept; the rewritten values parse the same.
SELECT 1;
