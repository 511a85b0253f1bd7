#!/usr/bin/env bash
# The whole check, exactly as CI runs it: formatting, lints (warnings are errors), tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() {
    printf '\n==> %s\n' "$*" >&2
    "$@"
}

step cargo fmt --all --check
step cargo clippy --workspace --all-targets --locked -- -D warnings
step cargo test --workspace --locked
# The scale-out tier against real services on 127.0.0.1 (PostgreSQL from Debian's packages,
# the S3 stand-in from PyPI), stopped again when this script ends. Its tests are ignored by
# a plain `cargo test` and run here with `--ignored`; without the services they fail.
services_env=$(scripts/services.sh start)
eval "$services_env"
trap 'scripts/services.sh stop >/dev/null 2>&1 || true' EXIT
# (`--workspace` keeps the features of the build above: nothing is compiled again.) They
# are the PostgreSQL and S3 backends' tests and, in `nexus-core`'s `nodes`, several nodes on
# one database: read-your-writes across nodes with revisions (10,000 pairs), following
# without one, writers on several nodes, keys, files, leases, and the negative control.
step cargo test --workspace --locked --tests -- --ignored
# The end-to-end HTTP suite again with every server on the scale-out tier.
step env NEXUS_TEST_TIER=scale-out cargo test --workspace --locked --test http
# The SpiceDB conformance suite through the CLI (every assertion of every file).
step cargo build --quiet --locked -p nexus-cli
step ./target/debug/nexus rebac validate conformance/spicedb/*.yaml
# The Python client against the real server (a private virtual environment under target/).
python="${PYTHON:-python3}"
venv=target/python-venv
if [ ! -x "$venv/bin/python" ]; then
    step "$python" -m venv "$venv"
fi
step "$venv/bin/python" -m pip install --quiet --upgrade "./clients/python[test]" "maturin>=1.5,<2"
# The embedded core (NexusClient) as a debug build of crates/nexus-py.
step env VIRTUAL_ENV="$PWD/$venv" "$venv/bin/maturin" develop --quiet --locked -m crates/nexus-py/Cargo.toml
step "$venv/bin/python" -m mypy --strict clients/python/src/nexus
step "$venv/bin/python" -m pytest -q clients/python/tests
# The MCP server driven by the official MCP Python SDK (pinned), over HTTP and stdio.
step "$venv/bin/python" -m pip install --quiet -r tests/mcp/requirements.txt
step "$venv/bin/python" -m pytest -q tests/mcp
# The remote client's and the MCP server's suites on the scale-out tier.
# (Two runs: each suite has a conftest of its own.)
step env NEXUS_TEST_TIER=scale-out "$venv/bin/python" -m pytest -q tests/mcp
step env NEXUS_TEST_TIER=scale-out "$venv/bin/python" -m pytest -q clients/python/tests \
    --ignore clients/python/tests/test_embedded.py
# The README's blocks, in order, in one shell, as a newcomer runs them (the venv's pip and
# python3 first on PATH).
step env PATH="$PWD/$venv/bin:$PATH" "$venv/bin/python" scripts/readme_test.py
