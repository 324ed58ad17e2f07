#!/usr/bin/env bash
# Starts Calltrail's server like a real service: PostgreSQL from Debian's packages in a local
# data directory (scripts/postgres.sh: installs it when missing, runs it as a non-root user),
# migrations (the server runs them at start), then the server.
#
#   scripts/server.sh            run the server in the foreground (Ctrl-C stops it)
#   scripts/server.sh --demo     play a day of calls from the RingCentral emulator into the CRM
#                                emulator through the server, print what got logged where, stop
#
# Configuration (flags of calltrail-server, or these variables; see `calltrail-server --help`):
#   DATABASE_URL            default: the local cluster in target/pg
#   CALLTRAIL_LISTEN        default 127.0.0.1:8080
#   CALLTRAIL_PUBLIC_URL    where RingCentral delivers webhooks (default http://<listen>)
#   CALLTRAIL_SEAL_KEY      32-byte key sealing credentials; generated into target/server.env once
#   CALLTRAIL_ADMIN_TOKEN   admin API bearer token; generated into target/server.env once
#   CALLTRAIL_SYNC_INTERVAL_MS, CALLTRAIL_LEASE_TTL_MS, CALLTRAIL_POOL_SIZE, CALLTRAIL_LOG
set -euo pipefail
cd "$(dirname "$0")/.."

demo=0
[ "${1:-}" = "--demo" ] && demo=1

if [ -z "${DATABASE_URL:-}" ]; then
  eval "$(bash scripts/postgres.sh start target/pg)"
fi
export DATABASE_URL
if [ ! -f target/server.env ]; then
  mkdir -p target
  umask 077
  printf 'CALLTRAIL_SEAL_KEY=%s\nCALLTRAIL_ADMIN_TOKEN=%s\n' "$(openssl rand -hex 32 2>/dev/null || head -c32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    "$(openssl rand -hex 24 2>/dev/null || head -c24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > target/server.env
fi
set -a; . target/server.env; set +a
export CALLTRAIL_SEAL_KEY="${CALLTRAIL_SEAL_KEY}" CALLTRAIL_ADMIN_TOKEN="${CALLTRAIL_ADMIN_TOKEN}"

cargo build -q -p calltrail-server
bin=target/debug/calltrail-server

if [ "$demo" = 0 ]; then
  exec "$bin"
fi
exec node scripts/server-demo.mjs "$bin"
