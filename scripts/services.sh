#!/usr/bin/env bash
# Starts (or stops) the services of the scale-out tier on 127.0.0.1, for development and
# tests: PostgreSQL (Debian's package, run as an unprivileged user with a private port and
# socket directory) and an S3 stand-in (moto's server, from PyPI). Prints the environment
# to use; `eval "$(scripts/services.sh start)"` sets it in the calling shell.
#
#   scripts/services.sh start     # idempotent: a service already running is left alone
#   scripts/services.sh stop
#   scripts/services.sh env       # print the environment again
#
# NEXUS_SERVICES_DIR (default target/services), NEXUS_PG_PORT (54329) and NEXUS_S3_PORT
# (54330) move them. Everything lives under the services directory; `stop` keeps the data
# (remove the directory to start afresh).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=${NEXUS_SERVICES_DIR:-$ROOT/target/services}
PG_PORT=${NEXUS_PG_PORT:-54329}
S3_PORT=${NEXUS_S3_PORT:-54330}
PG_USER=nexus
PG_DB=nexus
BUCKET=nexus
MOTO_VERSION=5.2.6
# Who runs PostgreSQL: it refuses to run as root.
RUN_AS=${NEXUS_PG_OS_USER:-nexus-services}

log() { echo "services: $*" >&2; }

pg_bin() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -z "$found" && "$(id -u)" == 0 ]]; then
        log "installing PostgreSQL from Debian's packages"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
        # Debian's package starts a cluster of its own on 5432: not ours, leave it stopped.
        command -v pg_ctlcluster >/dev/null && pg_ctlcluster --force "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main stop >/dev/null 2>&1 || true
        found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    fi
    [[ -n "$found" ]] || { log "PostgreSQL is not installed (apt-get install postgresql)"; exit 1; }
    echo "$found"
}

# Runs a command as the unprivileged user when this script runs as root.
as_pg() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u "$RUN_AS" -- "$@"
    else
        "$@"
    fi
}

start_pg() {
    local bin data sock
    bin=$(pg_bin)
    data=$DIR/pg/data
    sock=$DIR/pg/socket
    mkdir -p "$DIR/pg" "$sock"
    if [[ "$(id -u)" == 0 ]]; then
        id "$RUN_AS" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS"
        chown -R "$RUN_AS" "$DIR/pg"
        chmod 700 "$DIR/pg"
        # The server must reach its directory: every parent needs search permission.
        local parent=$DIR
        while [[ "$parent" != / ]]; do
            chmod o+x "$parent" 2>/dev/null || true
            parent=$(dirname "$parent")
        done
    fi
    if [[ ! -f "$data/PG_VERSION" ]]; then
        # Byte-order collation (C): paths and ids sort and compare exactly as in SQLite.
        as_pg "$bin/initdb" -D "$data" -U "$PG_USER" --auth=trust --locale=C --encoding=UTF8 >/dev/null
    fi
    if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
    else
        as_pg "$bin/pg_ctl" -D "$data" -l "$DIR/pg/server.log" -w -t 60 start \
            -o "-p $PG_PORT -k $sock -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" >/dev/null
        log "PostgreSQL started on 127.0.0.1:$PG_PORT (data in $data)"
    fi
    if ! as_pg "$bin/psql" -h "$sock" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
        as_pg "$bin/createdb" -h "$sock" -p "$PG_PORT" -U "$PG_USER" "$PG_DB"
    fi
}

stop_pg() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$bin" && -f "$DIR/pg/data/PG_VERSION" ]]; then
        as_pg "$bin/pg_ctl" -D "$DIR/pg/data" -m fast -w stop >/dev/null 2>&1 && log "PostgreSQL stopped" || true
    fi
}

start_s3() {
    local venv=$DIR/s3/venv
    mkdir -p "$DIR/s3"
    if [[ ! -x "$venv/bin/moto_server" ]]; then
        log "installing the S3 stand-in (moto $MOTO_VERSION, from PyPI)"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    fi
    if [[ -f "$DIR/s3/pid" ]] && kill -0 "$(cat "$DIR/s3/pid")" 2>/dev/null; then
        log "S3 stand-in already running on 127.0.0.1:$S3_PORT"
    else
        # Its state is in memory: a restart starts empty, like a new bucket.
        nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$DIR/s3/server.log" 2>&1 &
        echo $! >"$DIR/s3/pid"
        local tries=0
        until curl -sf "http://127.0.0.1:$S3_PORT/moto-api/" >/dev/null 2>&1; do
            tries=$((tries + 1))
            [[ $tries -lt 100 ]] || { log "the S3 stand-in did not start (see $DIR/s3/server.log)"; exit 1; }
            sleep 0.1
        done
        log "S3 stand-in started on 127.0.0.1:$S3_PORT"
    fi
    curl -sf -X PUT "http://127.0.0.1:$S3_PORT/$BUCKET" >/dev/null || true
}

stop_s3() {
    if [[ -f "$DIR/s3/pid" ]]; then
        kill "$(cat "$DIR/s3/pid")" 2>/dev/null && log "S3 stand-in stopped" || true
        rm -f "$DIR/s3/pid"
    fi
}

print_env() {
    cat <<EOF
export NEXUS_PG_URL=postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB
export NEXUS_S3_URL=s3://$BUCKET/nexus
export AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export AWS_ACCESS_KEY_ID=nexus-test
export AWS_SECRET_ACCESS_KEY=nexus-test-secret
export AWS_REGION=us-east-1
export AWS_ALLOW_HTTP=true
EOF
}

case "${1:-}" in
    start)
        start_pg
        start_s3
        print_env
        ;;
    stop)
        stop_s3
        stop_pg
        ;;
    env)
        print_env
        ;;
    *)
        echo "usage: $0 start|stop|env" >&2
        exit 2
        ;;
esac
