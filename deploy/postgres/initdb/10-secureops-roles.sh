#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data directory
# (the image runs /docker-entrypoint-initdb.d/* as the superuser POSTGRES_USER).
#
# Creates the login roles and databases the stack needs; everything else is
# the migrations' job (`secureops migrate`, as the owner role):
#   secureops      owner of database secureops: runs the migrations (DATABASE_URL).
#                  Neither superuser nor BYPASSRLS: RLS is FORCEd on tenant
#                  tables, so migrations that write rows set the admin policy's
#                  flag (secureops.platform_admin) for their transaction.
#                  Only `secureops migrate` uses this role.
#   secureops_app  what the API and workers connect as (APP_DATABASE_URL): no
#                  BYPASSRLS, so row-level security always applies. Only LOGIN
#                  and the password are set here; the migrations grant it
#                  privileges (the first one creates it when missing).
#   kratos         owner of database kratos (Ory Kratos identities and sessions)
# Idempotent, so it can also be run by hand against an existing cluster.
set -euo pipefail

: "${SECUREOPS_DB_PASSWORD:?SECUREOPS_DB_PASSWORD must be set}"
: "${APP_DATABASE_PASSWORD:?APP_DATABASE_PASSWORD must be set}"
: "${KRATOS_DB_PASSWORD:?KRATOS_DB_PASSWORD must be set}"

# Passwords travel as psql variables (:'name' quotes them as literals), never
# through the shell into SQL text.
psql -v ON_ERROR_STOP=1 --no-psqlrc \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  --set owner_pw="$SECUREOPS_DB_PASSWORD" \
  --set app_pw="$APP_DATABASE_PASSWORD" \
  --set kratos_pw="$KRATOS_DB_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE secureops'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'secureops')\gexec
ALTER ROLE secureops WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'owner_pw';
SELECT 'CREATE DATABASE secureops OWNER secureops'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'secureops')\gexec

SELECT 'CREATE ROLE secureops_app'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'secureops_app')\gexec
ALTER ROLE secureops_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'app_pw';

SELECT 'CREATE ROLE kratos'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kratos')\gexec
ALTER ROLE kratos WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'kratos_pw';
SELECT 'CREATE DATABASE kratos OWNER kratos'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'kratos')\gexec
SQL
