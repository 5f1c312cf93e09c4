#!/bin/sh
# The event store's database roles (issue 11), made once when the PostgreSQL volume is first
# initialised (the postgres image runs /docker-entrypoint-initdb.d/*.sh as its superuser):
#
#   clearance_owner    owns the database and, after `clearance migrate`, every table, trigger
#                      and function of the event store; used only by the one-shot migrate job
#                      (EVENT_STORE_OWNER_URL) and by operators (a rebuild swaps tables).
#   clearance_service  what the four services connect as (EVENT_STORE_URL): `clearance
#                      migrate --service-role clearance_service` grants it SELECT on the log,
#                      EXECUTE on the append functions, and read/write on read models, inbox,
#                      checkpoints and leases; never UPDATE, DELETE, TRUNCATE or DDL.
#
# Passwords come from the environment (POSTGRES_OWNER_PASSWORD, POSTGRES_SERVICE_PASSWORD);
# they travel to psql as variables and are quoted by it (:'name'), never pasted into SQL.
# Idempotent: an existing role or database is left as it is (run it by hand on a volume made
# before the roles existed: `docker compose exec -T postgres sh < infra/postgres/10-...sh`
# with the two variables set, then `ALTER DATABASE clearance OWNER TO clearance_owner` and
# `REASSIGN OWNED BY <old owner> TO clearance_owner` in that database).
set -eu

: "${POSTGRES_OWNER_PASSWORD:?set POSTGRES_OWNER_PASSWORD}"
: "${POSTGRES_SERVICE_PASSWORD:?set POSTGRES_SERVICE_PASSWORD}"
DATABASE="${CLEARANCE_DATABASE:-clearance}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
     -v owner_pw="$POSTGRES_OWNER_PASSWORD" -v service_pw="$POSTGRES_SERVICE_PASSWORD" \
     -v db="$DATABASE" <<'SQL'
SELECT format('CREATE ROLE clearance_owner LOGIN PASSWORD %L', :'owner_pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clearance_owner') \gexec
SELECT format('CREATE ROLE clearance_service LOGIN PASSWORD %L', :'service_pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clearance_service') \gexec
SELECT format('CREATE DATABASE %I OWNER clearance_owner', :'db')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SELECT format('ALTER DATABASE %I OWNER TO clearance_owner', :'db') \gexec
SQL

# PostgreSQL 15 and later grant no CREATE on the public schema to PUBLIC; say it anyway, so
# that the service role can create nothing whatever the server's version.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "$DATABASE" <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
