#!/usr/bin/env bash
# HTTP benchmarks H1-H4 of PERFORMANCE.md against a release `nexus serve` on 127.0.0.1,
# driven by `wrk` (install it with `apt-get install wrk`).
#
#   ./scripts/bench-http.sh [SECONDS]     (default 15 seconds per workload)
#   NEXUS_BENCH_BIN=/path/to/nexus ./scripts/bench-http.sh   (another build, same workloads)
#
# H1: GET of a 1 KiB file, 32 connections; H2: PUT of 1 KiB, 16 connections; H3: permission
# check endpoint, 32 connections; H4: GET answered 404 (a workspace the caller cannot see)
# for a heavy user (member of 100 groups holding 2,800 grants), 32 connections, next to H1
# for the same heavy user. Every request is authenticated (an API key of a member, not an
# administrator) and permission-checked.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-15}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

# NEXUS_BENCH_BIN runs another build (e.g. an earlier commit's) through the same workloads.
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
      - id: engineering
    members:
      - user_id: alice@acme.com
        role: admin
      - user_id: bob@acme.com
        role: member
        workspaces: [sales]
      - user_id: heavy@acme.com
        role: member
        workspaces: [sales]
auth:
  type: api_key
YAML
admin_key="nx_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
NEXUS_ADMIN_KEY="$admin_key" "$nexus" init --config "$work/nexus.yaml" >/dev/null
export NEXUS_DATA_DIR="$work/data"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 > "$work/1k"
"$nexus" write /orgs/acme/sales/documents/bench.txt --file "$work/1k" >/dev/null 2>&1
key="$("$nexus" --json admin create-key --principal user:bob@acme.com --description bench \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"
heavy_key="$("$nexus" --json admin create-key --principal user:heavy@acme.com --description bench \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"
"$nexus" write /orgs/acme/engineering/secret.txt "hidden" >/dev/null 2>&1
# The heavy user: member of 100 groups, each holding `viewer` on 28 folders (2,800 grants).
python3 - "$work/heavy.json" <<'PY'
import json, sys
updates = []
for g in range(100):
    updates.append({"operation": "touch", "relationship": f"group:acme/g{g}#member@user:heavy@acme.com"})
    for i in range(28):
        updates.append({"operation": "touch", "relationship": f"file:/orgs/acme/projects/p{g}-{i}#viewer@group:acme/g{g}#member"})
json.dump({"updates": updates}, open(sys.argv[1], "w"))
PY
unset NEXUS_DATA_DIR

NEXUS_LOG=warn "$nexus" serve --config "$work/nexus.yaml" --port 0 2> "$work/serve.log" &
server_pid=$!
for _ in $(seq 100); do
    grep -q "listening on" "$work/serve.log" 2>/dev/null && break
    sleep 0.1
done
url="$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)"

cat > "$work/put.lua" <<LUA
wrk.method = "PUT"
wrk.body = io.open("$work/1k"):read("*a")
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/api/fs/orgs/acme/sales/documents/put-" .. (n % 64) .. ".txt")
end
LUA
cat > "$work/check.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"subject":"user:bob@acme.com","permission":"read","object":"/orgs/acme/sales/documents/bench.txt"}'
LUA

run_as() {
    local credential="$1" name="$2"; shift 2
    echo "== $name"
    wrk --latency -H "Authorization: Bearer $credential" "$@" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors"
}
run() {
    run_as "$key" "$@"
}
curl -fsS -H "Authorization: Bearer $admin_key" --data-binary @"$work/heavy.json" \
    "$url/api/rebac/relationships" -o /dev/null
test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $heavy_key" \
    "$url/api/fs/orgs/acme/engineering/secret.txt")" = 404
curl -fsS -H "Authorization: Bearer $key" "$url/api/fs/orgs/acme/sales/documents/bench.txt" -o /dev/null
run "H1 GET 1 KiB, 32 connections" -t2 -c32 -d"${duration}s" "$url/api/fs/orgs/acme/sales/documents/bench.txt"
run "H2 PUT 1 KiB, 16 connections" -t2 -c16 -d"${duration}s" -s "$work/put.lua" "$url"
run "H3 check, 32 connections" -t2 -c32 -d"${duration}s" -s "$work/check.lua" "$url/api/rebac/check"
run_as "$heavy_key" "H1 for the heavy user (GET 1 KiB, allowed), 32 connections" -t2 -c32 -d"${duration}s" "$url/api/fs/orgs/acme/sales/documents/bench.txt"
run_as "$heavy_key" "H4 heavy user GET answered 404 (hidden workspace), 32 connections" -t2 -c32 -d"${duration}s" "$url/api/fs/orgs/acme/engineering/secret.txt"
