"""The asynchronous client: the same surface, awaited."""

from __future__ import annotations

import asyncio

import pytest

from nexus import AsyncRemoteNexusClient, ConflictError, NotFoundError

from conftest import Server, token


def test_the_async_client_has_the_same_surface(server: Server) -> None:
    async def scenario() -> None:
        async with AsyncRemoteNexusClient(url=server.url, token=token("alice@acme.com")) as alice:
            await alice.orgs.add_member("acme", "bob@acme.com", workspaces=["sales"])
            assert [m["user_id"] for m in await alice.orgs.list_members("acme")] == [
                "alice@acme.com",
                "bob@acme.com",
            ]
            entry = await alice.write("/orgs/acme/sales/a.json", {"n": 1})
            with pytest.raises(ConflictError):
                await alice.write("/orgs/acme/sales/a.json", {"n": 2}, if_none_match=True)
            await alice.write("/orgs/acme/sales/a.json", {"n": 2}, if_match=entry.etag)
            assert (await alice.read_json("/orgs/acme/sales/a.json")) == {"n": 2}
            assert [e.name for e in await alice.ls("/orgs/acme/sales")] == [
                "a.json",
                "context.json",
                "conversations",
                "documents",
            ]
            await alice.setfacl("/orgs/acme/engineering", "user:bob@acme.com:r--")
            assert await alice.rebac_check("user:bob@acme.com", "read", "/orgs/acme/engineering/context.json")
        async with AsyncRemoteNexusClient(url=server.url, token=token("bob@acme.com")) as bob:
            # Concurrent calls on one client.
            results = await asyncio.gather(
                bob.read_text("/orgs/acme/sales/a.json"),
                bob.read_json("/orgs/acme/engineering/context.json"),
                bob.exists("/orgs/acme/sales/nope"),
            )
            assert results[1]["workspace_id"] == "engineering" and results[2] is False
            with pytest.raises(NotFoundError):
                await bob.read("/orgs/techcorp/product/context.json")

    asyncio.run(scenario())


def test_the_generated_clients_are_up_to_date() -> None:
    import subprocess
    import sys
    from pathlib import Path

    generator = Path(__file__).resolve().parents[1] / "tools" / "generate.py"
    result = subprocess.run([sys.executable, str(generator), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
