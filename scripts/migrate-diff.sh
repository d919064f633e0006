#!/usr/bin/env bash
# migrate-diff.sh NAME: write the migration that brings the committed
# migrations up to the ent schema, for SQLite and for PostgreSQL (on a
# throw-away server started for the purpose).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: migrate-diff.sh NAME}
go run ./ent/migrate/diff.go -dialect sqlite -name "$name"
dir=$(mktemp -d /tmp/alephql-migrate.XXXXXX)
trap 'scripts/test-servers.sh stop "$dir"' EXIT
scripts/test-servers.sh start "$dir"
# shellcheck disable=SC1091
. "$dir/env"
psql "$ALEPHQL_TEST_POSTGRES" -qc 'CREATE DATABASE migrate_dev'
go run ./ent/migrate/diff.go -dialect postgres -dev "$(echo "$ALEPHQL_TEST_POSTGRES" | sed 's#/postgres?#/migrate_dev?#')" -name "$name"
ls -1 ent/migrate/migrations/sqlite ent/migrate/migrations/postgres
