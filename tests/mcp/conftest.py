"""Starts the real `nexus serve` on 127.0.0.1 for the MCP tests, and drives it with the
official MCP Python SDK over streamable HTTP (`/mcp`) and over stdio (`nexus mcp`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Coroutine, Iterator, TypeVar

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

SECRET = "mcp-test-secret-0123456789abcdef0123456789"
AUDIENCE = "nexus-mcp-tests"

# Acme: alice administers; bob works in sales and eng; the agent `helper` in sales only;
# carol in sales. Techcorp is another tenant.
CONFIG = f"""
data_dir: ./data
organizations:
  - id: acme
    name: Acme Corp
    workspaces:
      - id: sales
      - id: eng
    members:
      - user_id: alice@acme.com
        role: admin
      - user_id: bob@acme.com
        role: member
        workspaces: [sales, eng]
      - user_id: carol@acme.com
        role: member
        workspaces: [sales]
      - user_id: helper
        type: agent
        role: assistant
        workspaces: [sales]
  - id: techcorp
    name: Tech Corp
    workspaces:
      - id: product
    members:
      - user_id: john@techcorp.com
        role: admin
auth:
  type: jwt
  jwt_secret: ${{JWT_SECRET}}
  jwt_algorithm: HS256
  issuer: https://idp.example.test
  audience: {AUDIENCE}
"""

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def nexus_binary() -> Path:
    """`NEXUS_BIN`, else the workspace's debug build (built by `.ci/run` / `cargo build`)."""
    explicit = os.environ.get("NEXUS_BIN")
    if explicit:
        return Path(explicit)
    binary = Path(__file__).resolve().parents[2] / "target" / "debug" / "nexus"
    if not binary.exists():
        raise RuntimeError(f"no nexus binary at {binary}: run `cargo build -p nexus-cli` or set NEXUS_BIN")
    return binary


def token(sub: str, *, audience: str = AUDIENCE, **claims: object) -> str:
    """An HS256 token for `sub` from the configured issuer, for `audience`."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    body = {"sub": sub, "iss": "https://idp.example.test", "aud": audience, "iat": now, "exp": now + 3600, **claims}
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(body).encode())
    signature = hmac.new(SECRET.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{b64(signature)}"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Nexus:
    """A running server: REST calls, MCP connections, and the data directory's path."""

    url: str
    admin_key: str
    directory: Path
    env: dict[str, str]

    def rest(self, method: str, route: str, credential: str | None, body: Any = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + route, data=data, method=method)
        if credential is not None:
            request.add_header("Authorization", f"Bearer {credential}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status, headers = response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw = error.read()
            status, headers = error.code, dict(error.headers)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Reply(status, {name.lower(): value for name, value in headers.items()}, parsed)

    def key(self, principal: str) -> str:
        created = self.rest("POST", "/api/keys", self.admin_key, {"principal": principal})
        assert created.status == 201, created.body
        return str(created.body["secret"])

    @asynccontextmanager
    async def http(self, credential: str, mode: str = "auto", **options: Any) -> AsyncIterator[Client]:
        """An MCP client over streamable HTTP at /mcp, presenting `credential`."""
        transport = streamable_http_client(
            self.url + "/mcp",
            http_client=httpx2.AsyncClient(headers={"Authorization": f"Bearer {credential}"}, timeout=30),
        )
        async with Client(transport, mode=mode, **options) as client:
            yield client

    @asynccontextmanager
    async def stdio(self, env: dict[str, str], args: list[str], mode: str = "auto") -> AsyncIterator[Client]:
        """An MCP client of `nexus mcp` over stdio."""
        parameters = StdioServerParameters(
            command=str(nexus_binary()),
            args=[*args, "mcp"],
            env={**self.env, **env},
        )
        async with Client(parameters, mode=mode) as client:
            yield client


def clean_env() -> dict[str, str]:
    env = {**os.environ, "JWT_SECRET": SECRET, "NEXUS_LOG": "warn"}
    for name in ("NEXUS_URL", "NEXUS_HOST", "NEXUS_API_KEY", "NEXUS_TOKEN", "NEXUS_ADMIN_KEY", "NEXUS_AS", "NEXUS_DATA_DIR"):
        env.pop(name, None)
    return env


def on_tier(config: str) -> str:
    """With `NEXUS_TEST_TIER=scale-out`, the server keeps its data on the scale-out tier
    (PostgreSQL in a schema of its own, S3 under a prefix of its own: the services of
    `scripts/services.sh`), unless the configuration chooses storage itself."""
    tier = os.environ.get("NEXUS_TEST_TIER", "embedded")
    if tier not in ("embedded", "scale-out"):
        raise RuntimeError(f"NEXUS_TEST_TIER is `embedded` or `scale-out`, not `{tier}`")
    if tier == "embedded" or "\nstorage:" in config:
        return config
    schema = f"mcp_{os.getpid()}_{time.time_ns()}"
    return (
        config.rstrip()
        + "\nstorage:\n  metadata: ${NEXUS_PG_URL}\n"
        + f"  blobs: ${{NEXUS_S3_URL}}/{schema}\n  schema: {schema}\n  migrate: true\n"
    )


def init(directory: Path, config: str, *, embedded: bool = False) -> str:
    """Provisions `config` in `directory` as `nexus init` does; the administrator's key.
    `embedded`: a data directory whatever the tier (for `--data-dir` commands)."""
    path = directory / "nexus.yaml"
    path.write_text(config if embedded else on_tier(config))
    done = subprocess.run(
        [str(nexus_binary()), "--json", "init", "--config", str(path)],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(done.stdout)["admin_key"]["secret"])


def serve(directory: Path, config: str) -> tuple[Nexus, subprocess.Popen[str]]:
    """Provisions `config` in `directory` and serves it on a free port."""
    admin_key = init(directory, config)
    process = subprocess.Popen(
        [str(nexus_binary()), "serve", "--port", "0", "--config", str(directory / "nexus.yaml")],
        env=clean_env(),
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
    return Nexus(f"http://{address}", admin_key, directory, clean_env()), process


@pytest.fixture
def nexus(tmp_path: Path) -> Iterator[Nexus]:
    running, process = serve(tmp_path, CONFIG)
    try:
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)
