#!/usr/bin/env bash
# A throwaway Postgres for the tests of the relay on a shared database: Debian's `postgresql`
# binaries, a cluster of its own in $HB_TEST_PG_DIR (default /tmp/hb-test-postgres) that listens
# only on a Unix socket there, with trust authentication for its `postgres` role.
#
#   eval "$(bash src-tauri/scripts/test-postgres.sh start)"   # exports HELPDESK_TEST_POSTGRES_URL
#   bash src-tauri/scripts/test-postgres.sh stop
#
# As root (CI), the cluster runs as the `postgres` user the package creates; initdb refuses root.
set -euo pipefail
dir="${HB_TEST_PG_DIR:-/tmp/hb-test-postgres}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$bin/initdb" ] || { echo "test-postgres.sh: Postgres is not installed; run src-tauri/scripts/install-deps.sh (it installs Debian's postgresql)" >&2; exit 2; }
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    if [ -f "$dir/data/postmaster.pid" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # No TCP; fsync off (the tests kill relays, not the database); room for many connections.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-k $dir -c listen_addresses='' -c fsync=off -c max_connections=300" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "export HELPDESK_TEST_POSTGRES_URL='host=$dir user=postgres dbname=postgres'"
    ;;
  stop)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: test-postgres.sh start|stop" >&2; exit 2 ;;
esac
