#!/bin/sh
# One-shot: creates (or upgrades) the Temporal persistence and visibility
# schemas in PostgreSQL, then exits. Run by the `temporal-schema` compose
# service in the temporalio/admin-tools image, before the server starts; every
# step is idempotent (create skips an existing database, setup-schema only
# adds the version tables, update-schema applies only missing versions), so it
# runs on every `docker compose up` and is how a server upgrade migrates.
#
# The schemas are the ones embedded in temporal-sql-tool (--schema-name), so
# they always match the admin-tools version, which must match the server's.
#
# Environment (temporal-sql-tool reads the SQL_* variables itself):
#   SQL_PLUGIN=postgres12 SQL_HOST SQL_PORT SQL_USER SQL_PASSWORD
#   TEMPORAL_DB (default temporal), TEMPORAL_VISIBILITY_DB (default temporal_visibility)
# POSIX sh: the admin-tools image is Alpine (busybox), without bash.
set -eu
# busybox sh (the image) has pipefail; dash (to run it elsewhere) may not.
# shellcheck disable=SC3040
if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi

: "${SQL_PLUGIN:=postgres12}"
: "${SQL_HOST:?SQL_HOST must be set}"
: "${SQL_PORT:=5432}"
: "${SQL_USER:?SQL_USER must be set}"
: "${SQL_PASSWORD:?SQL_PASSWORD must be set}"
export SQL_PLUGIN SQL_HOST SQL_PORT SQL_USER SQL_PASSWORD
DB="${TEMPORAL_DB:-temporal}"
VIS_DB="${TEMPORAL_VISIBILITY_DB:-temporal_visibility}"

# The database container reports healthy before this runs (depends_on), but a
# restart of it can race us: wait for the port, bounded.
i=0
until nc -z -w 2 "$SQL_HOST" "$SQL_PORT"; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then
    echo "temporal-schema: $SQL_HOST:$SQL_PORT did not answer in 120 s" >&2
    exit 1
  fi
  sleep 2
done

for pair in "$DB:postgresql/v12/temporal" "$VIS_DB:postgresql/v12/visibility"; do
  db="${pair%%:*}"
  schema="${pair#*:}"
  echo "temporal-schema: $db <- $schema"
  temporal-sql-tool --db "$db" create-database
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema --schema-name "$schema"
done
echo "temporal-schema: done"
