#!/usr/bin/env bash
# Starts (or stops) the real servers the test suite uses: PostgreSQL and Redis on loopback, with their
# data in a temporary directory. Source it: `source scripts/test-services.sh start` exports
# QFPAY_TEST_DATABASE_URL, QFPAY_TEST_REDIS_URL and QFPAY_TEST_CHROMIUM for the tests;
# `test-services.sh stop` stops what `start` started. Used by .ci/run and by hand.
set -uo pipefail

QFPAY_TEST_SERVICES_DIR="${QFPAY_TEST_SERVICES_DIR:-/tmp/qfpay-test-services}"
PG_PORT="${QFPAY_TEST_PG_PORT:-55432}"
REDIS_PORT="${QFPAY_TEST_REDIS_PORT:-56379}"

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] || { echo "PostgreSQL is not installed (apt-get install -y postgresql)" >&2; return 1; }
  echo "$dir"
}

# PostgreSQL refuses to run as root; the Debian package creates the postgres user.
as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  local bin data
  bin="$(pg_bin)" || return 1
  data="$QFPAY_TEST_SERVICES_DIR/pg/data"
  mkdir -p "$data"
  [ "$(id -u)" = "0" ] && chown -R postgres "$QFPAY_TEST_SERVICES_DIR/pg"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$QFPAY_TEST_SERVICES_DIR/initdb.log" 2>&1 ||
      { cat "$QFPAY_TEST_SERVICES_DIR/initdb.log" >&2; return 1; }
  fi
  as_postgres "$bin/pg_ctl" -D "$data" -l "$QFPAY_TEST_SERVICES_DIR/pg/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $QFPAY_TEST_SERVICES_DIR/pg -c max_connections=300 -c fsync=off" start >/dev/null ||
    { cat "$QFPAY_TEST_SERVICES_DIR/pg/server.log" >&2; return 1; }
  export QFPAY_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

start_redis() {
  command -v redis-server >/dev/null || { echo "Redis is not installed (apt-get install -y redis-server)" >&2; return 1; }
  mkdir -p "$QFPAY_TEST_SERVICES_DIR/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$QFPAY_TEST_SERVICES_DIR/redis" --save '' \
    --appendonly no --daemonize yes --pidfile "$QFPAY_TEST_SERVICES_DIR/redis.pid" \
    --logfile "$QFPAY_TEST_SERVICES_DIR/redis.log" || return 1
  for _ in $(seq 1 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  export QFPAY_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
}

stop_services() {
  local bin
  if bin="$(pg_bin 2>/dev/null)" && [ -f "$QFPAY_TEST_SERVICES_DIR/pg/data/postmaster.pid" ]; then
    as_postgres "$bin/pg_ctl" -D "$QFPAY_TEST_SERVICES_DIR/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ -f "$QFPAY_TEST_SERVICES_DIR/redis.pid" ]; then
    kill "$(cat "$QFPAY_TEST_SERVICES_DIR/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$QFPAY_TEST_SERVICES_DIR"
}

case "${1:-}" in
  start)
    mkdir -p "$QFPAY_TEST_SERVICES_DIR"
    chmod 755 "$QFPAY_TEST_SERVICES_DIR" # the postgres user must reach its data directory inside
    start_postgres && start_redis || { stop_services; return 1 2>/dev/null || exit 1; }
    if [ -x /usr/bin/chromium ]; then export QFPAY_TEST_CHROMIUM=/usr/bin/chromium; fi
    echo "test services: PostgreSQL $QFPAY_TEST_DATABASE_URL, Redis $QFPAY_TEST_REDIS_URL, Chromium ${QFPAY_TEST_CHROMIUM:-missing}"
    ;;
  stop) stop_services ;;
  *) echo "usage: source scripts/test-services.sh start | scripts/test-services.sh stop" >&2 ;;
esac
