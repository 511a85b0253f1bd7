"""The examples (the seed's snippets, adapted where the seed is unsafe) run as tests."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from nexus import NotFoundError, RemoteNexusClient

from conftest import Server

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def api_key_for(server: Server, principal: str) -> str:
    response = httpx.post(
        f"{server.url}/api/keys",
        json={"principal": principal},
        headers={"authorization": f"Bearer {server.admin_key}"},
    )
    response.raise_for_status()
    return str(response.json()["secret"])


def test_member_and_agent_examples(server: Server) -> None:
    alice = server.client(token_for="alice@acme.com")
    added = example("add_user_to_org").add_user_to_org(
        alice, user_email="charlie@acme.com", org_id="acme", role="member", workspaces=["sales"]
    )
    assert added == {"success": True, "user": "charlie@acme.com", "org": "acme"}
    example("add_user_to_org").add_user_to_org(alice, "dana@acme.com", "acme", role="admin")
    dana = server.client(token_for="dana@acme.com")
    assert dana.read_json("/orgs/acme/engineering/context.json")["workspace_id"] == "engineering"

    charlie = server.client(token_for="charlie@acme.com")
    seen = example("user_access").user_access(charlie)
    assert seen["orgs"] == ["acme"] and seen["context"]["workspace_id"] == "sales"
    assert charlie.read_text("/orgs/acme/sales/documents/proposal.md") == "# Q1 Sales Proposal..."

    alice.orgs.add_member("acme", "sales_bot_001", role="assistant", workspaces=["sales"], type="agent")
    alice.write(
        "/orgs/acme/sales/agents.json",
        {"agents": [{"agent_id": "sales_bot_001", "agent_type": "claude-sonnet-4.5", "config": {"temperature": 0.7}}]},
    )
    bot = server.client(api_key=api_key_for(server, "agent:sales_bot_001"))
    result = example("agent_access").agent_access(bot, "sales_bot_001")
    assert result["config"]["agent_type"] == "claude-sonnet-4.5"
    assert bot.read_json("/orgs/acme/sales/conversations/session_123.json")["agent_id"] == "sales_bot_001"

    example("remove_user_from_org").remove_user_from_org(alice, "charlie@acme.com", "acme")
    with pytest.raises(NotFoundError):
        charlie.read("/orgs/acme/sales/context.json")
    assert "charlie@acme.com" not in alice.read_text("/orgs/acme/org.json")


def test_examples_run_as_scripts(server: Server) -> None:
    env = {**os.environ, "NEXUS_URL": server.url, "NEXUS_API_KEY": server.admin_key}
    env.pop("NEXUS_TOKEN", None)
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "add_user_to_org.py"), "erin@acme.com", "acme", "sales"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "'success': True" in run.stdout
    members = [m["user_id"] for m in RemoteNexusClient(url=server.url, api_key=server.admin_key).orgs.list_members("acme")]
    assert "erin@acme.com" in members
