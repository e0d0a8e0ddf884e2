#!/usr/bin/env bash
# Start the Debian-installed PostgreSQL server for tests and print the DSN to use.
#
#   eval "$(scripts/postgres-dev.sh)"      # as root; exports GENWF_TEST_POSTGRES_DSN
#
# Idempotent: starts the cluster only if it is down, creates the role and database only if
# missing (and resets the role's password so the printed DSN always works). Only the
# `export ...` line goes to stdout; every diagnostic goes to stderr.
# Overridable: PG_VERSION (15), PG_CLUSTER (main), GENWF_PG_USER (genwf),
# GENWF_PG_PASSWORD (genwf-dev-pw), GENWF_PG_DB (genwf_test), PG_HOST (127.0.0.1), PG_PORT (5432).
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
DB_USER="${GENWF_PG_USER:-genwf}"
DB_PASS="${GENWF_PG_PASSWORD:-genwf-dev-pw}"
DB_NAME="${GENWF_PG_DB:-genwf_test}"
HOST="${PG_HOST:-127.0.0.1}"
PORT="${PG_PORT:-5432}"

say() { echo "postgres-dev: $*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it starts the server and switches to the postgres user)"
command -v pg_ctlcluster >/dev/null || die "pg_ctlcluster not found: install postgresql-$PG_VERSION"
command -v psql >/dev/null || die "psql not found: install postgresql-client"
[[ "$DB_USER" =~ ^[a-z_][a-z0-9_]*$ ]] || die "GENWF_PG_USER must be a plain identifier"
[[ "$DB_NAME" =~ ^[a-z_][a-z0-9_]*$ ]] || die "GENWF_PG_DB must be a plain identifier"
[[ "$DB_PASS" =~ ^[A-Za-z0-9._~-]+$ ]] || die "GENWF_PG_PASSWORD must use only URL-safe characters [A-Za-z0-9._~-]"

if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c' | grep -q .; then
  say "creating cluster $PG_VERSION/$PG_CLUSTER"
  pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >&2 || die "could not create cluster $PG_VERSION/$PG_CLUSTER"
fi
if pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
  say "cluster $PG_VERSION/$PG_CLUSTER already running"
else
  say "starting cluster $PG_VERSION/$PG_CLUSTER"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" start >&2 \
    || die "could not start cluster $PG_VERSION/$PG_CLUSTER (see /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log)"
fi

# Wait for the server to accept TCP connections (up to ~30 s).
for i in $(seq 1 60); do
  if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then break; fi
  [ "$i" -eq 60 ] && die "nothing accepts TCP connections on $HOST:$PORT"
  sleep 0.5
done
# ...and for it to answer queries (it may still be starting up).
for i in $(seq 1 60); do
  if su postgres -c "psql -X -q -tA -c 'SELECT 1'" >/dev/null 2>&1; then break; fi
  [ "$i" -eq 60 ] && die "server on $HOST:$PORT does not answer queries"
  sleep 0.5
done

psql_admin() { su postgres -c "psql -X -q -v ON_ERROR_STOP=1 -tA $*"; }

if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'\"")" = "1" ]; then
  say "role $DB_USER exists"
  psql_admin "-c \"ALTER ROLE $DB_USER WITH LOGIN PASSWORD '$DB_PASS'\"" >&2
else
  say "creating role $DB_USER"
  psql_admin "-c \"CREATE ROLE $DB_USER WITH LOGIN PASSWORD '$DB_PASS'\"" >&2
fi
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'\"")" = "1" ]; then
  say "database $DB_NAME exists"
else
  say "creating database $DB_NAME"
  psql_admin "-c \"CREATE DATABASE $DB_NAME OWNER $DB_USER\"" >&2
fi
# Tests drop and recreate the public schema: make the role own it.
su postgres -c "psql -X -q -v ON_ERROR_STOP=1 -d $DB_NAME -c 'ALTER SCHEMA public OWNER TO $DB_USER'" >&2

DSN="postgresql://$DB_USER:$DB_PASS@$HOST:$PORT/$DB_NAME"
# Check the password path end to end (TCP + md5/scram), as the tests will connect.
PGPASSWORD="$DB_PASS" psql -X -q -tA "postgresql://$DB_USER@$HOST:$PORT/$DB_NAME" -c 'SELECT 1' >/dev/null \
  || die "cannot log in as $DB_USER to $HOST:$PORT/$DB_NAME with a password (check pg_hba.conf)"
say "ready: $HOST:$PORT/$DB_NAME as $DB_USER"
echo "export GENWF_TEST_POSTGRES_DSN=$DSN"
