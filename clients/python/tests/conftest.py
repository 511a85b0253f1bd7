"""Starts the real `nexus serve` on 127.0.0.1 with a temporary configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from nexus import RemoteNexusClient

SECRET = "python-test-secret-0123456789abcdef0123"

SEED_CONFIG = """
data_dir: ./data
backend: local
organizations:
  - id: acme
    name: Acme Corp
    workspaces:
      - id: sales
      - id: engineering
    members:
      - user_id: alice@acme.com
        role: admin
  - id: techcorp
    name: Tech Corp Inc.
    workspaces:
      - id: product
    members:
      - user_id: john@techcorp.com
        role: admin
        permissions:
          - orgs/techcorp:rwx
auth:
  type: jwt
  jwt_secret: ${JWT_SECRET}
  jwt_algorithm: HS256
"""


def nexus_binary() -> Path:
    """`NEXUS_BIN`, else the workspace's debug build (built by `.ci/run` / `cargo build`)."""
    explicit = os.environ.get("NEXUS_BIN")
    if explicit:
        return Path(explicit)
    root = Path(__file__).resolve().parents[3]
    binary = root / "target" / "debug" / "nexus"
    if not binary.exists():
        raise RuntimeError(
            f"no nexus binary at {binary}: run `cargo build -p nexus-cli` or set NEXUS_BIN"
        )
    return binary


def token(sub: str, **claims: object) -> str:
    """An HS256 token for `sub`, signed with the test secret."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    body = {"sub": sub, "exp": int(time.time()) + 3600, **claims}
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(body).encode())
    signature = hmac.new(SECRET.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{b64(signature)}"


@dataclass
class Server:
    url: str
    host: str
    port: int
    admin_key: str
    directory: Path

    def client(self, *, token_for: str | None = None, api_key: str | None = None) -> RemoteNexusClient:
        if token_for is not None:
            return RemoteNexusClient(url=self.url, token=token(token_for))
        return RemoteNexusClient(url=self.url, api_key=api_key or self.admin_key)


def on_tier(config: str) -> str:
    """With `NEXUS_TEST_TIER=scale-out`, the server keeps its data on the scale-out tier
    (PostgreSQL in a schema of its own, S3 under a prefix of its own: the services of
    `scripts/services.sh`), unless the configuration chooses storage itself."""
    tier = os.environ.get("NEXUS_TEST_TIER", "embedded")
    if tier not in ("embedded", "scale-out"):
        raise RuntimeError(f"NEXUS_TEST_TIER is `embedded` or `scale-out`, not `{tier}`")
    if tier == "embedded" or "\nstorage:" in config:
        return config
    schema = f"py_{os.getpid()}_{time.time_ns()}"
    return (
        config.rstrip()
        + "\nstorage:\n  metadata: ${NEXUS_PG_URL}\n"
        + f"  blobs: ${{NEXUS_S3_URL}}/{schema}\n  schema: {schema}\n  migrate: true\n"
    )


def start(directory: Path, config: str) -> tuple[Server, subprocess.Popen[str]]:
    binary = nexus_binary()
    config_path = directory / "nexus.yaml"
    config_path.write_text(on_tier(config))
    env = {**os.environ, "JWT_SECRET": SECRET, "NEXUS_LOG": "warn"}
    for name in ("NEXUS_URL", "NEXUS_HOST", "NEXUS_API_KEY", "NEXUS_TOKEN", "NEXUS_ADMIN_KEY"):
        env.pop(name, None)
    init = subprocess.run(
        [str(binary), "--json", "init", "--config", str(config_path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    admin_key = json.loads(init.stdout)["admin_key"]["secret"]
    process = subprocess.Popen(
        [str(binary), "serve", "--port", "0", "--config", str(config_path)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    address = None
    for line in process.stderr:
        if line.startswith("nexus: listening on http://"):
            address = line.strip().removeprefix("nexus: listening on http://")
            break
    if address is None:
        raise RuntimeError("nexus serve exited before listening")
    stderr = process.stderr
    threading.Thread(target=lambda: [None for _ in stderr], daemon=True).start()
    host, port = address.rsplit(":", 1)
    return Server(f"http://{address}", host, int(port), admin_key, directory), process


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running, process = start(tmp_path, SEED_CONFIG)
    try:
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)
