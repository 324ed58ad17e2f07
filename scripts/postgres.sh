#!/usr/bin/env bash
# A local PostgreSQL for the server, its tests and its demo, from Debian's packages.
#   scripts/postgres.sh start [DIR]   init (first time) and start a cluster in DIR (default target/pg),
#                                     on a free port, listening on 127.0.0.1 and a socket in DIR;
#                                     prints `export DATABASE_URL=...` on stdout
#   scripts/postgres.sh stop [DIR]    stop it (fast shutdown)
#   scripts/postgres.sh url [DIR]     print the URL of a running cluster
# Installs the `postgresql` package when initdb is missing (apt-get update first; sudo when not
# root). PostgreSQL refuses to run as root, so as root the cluster runs as the user `calltrail`
# (created here when missing); when that user cannot reach DIR (a checkout under a private
# directory, such as one made by `mktemp -d`), the cluster lives in /var/tmp/calltrail-pg/<hash
# of DIR> instead, the same one for the same DIR. Waits on pg_isready, never on a fixed sleep.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-start}
dir=$(realpath -m "${2:-target/pg}")

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

bin=$(find_bin || true)
if [ -z "$bin" ]; then
  echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q >&2
  as_root apt-get install -y -q postgresql >&2
  bin=$(find_bin)
fi

run_as=""
if [ "$(id -u)" = 0 ]; then
  id calltrail >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin calltrail
  run_as="calltrail"
fi
# From /, so the cluster's user never needs the caller's working directory.
pg() { if [ -n "$run_as" ]; then (cd / && runuser -u "$run_as" -- "$@"); else "$@"; fi; }

if [ -n "$run_as" ]; then
  mkdir -p "$dir"
  chown "$run_as" "$dir"
  if ! runuser -u "$run_as" -- test -w "$dir" -a -x "$dir"; then
    dir=/var/tmp/calltrail-pg/$(printf '%s' "$dir" | sha256sum | cut -c1-16)
    mkdir -p "$dir"
    chmod 755 /var/tmp/calltrail-pg
    chown "$run_as" "$dir"
  fi
fi

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      pg "$bin/initdb" -D "$dir/data" -U calltrail --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      port=$(cat "$dir/port")
    else
      # A restarted cluster keeps its port, so its clients reconnect to the same URL.
      # Unless another cluster took it meanwhile (a copied target/ brings the port file along).
      if [ -f "$dir/port" ] && ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$(cat "$dir/port")"; then
        port=$(cat "$dir/port")
      else
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
        echo "$port" >"$dir/port"
      fi
      pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" start >&2
    fi
    until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; do sleep 0.1; done
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U calltrail -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'calltrail'" | grep -q 1 \
      || "$bin/createdb" -h 127.0.0.1 -p "$port" -U calltrail calltrail
    echo "export DATABASE_URL=postgres://calltrail@127.0.0.1:$port/calltrail"
    ;;
  stop)
    [ -f "$dir/data/PG_VERSION" ] && pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
    ;;
  url)
    echo "postgres://calltrail@127.0.0.1:$(cat "$dir/port")/calltrail"
    ;;
  *)
    echo "usage: $0 start|stop|url [DIR]" >&2; exit 2 ;;
esac
