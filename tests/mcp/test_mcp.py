"""The MCP server driven by the official MCP Python SDK: over streamable HTTP at `/mcp` (with
an agent's API key, a user's JWT and a delegation) and over stdio (`nexus mcp`), in the
current protocol revision and the previous one."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from conftest import AUDIENCE, CONFIG, Nexus, clean_env, init, nexus_binary, run, token

TOOLS = {
    "whoami", "read_file", "write_file", "edit_file", "list", "glob", "grep", "stat", "mkdir",
    "move", "delete", "versions", "restore", "create_item", "get_item", "update_item",
    "delete_item", "list_items", "search", "start_session", "join_session",
    "add_session_member", "list_sessions", "end_session", "share", "unshare",
    "explain_access", "create_reminder", "notifications", "resolve_workflow",
}


async def ok(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """Calls `tool`; its structured result, failing the test on a tool error."""
    result = await client.call_tool(tool, arguments or {})
    assert not result.is_error, f"{tool}: {result.content}"
    assert isinstance(result.structured_content, dict), tool
    return result.structured_content


async def refused(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Calls `tool` expecting a tool error (never a protocol failure); the API's error."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} was not refused: {result.structured_content}"
    assert result.structured_content is not None
    error = result.structured_content["error"]
    assert isinstance(error, dict)
    return error


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_tools_are_listed_with_schemas_and_truthful_annotations(nexus: Nexus, mode: str) -> None:
    async def check() -> None:
        async with nexus.http(nexus.key("agent:helper"), mode=mode) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert TOOLS <= set(tools), TOOLS - set(tools)
            read = tools["read_file"]
            assert read.input_schema["required"] == ["path"]
            assert read.annotations is not None and read.annotations.read_only_hint is True
            delete = tools["delete"]
            assert delete.annotations is not None
            assert delete.annotations.read_only_hint is False
            assert delete.annotations.destructive_hint is True
            for tool in tools.values():
                assert tool.description, tool.name
                assert tool.annotations is not None and tool.annotations.open_world_hint is False
            whoami = await ok(client, "whoami")
            assert whoami["kind"] == "agent" and whoami["handle"] == "helper"

    run(check())


def test_every_file_tool_through_http(nexus: Nexus) -> None:
    async def check() -> None:
        async with nexus.http(nexus.key("agent:helper")) as client:
            written = await ok(client, "write_file", {"path": "/orgs/acme/sales/notes.md", "content": "hello world\n"})
            assert written["version"] == 1 and written["author"] == "agent:helper"
            read = await ok(client, "read_file", {"path": "/orgs/acme/sales/notes.md"})
            assert read["content"] == "hello world\n" and read["etag"] == written["etag"]
            # A stale etag is refused; the current one writes.
            stale = await refused(
                client, "write_file", {"path": "/orgs/acme/sales/notes.md", "content": "x", "if_match": "v0-0"}
            )
            assert stale["code"] == "precondition_failed"
            edited = await ok(client, "edit_file", {"path": "/orgs/acme/sales/notes.md", "old": "world", "new": "there"})
            assert edited["replacements"] == 1 and edited["version"] == 2
            missing = await refused(client, "edit_file", {"path": "/orgs/acme/sales/notes.md", "old": "absent", "new": "x"})
            assert missing["code"] == "invalid_input"
            stat = await ok(client, "stat", {"path": "/orgs/acme/sales/notes.md"})
            assert stat["size"] == len("hello there\n")
            listed = await ok(client, "list", {"path": "/orgs/acme/sales"})
            assert "notes.md" in [entry["name"] for entry in listed["entries"]]
            globbed = await ok(client, "glob", {"pattern": "/orgs/acme/sales/**/*.md"})
            assert "/orgs/acme/sales/notes.md" in json.dumps(globbed)
            grepped = await ok(client, "grep", {"pattern": "there", "path": "/orgs/acme/sales"})
            assert "/orgs/acme/sales/notes.md" in json.dumps(grepped)
            made = await ok(client, "mkdir", {"path": "/orgs/acme/sales/archive/2026"})
            assert made["kind"] == "directory"
            moved = await ok(client, "move", {"from": "/orgs/acme/sales/notes.md", "to": "/orgs/acme/sales/archive/notes.md"})
            assert moved["path"] == "/orgs/acme/sales/archive/notes.md"
            versions = await ok(client, "versions", {"path": "/orgs/acme/sales/archive/notes.md"})
            assert len(versions["versions"]) >= 2
            restored = await ok(client, "restore", {"path": "/orgs/acme/sales/archive/notes.md", "version": 1})
            assert restored["size"] == len("hello world\n")
            binary = await ok(
                client, "write_file", {"path": "/orgs/acme/sales/logo.bin", "content": "AAEC/w==", "encoding": "base64"}
            )
            assert binary["size"] == 4
            as_link = await client.call_tool("read_file", {"path": "/orgs/acme/sales/logo.bin"})
            assert not as_link.is_error
            assert as_link.content[0].type == "resource_link"
            assert as_link.content[0].uri == "nexus://orgs/acme/sales/logo.bin"
            resource = await client.read_resource("nexus://orgs/acme/sales/logo.bin")
            assert getattr(resource.contents[0], "blob", None) == "AAEC/w=="
            deleted = await ok(client, "delete", {"path": "/orgs/acme/sales/archive", "recursive": True})
            assert deleted["removed"] >= 2
            gone = await refused(client, "read_file", {"path": "/orgs/acme/sales/archive/notes.md"})
            assert gone["code"] == "not_found"

    run(check())


def test_an_agent_is_confined_to_its_workspace(nexus: Nexus) -> None:
    """Refused elsewhere; hidden paths are not found whether or not they exist."""
    bob = nexus.key("user:bob@acme.com")
    assert nexus.rest("PUT", "/api/fs/orgs/acme/eng/design.md", bob, "x").status == 201

    async def check() -> None:
        async with nexus.http(nexus.key("agent:helper")) as client:
            existing = await refused(client, "read_file", {"path": "/orgs/acme/eng/design.md"})
            absent = await refused(client, "read_file", {"path": "/orgs/acme/eng/nothing.md"})
            assert existing["code"] == absent["code"] == "not_found"
            assert existing["message"].replace("design", "X") == absent["message"].replace("nothing", "X")
            other_tenant = await refused(client, "read_file", {"path": "/orgs/techcorp/product/x.md"})
            assert other_tenant["code"] == "not_found"
            write = await refused(client, "write_file", {"path": "/orgs/acme/eng/new.md", "content": "x"})
            assert write["code"] == "not_found"
            listed = await ok(client, "list", {"path": "/orgs/acme"})
            assert [entry["name"] for entry in listed["entries"]] == ["sales"]
            found = await ok(client, "grep", {"pattern": "x", "path": "/orgs/acme"})
            assert "eng" not in json.dumps(found)

    run(check())


def test_knowledge_sessions_and_the_seeds_sharing_behaviour(nexus: Nexus) -> None:
    """Personal by default; the group-session hint and its one-call acceptance; "share
    with X"; "for everyone"; refusals outside the matrix; resolved workflow."""
    alice = token("alice@acme.com")
    carol_rest = token("carol@acme.com")
    nexus.rest(
        "POST", "/api/orgs/acme/items", alice,
        {"env": "workflow", "scope": "UNIV", "kind": "protocol", "id": "review",
         "data": {"name": "review", "steps": ["read", "comment"]}},
    )

    async def check() -> None:
        async with nexus.http(token("bob@acme.com")) as client:
            me = await ok(client, "whoami")
            created = await ok(client, "create_item", {"env": "kb", "kind": "node", "data": {"title": "Phoenix", "body": "launch plan"}})
            key = created["key"]
            assert key.startswith(f"kb:{me['id']}:") and created["sharing_hint"] is None
            # Personal: carol cannot see it.
            assert nexus.rest("GET", f"/api/orgs/acme/items/{key}", carol_rest).status == 404
            got = await ok(client, "get_item", {"key": key})
            updated = await ok(client, "update_item", {"key": key, "data": {"title": "Phoenix", "body": "v2"}, "if_match": got["etag"]})
            assert updated["data"]["body"] == "v2"
            stale = await refused(client, "update_item", {"key": key, "data": {"title": "x"}, "if_match": got["etag"]})
            assert stale["code"] == "precondition_failed"
            found = await ok(client, "search", {"query": "phoenix"})
            assert key in [hit.get("key") for hit in found["hits"]] and found["total"] >= 1
            listed = await ok(client, "list_items", {"env": "kb"})
            assert key in [item["key"] for item in listed["items"]]

            # "Share this with Carol": a direct share, visible to her through the REST API.
            access = await ok(client, "share", {"key": key, "users": ["carol@acme.com"]})
            assert "carol@acme.com" in json.dumps(access)
            assert nexus.rest("GET", f"/api/orgs/acme/items/{key}", carol_rest).status == 200
            explained = await ok(client, "explain_access", {"key": key})
            assert "carol@acme.com" in json.dumps(explained)
            await ok(client, "unshare", {"key": key, "users": ["carol@acme.com"]})
            assert nexus.rest("GET", f"/api/orgs/acme/items/{key}", carol_rest).status == 404
            # "This is for everyone": universal, readable by every member.
            await ok(client, "share", {"key": key, "universal": True})
            assert nexus.rest("GET", f"/api/orgs/acme/items/{key}", carol_rest).status == 200
            # Outside the matrix: Temp has no universal scope.
            temp = await refused(client, "create_item", {"env": "temp", "scope": "UNIV", "kind": "note", "data": {"text": "x"}})
            assert temp["code"] == "scope_not_allowed"

            # "Let's work on this together": a group session; new items offer to be shared.
            session = await ok(client, "start_session", {"title": "Phoenix sprint", "type": "group", "members": ["carol@acme.com"]})
            sid = session["stable_id"]
            assert session["type"] == "group" and len(session["members"]) == 2
            note = await ok(client, "create_item", {"env": "context", "kind": "note", "data": {"title": "idea", "text": "ship it"}})
            hint = note["sharing_hint"]
            assert hint is not None and hint["session"] == sid
            assert hint["accept"]["tool"] == "share"
            assert nexus.rest("GET", f"/api/orgs/acme/items/{note['key']}", carol_rest).status == 404
            await ok(client, hint["accept"]["tool"], hint["accept"]["arguments"])
            assert nexus.rest("GET", f"/api/orgs/acme/items/{note['key']}", carol_rest).status == 200
            # Sharing with the current session names it the same way.
            second = await ok(client, "create_item", {"env": "context", "kind": "note", "data": {"title": "two", "text": "x"}})
            await ok(client, "share", {"key": second["key"], "session": "current"})
            assert nexus.rest("GET", f"/api/orgs/acme/items/{second['key']}", carol_rest).status == 200
            sessions = await ok(client, "list_sessions")
            assert sid in [entry["stable_id"] for entry in sessions["sessions"]]
            # Carol joins it: her new items offer to be shared with it too.
            async with nexus.http(carol_rest) as carol:
                joined = await ok(carol, "join_session", {"session": sid})
                assert joined["stable_id"] == sid
                assert (await ok(carol, "whoami"))["working_session"]["session"] == sid
                hers = await ok(carol, "create_item", {"env": "context", "kind": "note", "data": {"text": "carol's"}})
                assert hers["sharing_hint"]["session"] == sid
            added = await ok(client, "add_session_member", {"session": sid, "user": "alice@acme.com"})
            assert len(added["members"]) == 3
            reminder = await ok(client, "create_reminder", {"title": "demo", "due": "2030-01-01T09:00:00+00:00", "session": "current"})
            assert reminder["key"].startswith("chrono:")
            reminders = await ok(client, "list_reminders")
            assert reminder["key"] in [item["key"] for item in reminders["items"]]
            feed = await ok(client, "notifications")
            assert "notifications" in feed
            ended = await ok(client, "end_session", {"session": sid})
            assert ended["active"] is False
            rejoin = await refused(client, "join_session", {"session": sid})
            assert rejoin["code"] == "conflict"
            await ok(client, "delete_item", {"key": key})
            assert (await refused(client, "get_item", {"key": key}))["code"] == "not_found"

            # Workflow protocols resolve universal, then personal.
            await ok(client, "create_item", {"env": "workflow", "kind": "protocol", "id": "review",
                                             "data": {"name": "review", "steps": ["mine"]}})
            resolved = await ok(client, "resolve_workflow")
            review = [p for p in resolved["protocols"] if p["name"] == "review"]
            assert len(review) == 1 and review[0]["source"] == me["id"]

        async with nexus.http(token("carol@acme.com")) as carol:
            joined_list = await ok(carol, "list_sessions", {"active": False})
            assert sid in [entry["stable_id"] for entry in joined_list["sessions"]]

    run(check())


def test_resources_and_the_start_prompt(nexus: Nexus) -> None:
    async def check() -> None:
        async with nexus.http(token("bob@acme.com")) as client:
            await ok(client, "write_file", {"path": "/orgs/acme/sales/brief.md", "content": "# Brief"})
            uris = [str(resource.uri) for resource in (await client.list_resources()).resources]
            assert "nexus://workflow/acme" in uris and "nexus://sessions/acme" in uris
            templates = (await client.list_resource_templates()).resource_templates
            assert templates[0].uri_template == "nexus://orgs/{org}/{+path}"
            brief = await client.read_resource("nexus://orgs/acme/sales/brief.md")
            assert getattr(brief.contents[0], "text", None) == "# Brief"
            workflow = await client.read_resource("nexus://workflow/acme")
            assert "protocols" in json.loads(getattr(workflow.contents[0], "text", "{}"))
            prompts = (await client.list_prompts()).prompts
            assert [prompt.name for prompt in prompts] == ["start"]
            prompt = await client.get_prompt("start")
            assert "workflow protocols" in prompt.messages[0].content.text  # type: ignore[union-attr]

    run(check())


def test_acting_on_behalf_of_a_user(nexus: Nexus) -> None:
    """The intersection: not what the user cannot (hr is not bob's... eng is not the
    agent's), not what the agent cannot; the user's personal items are reached; the audit
    names both; the user's lockout ends it on the next call."""
    bob = token("bob@acme.com")
    admin = nexus.admin_key
    assert nexus.rest("PUT", "/api/fs/orgs/acme/eng/design.md", admin, "eng").status == 201
    alice_note = nexus.rest(
        "POST", "/api/orgs/acme/items", token("alice@acme.com"),
        {"env": "context", "scope": "personal", "kind": "note", "data": {"title": "alice", "text": "x"}},
    ).body["key"]
    delegation = nexus.rest("POST", "/api/delegations", bob, {"agent": "helper", "expires_in": "1h"})
    assert delegation.status == 201, delegation.body
    secret = delegation.body["secret"]

    async def check() -> None:
        async with nexus.http(secret) as client:
            me = await ok(client, "whoami")
            assert me["kind"] == "agent" and me["on_behalf_of"] == "user:bob@acme.com"
            # Bob may read eng, the agent may not: refused.
            assert (await refused(client, "read_file", {"path": "/orgs/acme/eng/design.md"}))["code"] == "not_found"
            # Both may work in sales.
            await ok(client, "write_file", {"path": "/orgs/acme/sales/for-bob.md", "content": "x"})
            # Bob's personal knowledge, as his.
            note = await ok(client, "create_item", {"env": "context", "kind": "note", "data": {"title": "todo", "text": "x"}})
            assert nexus.rest("GET", f"/api/orgs/acme/items/{note['key']}", bob).status == 200
            # Nobody else's personal items.
            assert (await refused(client, "get_item", {"key": alice_note}))["code"] == "not_found"

    run(check())
    # MCP calls are recorded behind them, within moments.
    wanted = {("mcp_write_file", "user:bob@acme.com"), ("files_write", "user:bob@acme.com"),
              ("mcp_read_file", "user:bob@acme.com")}
    for _ in range(50):
        audit = nexus.rest("GET", "/api/audit?org=acme&actor=agent:helper", admin).body
        actions = {(entry["action"], entry.get("on_behalf_of")) for entry in audit["entries"]}
        if wanted <= actions:
            break
        time.sleep(0.1)
    assert wanted <= actions, actions

    # Bob is locked out: the agent's delegated access ends with the next call.
    assert nexus.rest("POST", "/api/admin/users/bob@acme.com/lockout", admin).status == 200
    assert nexus.rest("POST", "/mcp", secret, {}).status == 401

    async def after_lockout() -> None:
        async with nexus.http(secret) as client:
            await client.list_tools()

    with pytest.raises(Exception):
        run(after_lockout())


def test_the_resource_server_challenge_metadata_audience_and_origin(nexus: Nexus) -> None:
    metadata = nexus.rest("GET", "/.well-known/oauth-protected-resource/mcp", None)
    assert metadata.status == 200
    assert metadata.body["resource"] == nexus.url + "/mcp"
    assert metadata.body["authorization_servers"] == []  # no external authorization server configured
    assert metadata.body["bearer_methods_supported"] == ["header"]
    assert nexus.rest("GET", "/.well-known/oauth-protected-resource", None).body == metadata.body

    anonymous = nexus.rest("POST", "/mcp", None, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert anonymous.status == 401
    challenge = anonymous.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{nexus.url}/.well-known/oauth-protected-resource/mcp"' in challenge

    wrong_audience = nexus.rest("POST", "/mcp", token("bob@acme.com", audience="https://another.example"), {})
    assert wrong_audience.status == 401
    assert 'error="invalid_token"' in wrong_audience.headers["www-authenticate"]
    assert "audience" in wrong_audience.body["error"]["message"]

    # A browser page of another origin is refused, even with valid credentials.
    request = urllib.request.Request(
        nexus.url + "/mcp",
        data=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
        method="POST",
        headers={
            "Authorization": f"Bearer {token('bob@acme.com')}",
            "Origin": "https://evil.example",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused_origin:
        urllib.request.urlopen(request, timeout=10)
    assert refused_origin.value.code == 403

    # An MCP session (2025-11-25) answers only to the principal that opened it.
    opened = urllib.request.Request(
        nexus.url + "/mcp",
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token('bob@acme.com')}", "Content-Type": "application/json",
                 "Accept": "application/json, text/event-stream"},
    )
    with urllib.request.urlopen(opened, timeout=10) as response:
        session = response.headers["Mcp-Session-Id"]
    assert session
    for who, allowed in [("carol@acme.com", False), ("bob@acme.com", True)]:
        probe = urllib.request.Request(
            nexus.url + "/mcp",
            data=b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
            method="POST",
            headers={"Authorization": f"Bearer {token(who)}", "Content-Type": "application/json",
                     "Accept": "application/json, text/event-stream", "Mcp-Session-Id": session,
                     "MCP-Protocol-Version": "2025-11-25"},
        )
        try:
            with urllib.request.urlopen(probe, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        assert (status < 300) == allowed, (who, status)

    async def with_jwt() -> None:
        async with nexus.http(token("bob@acme.com")) as client:
            assert (await ok(client, "whoami"))["handle"] == "bob@acme.com"

    run(with_jwt())


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_stdio_against_a_server_and_on_a_data_directory(nexus: Nexus, tmp_path: Path, mode: str) -> None:
    agent_key = nexus.key("agent:helper")

    async def remote() -> None:
        async with nexus.stdio({"NEXUS_URL": nexus.url, "NEXUS_API_KEY": agent_key}, [], mode=mode) as client:
            assert TOOLS <= {tool.name for tool in (await client.list_tools()).tools}
            assert (await ok(client, "whoami"))["handle"] == "helper"
            await ok(client, "write_file", {"path": "/orgs/acme/sales/from-stdio.md", "content": "x"})
            assert (await refused(client, "read_file", {"path": "/orgs/acme/eng/x"}))["code"] == "not_found"

    run(remote())
    assert nexus.rest("GET", "/api/fs/orgs/acme/sales/from-stdio.md", nexus.admin_key).status == 200

    # A data directory of its own (the server holds the other one), acting as `--as`.
    local = tmp_path / "local"
    local.mkdir()
    init(local, CONFIG, embedded=True)
    data = str(local / "data")

    async def on_data_dir() -> None:
        async with nexus.stdio({"NEXUS_AS": "agent:helper"}, ["--data-dir", data], mode=mode) as client:
            assert (await ok(client, "whoami"))["handle"] == "helper"
            await ok(client, "write_file", {"path": "/orgs/acme/sales/local.md", "content": "x"})
            assert (await refused(client, "read_file", {"path": "/orgs/acme/eng/x.md"}))["code"] == "not_found"

    run(on_data_dir())
    audit = subprocess.run(
        [str(nexus_binary()), "--data-dir", data, "--json", "audit", "ls", "--org", "acme"],
        env=clean_env(), capture_output=True, text=True, check=True,
    )
    assert "mcp_write_file" in audit.stdout

    # Without a principal it refuses to start rather than act as the operator.
    refused_start = subprocess.run(
        [str(nexus_binary()), "--data-dir", data, "mcp"],
        env=clean_env(), capture_output=True, text=True, input="", timeout=30,
    )
    assert refused_start.returncode != 0
    assert "--as" in refused_start.stderr


def test_a_user_token_for_another_audience_is_refused_on_stdio_too(nexus: Nexus) -> None:
    """The stdio server acts as the credentials it is given: a token for another audience
    is refused by the server on the first call, as a tool error."""

    async def check() -> None:
        env = {"NEXUS_URL": nexus.url, "NEXUS_TOKEN": token("bob@acme.com", audience="elsewhere")}
        async with nexus.stdio(env, []) as client:
            error = await refused(client, "whoami", {})
            assert error["code"] == "unauthenticated"

    run(check())
    assert AUDIENCE != "elsewhere"


@pytest.mark.filterwarnings("ignore:resources/")
def test_subscriptions_announce_only_changes_the_caller_may_read(nexus: Nexus) -> None:
    """`subscriptions/listen` (2026-07-28) and `resources/subscribe` (earlier revisions),
    both fed by the permission-filtered change feed."""
    bob = nexus.key("user:bob@acme.com")
    watched = "nexus://orgs/acme/sales/watched.md"
    hidden = "nexus://orgs/acme/eng/secret.md"

    def write(path: str, text: str) -> None:
        assert nexus.rest("PUT", f"/api/fs{path}", bob, text).status in (200, 201)

    async def modern() -> None:
        import anyio

        async with nexus.http(nexus.key("agent:helper")) as client:
            async with client.listen(resource_subscriptions=[watched, hidden, "nexus://workflow/acme"]) as sub:
                assert set(sub.honored.resource_subscriptions or []) == {watched, hidden}
                await anyio.sleep(1.5)
                write("/orgs/acme/eng/secret.md", "eng only")
                write("/orgs/acme/sales/watched.md", "v1")
                with anyio.fail_after(15):
                    event = await sub.__anext__()
                assert getattr(event, "uri", None) == watched, event

    run(modern())

    async def legacy() -> None:
        import anyio

        seen: list[str] = []

        async def handler(message: Any) -> None:
            seen.append(repr(message))

        async with nexus.http(nexus.key("agent:helper"), mode="legacy", message_handler=handler) as client:
            await client.session.subscribe_resource(watched)
            missing = None
            try:
                await client.session.subscribe_resource(hidden)
            except Exception as error:  # the caller may not see it: not found
                missing = error
            assert missing is not None
            await anyio.sleep(1.5)
            write("/orgs/acme/sales/watched.md", "v2")
            with anyio.fail_after(15):
                while not any(watched in entry for entry in seen):
                    await anyio.sleep(0.1)
            await client.session.unsubscribe_resource(watched)

    run(legacy())
