#!/usr/bin/env python3
"""Runs the README's shell and Python blocks, in order, in one shell, as a newcomer would.

    python3 scripts/readme_test.py [--print]

Every ```sh block runs as written, from the repository root, with a fresh temporary HOME;
```python blocks run with `python3` (so run this with the Python whose `pip` and `python3`
should be used, e.g. the test virtual environment's, first on PATH). The one line that
starts the whole test suite (`./scripts/test.sh`) is left out: this script is part of it.
Background jobs a block starts are stopped at the end. `--print` shows the script instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
# The test suite's own command: running it from within the test suite would recurse.
SELF = "./scripts/test.sh"


def script(readme: str) -> str:
    parts = [
        "set -euo pipefail",
        # Whatever a block leaves running in the background stops with the script.
        "trap 'jobs -p | xargs -r kill 2>/dev/null || true' EXIT",
    ]
    blocks = BLOCK.findall(readme)
    if not blocks:
        raise SystemExit("no shell blocks found in README.md")
    for number, (kind, body) in enumerate(blocks, 1):
        parts.append(f"echo '>>> README block {number} ({kind})' >&2")
        if kind == "sh":
            lines = [line for line in body.splitlines() if not line.strip().startswith(SELF)]
            parts.append("\n".join(lines))
        else:
            parts.append(f"python3 - <<'README_PYTHON'\n{body}README_PYTHON")
    return "\n".join(parts) + "\n"


def untracked() -> set[str]:
    """Files in the checkout that git does not know (ignored ones, like `target/`, aside)."""
    listed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    return {line[3:] for line in listed.stdout.splitlines() if line.startswith("??")}


def main() -> int:
    text = script((ROOT / "README.md").read_text())
    if "--print" in sys.argv:
        print(text)
        return 0
    before = untracked()
    with tempfile.TemporaryDirectory(prefix="nexus-readme-") as home:
        real_home = Path.home()
        env = dict(
            os.environ,
            HOME=home,
            # The toolchain stays where it is installed; only the newcomer's files move.
            RUSTUP_HOME=os.environ.get("RUSTUP_HOME", str(real_home / ".rustup")),
            CARGO_HOME=os.environ.get("CARGO_HOME", str(real_home / ".cargo")),
        )
        for name in ("NEXUS_URL", "NEXUS_HOST", "NEXUS_PORT", "NEXUS_DATA_DIR", "NEXUS_API_KEY", "NEXUS_TOKEN"):
            env.pop(name, None)
        done = subprocess.run(["bash", "-c", text], cwd=ROOT, env=env, timeout=3600)
    if done.returncode != 0:
        print(f"README blocks failed (exit {done.returncode}); see `--print`", file=sys.stderr)
        return done.returncode
    # A newcomer's files belong in their own directories, not in the checkout.
    left = sorted(untracked() - before)
    if left:
        print(f"README blocks left files in the repository: {left}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
