#!/usr/bin/env bash
# M1 of PERFORMANCE.md: MCP `tools/call` of `read_file` on a 1 KiB file over streamable HTTP
# (`/mcp`, protocol 2026-07-28, stateless), 16 concurrent clients, next to H1 (the REST
# `GET` of the same file) with 16 connections, against the same release `nexus serve` on
# 127.0.0.1, in the same run, driven by `wrk` (`apt-get install wrk`). Both authenticate
# the same agent's API key and are permission-checked.
#
#   ./scripts/bench-mcp.sh [SECONDS]     (default 15 seconds per workload; runs M1 and H1
#                                         alternately, twice each)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-15}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
if [ -n "${NEXUS_BENCH_BIN:-}" ]; then
    nexus="$NEXUS_BENCH_BIN"
else
    cargo build --quiet --release --locked -p nexus-cli
    nexus="$PWD/target/release/nexus"
fi
work="$(mktemp -d)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

cat > "$work/nexus.yaml" <<YAML
data_dir: ./data
organizations:
  - id: acme
    name: Acme Corp
    workspaces:
      - id: sales
    members:
      - user_id: alice@acme.com
        role: admin
      - user_id: notes-bot
        type: agent
        role: assistant
        workspaces: [sales]
auth:
  type: api_key
mcp:
  requests_per_minute: 100000000
YAML
admin_key="nx_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
NEXUS_ADMIN_KEY="$admin_key" "$nexus" init --config "$work/nexus.yaml" >/dev/null
export NEXUS_DATA_DIR="$work/data"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 > "$work/1k"
"$nexus" write /orgs/acme/sales/bench.txt --file "$work/1k" >/dev/null 2>&1
key="$("$nexus" --json admin create-key --principal agent:notes-bot --description bench \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"
unset NEXUS_DATA_DIR

NEXUS_LOG=warn "$nexus" serve --config "$work/nexus.yaml" --port 0 2> "$work/serve.log" &
server_pid=$!
for _ in $(seq 100); do
    grep -q "listening on" "$work/serve.log" 2>/dev/null && break
    sleep 0.1
done
url="$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)"

cat > "$work/call.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
wrk.headers["Mcp-Method"] = "tools/call"
wrk.headers["Mcp-Name"] = "read_file"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/orgs/acme/sales/bench.txt"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
LUA

# The call answers the file's content (a failed call would still be HTTP 200: check once).
answer="$(curl -fsS -X POST "$url/mcp" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: read_file' \
    --data "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$work/call.lua")")"
grep -q "$(head -c 32 "$work/1k")" <<< "$answer" || { echo "M1: the call did not return the file: $answer" >&2; exit 1; }
grep -q '"isError":false' <<< "$answer"
curl -fsS -H "Authorization: Bearer $key" "$url/api/fs/orgs/acme/sales/bench.txt" -o /dev/null

run() {
    local name="$1"; shift
    echo "== $name"
    wrk --latency -H "Authorization: Bearer $key" "$@" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors"
}
for round in 1 2; do
    run "M1 round $round: tools/call read_file 1 KiB, 16 clients" -t2 -c16 -d"${duration}s" -s "$work/call.lua" "$url/mcp"
    run "H1 round $round: GET 1 KiB, 16 connections" -t2 -c16 -d"${duration}s" "$url/api/fs/orgs/acme/sales/bench.txt"
done
