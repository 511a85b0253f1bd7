#!/usr/bin/env bash
# A short tour of Nexus on the embedded store: creates a data directory, then writes,
# lists, searches and reads files through the `nexus` CLI, grants access to two people and
# shows what each may do, printing each command.
#
#   ./scripts/demo.sh [DATA_DIR]     (default: a new temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "building nexus..." >&2
cargo build --quiet --locked -p nexus-cli
nexus_bin="$PWD/target/debug/nexus"

data_dir="${1:-$(mktemp -d)/nexus-data}"
export NEXUS_DATA_DIR="$data_dir"

# Prints a command the way one would type it (single-quoting what the shell would touch).
show() {
    local arg
    printf '\n$ nexus'
    for arg in "$@"; do
        if [[ "$arg" =~ ^[A-Za-z0-9_./:@=-]+$ ]]; then
            printf ' %s' "$arg"
        else
            printf " '%s'" "${arg//\'/\'\\\'\'}"
        fi
    done
    printf '\n'
}

step() {
    show "$@"
    "$nexus_bin" "$@"
}

echo "data directory: $data_dir"
step mkdir /orgs/acme
step mkdir -p /orgs/acme/sales/documents /orgs/acme/sales/conversations
step write /orgs/acme/sales/context.json '{"workspace_id": "sales", "active_topics": ["Q1 planning"]}'
step write /orgs/acme/sales/documents/proposal.md '# Q1 Sales Proposal
Pricing strategy: annual plans get two months free.
Pipeline review every Monday.
'
printf '\n$ echo "session notes from stdin" | nexus write /orgs/acme/sales/conversations/session_123.md\n'
echo "session notes from stdin" | "$nexus_bin" write /orgs/acme/sales/conversations/session_123.md
step ls /orgs/acme/sales
step ls -r /orgs/acme
step cat /orgs/acme/sales/documents/proposal.md
step grep -i pricing /orgs/acme
step glob '/orgs/acme/**/*.md'
step write /orgs/acme/sales/documents/proposal.md '# Q1 Sales Proposal (v2)
'
step versions /orgs/acme/sales/documents/proposal.md
step versions cat /orgs/acme/sales/documents/proposal.md 1
step stat /orgs/acme/sales/documents/proposal.md
step mv /orgs/acme/sales/documents/proposal.md /orgs/acme/sales/documents/q1-proposal.md
step --json ls /orgs/acme/sales/documents
step mkdir -p /orgs/acme/engineering
step write /orgs/acme/engineering/roadmap.md '# Engineering roadmap (internal)'
step rebac create user:alice@acme.com admin /orgs/acme
step rebac create user:bob@acme.com member /orgs/acme/sales
step rebac check user:bob@acme.com write /orgs/acme/sales/documents/
step rebac check user:bob@acme.com read /orgs/acme/engineering/roadmap.md
step --as user:bob@acme.com ls -r /orgs/acme
show --as user:bob@acme.com cat /orgs/acme/engineering/roadmap.md
"$nexus_bin" --as user:bob@acme.com cat /orgs/acme/engineering/roadmap.md || echo "(exit code $?: bob cannot see it)"
step setfacl /orgs/acme/engineering user:bob@acme.com:r--
step getfacl /orgs/acme/engineering
step --as user:bob@acme.com cat /orgs/acme/engineering/roadmap.md
step fsck --verify-content
printf '\ndone: the data directory %s holds everything written above\n' "$data_dir"
