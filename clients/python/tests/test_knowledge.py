"""The knowledge layer through the Python clients (sync and async) against the real server."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from nexus import (
    AsyncRemoteNexusClient,
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    KbNodeData,
    LockerData,
    NotFoundError,
    PermissionDeniedError,
    ReminderData,
    ScopeNotAllowedError,
    TrackItemData,
    UnavailableError,
)

from conftest import SEED_CONFIG, Server, start, token


def _members(server: Server) -> None:
    admin = server.client(token_for="alice@acme.com")
    for handle in ("bob@acme.com", "carol@acme.com", "mona@acme.com"):
        admin.orgs.add_member("acme", handle, role="member", workspaces=["sales"])


def test_items_sessions_sharing_and_managers(server: Server) -> None:
    _members(server)
    alice = server.client(token_for="alice@acme.com")
    bob = server.client(token_for="bob@acme.com")
    carol = server.client(token_for="carol@acme.com")
    mona = server.client(token_for="mona@acme.com")
    node: KbNodeData = {"title": "Deploys", "body": "blue green", "tags": ["ops"]}
    created = bob.create_item("acme", "kb", "node", node)
    assert created.key.startswith("kb:u_") and created.sharing_hint is None
    assert bob.get_item("acme", created.key).data["body"] == "blue green"
    with pytest.raises(NotFoundError):
        carol.get_item("acme", created.key)
    assert [item.key for item in bob.search_items("acme", "GREEN")] == [created.key]
    assert carol.search_items("acme", "green") == []
    # Updates need the current etag.
    updated = bob.update_item("acme", created.key, {"title": "Deploys v2"}, if_match=created.item.etag)
    assert updated.version == 2
    with pytest.raises(ConflictError):
        bob.update_item("acme", created.key, {"title": "stale"}, if_match=created.item.etag)
    # Direct sharing, explained.
    access = bob.share_item("acme", created.key, users=["carol@acme.com"])
    assert {reader.subject: reader.via for reader in access.readers}["user:carol@acme.com"] == ["shared"]
    assert carol.get_item("acme", created.key).data["title"] == "Deploys v2"
    bob.unshare_item("acme", created.key, users=["carol@acme.com"])
    with pytest.raises(NotFoundError):
        carol.get_item("acme", created.key)
    # A group session: its items are every member's; ending keeps them readable.
    session = bob.start_session("acme", "Phoenix Project Sprint", group=True, members=["carol@acme.com"])
    assert session.type == "group" and session.members[0] == session.owner
    project: TrackItemData = {"title": "Phoenix", "status": "in_progress"}
    shared = carol.create_item("acme", "track", "project", project, scope=session.stable_id)
    assert bob.get_item("acme", shared.key).data["status"] == "in_progress"
    hinted = carol.create_item("acme", "context", "note", {"text": "idea"}, session=session.stable_id)
    assert hinted.sharing_hint is not None and hinted.sharing_hint.session == session.stable_id
    assert [s.stable_id for s in carol.list_sessions("acme", active=True)] == [session.stable_id]
    assert carol.get_session("acme", session.stable_id).shared_items["track"] == [shared.key]
    ended = bob.end_session("acme", session.stable_id)
    assert ended.active is False
    assert carol.get_item("acme", shared.key).key == shared.key
    with pytest.raises(ConflictError):
        carol.create_item("acme", "kb", "node", {"title": "late"}, scope=session.stable_id)
    # The matrix: Temp has no universal scope; without a master key, lockers are unavailable.
    with pytest.raises(ScopeNotAllowedError) as refused:
        bob.create_item("acme", "temp", "draft", {"text": "x"}, scope="UNIV")
    assert refused.value.status == 422
    with pytest.raises(UnavailableError):
        bob.create_item("acme", "locker", "secret", {"name": "db", "secret": "x"})
    # Managers: only admins set them; then Track items are visible to the manager.
    with pytest.raises(PermissionDeniedError):
        mona.orgs.set_manager("acme", "bob@acme.com", "mona@acme.com")
    line = alice.orgs.set_manager("acme", "bob@acme.com", "mona@acme.com")
    assert line.manager is not None and alice.orgs.manager("acme", "mona@acme.com").subordinates == [line.user]
    task = bob.create_item("acme", "track", "task", {"title": "Draft"})
    assert mona.get_item("acme", task.key).data["title"] == "Draft"
    with pytest.raises(NotFoundError):
        mona.get_item("acme", created.key)
    assigned = mona.assign_item("acme", task.key, ["bob@acme.com"])
    assert assigned.data["assignees"] == [line.user]
    # Workflow: the organization's protocol overridden by bob's.
    alice.create_item("acme", "workflow", "protocol", {"name": "voice", "settings": {"tone": "neutral"}}, scope="UNIV")
    bob.create_item("acme", "workflow", "protocol", {"name": "voice", "settings": {"tone": "warm"}})
    (voice,) = bob.resolve_workflow("acme")
    assert voice.source == line.user and voice.data["settings"]["tone"] == "warm" and len(voice.overrides) == 1
    (theirs,) = carol.resolve_workflow("acme")
    assert theirs.source == "UNIV"
    bob.delete_item("acme", created.key)
    with pytest.raises(NotFoundError):
        bob.get_item("acme", created.key)


def test_the_async_client_has_the_same_knowledge_methods(server: Server) -> None:
    _members(server)

    async def scenario() -> None:
        async with AsyncRemoteNexusClient(url=server.url, token=token("bob@acme.com")) as bob:
            created = await bob.create_item("acme", "documents", "doc", {"title": "Plan", "format": "markdown"})
            listed = await bob.list_items("acme", env="documents")
            assert [item.key for item in listed] == [created.key]
            session = await bob.start_session("acme", "Solo work")
            assert session.type == "solo"
            access = await bob.item_access("acme", created.key)
            assert any(reader.via == ["owner"] for reader in access.readers)

    asyncio.run(scenario())


def test_session_reminders_reach_every_member_s_feed(server: Server) -> None:
    _members(server)
    alice = server.client(token_for="alice@acme.com")
    bob = server.client(token_for="bob@acme.com")
    session = alice.start_session("acme", "Launch", group=True, members=["bob@acme.com"])
    due = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    reminder: ReminderData = {"title": "Ship it", "due": due}
    alice.create_item("acme", "chrono", "reminder", reminder, scope=session.stable_id)
    deadline = time.monotonic() + 10
    while not any(note.kind == "reminder" for note in bob.notifications()):
        assert time.monotonic() < deadline, bob.notifications()
        time.sleep(0.1)
    added, fired = bob.notifications()
    assert added.kind == "session_added" and added.title.endswith('the session "Launch"')
    assert fired.title == "Ship it" and fired.org == "acme" and not fired.read
    bob.mark_notification_read(fired.id)
    assert [note.id for note in bob.notifications(unread=True)] == [added.id]
    with pytest.raises(NotFoundError):
        bob.mark_notification_read(99)
    assert [note.title for note in alice.notifications()] == ["Ship it"]

    # The change feed: bob sees the reminder (in the session he takes part in) by key.
    changes = bob.changes("acme")
    assert any(change.action == "created" and (change.key or "").startswith("chrono:") for change in changes)
    assert bob.changes("acme", after=changes[-1].revision) == []

    async def scenario() -> None:
        async with AsyncRemoteNexusClient(url=server.url, token=token("bob@acme.com")) as client:
            assert [note.id for note in await client.notifications()] == [added.id, fired.id]
            assert await client.changes("acme") == changes

    asyncio.run(scenario())


def test_the_system_administrator_locks_and_unlocks_accounts(server: Server) -> None:
    _members(server)
    system = server.client()
    bob = server.client(token_for="bob@acme.com")
    created = bob.create_item("acme", "context", "note", {"text": "mine"})
    locked = system.lock_user("bob@acme.com")
    assert locked["orgs"] == ["acme"] and locked["locked"] is True
    with pytest.raises(NotFoundError):
        bob.get_item("acme", created.key)
    with pytest.raises(PermissionDeniedError):
        server.client(token_for="alice@acme.com").unlock_user("bob@acme.com")
    system.unlock_user("bob@acme.com")
    assert bob.get_item("acme", created.key).data["text"] == "mine"


def test_a_user_delegates_to_an_agent(server: Server) -> None:
    _members(server)
    server.client(token_for="alice@acme.com").orgs.add_member("acme", "helper", role="assistant", workspaces=["sales"], type="agent")
    bob = server.client(token_for="bob@acme.com")
    created = bob.delegate("helper", expires_in="1h", description="laptop assistant")
    assert created["agent"].startswith("agent:a_") and created["user"].startswith("user:u_")
    agent = server.client(api_key=created["secret"])
    assert agent.whoami()["on_behalf_of"] == "user:bob@acme.com"
    # On bob's behalf: his personal items, as his.
    note = agent.create_item("acme", "context", "note", {"text": "for bob"})
    assert bob.get_item("acme", note.key).data["text"] == "for bob"
    assert [entry["id"] for entry in bob.delegations()] == [created["id"]]
    bob.revoke_delegation(created["id"])
    assert bob.delegations()[0]["revoked"] is True
    with pytest.raises(AuthenticationError):
        agent.whoami()


def test_the_system_administrator_exports_and_imports_an_organization(server: Server) -> None:
    _members(server)
    system = server.client()
    bob = server.client(token_for="bob@acme.com")
    created = bob.create_item("acme", "kb", "node", {"title": "kept"})
    archive = system.export_org("acme")
    assert archive[:4] == b"\x28\xb5\x2f\xfd", "a zstd frame"
    with pytest.raises(PermissionDeniedError):
        server.client(token_for="alice@acme.com").export_org("acme")
    with pytest.raises(ConflictError):
        system.import_org(archive)
    bob.delete_item("acme", created.key)
    report = system.import_org(archive, replace=True)
    assert report["replaced"] is True and report["org"] == "acme"
    assert bob.get_item("acme", created.key).data["title"] == "kept"
    with pytest.raises(InvalidInputError):
        system.import_org(archive[: len(archive) // 2], replace=True)


def test_locker_secrets_reach_their_owner_only(tmp_path: Path) -> None:
    (tmp_path / "locker.key").write_text(base64.b64encode(os.urandom(32)).decode())
    server, process = start(tmp_path, SEED_CONFIG + "locker:\n  key_file: locker.key\n")
    try:
        _members(server)
        alice = server.client(token_for="alice@acme.com")
        bob = server.client(token_for="bob@acme.com")
        secret: LockerData = {"name": "prod db", "secret": "hunter2-canary", "username": "svc"}
        created = bob.create_item("acme", "locker", "cred", secret)
        assert bob.get_item("acme", created.key).data["secret"] == "hunter2-canary"
        with pytest.raises(NotFoundError):
            alice.get_item("acme", created.key)
        (listed,) = bob.list_items("acme", env="locker")
        assert listed.data == {"name": "prod db", "username": "svc"}
        assert bob.search_items("acme", "hunter2") == []
        assert b"hunter2-canary" not in bob.read(created.item.path)
        # The system administrator's read is in the organization's audit log, which its
        # admin reads; the secret is in no entry.
        system = server.client()
        assert system.get_item("acme", created.key).data["secret"] == "hunter2-canary"
        log = alice.audit(org="acme")
        (read,) = [entry for entry in log if entry.action == "locker_read"]
        assert read.actor == "system" and read.target == created.key
        assert any(entry.action == "items_create" and entry.actor == "user:bob@acme.com" for entry in log)
        assert "hunter2-canary" not in repr(log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_search_answers_from_what_each_caller_may_read(server: Server) -> None:
    _members(server)
    admin = server.client(token_for="alice@acme.com")
    bob = server.client(token_for="bob@acme.com")
    admin.mkdir("/orgs/acme/eng", parents=True)
    admin.write("/orgs/acme/eng/roadmap.md", "The quokka migration ships in spring")
    bob.write("/orgs/acme/sales/pitch.md", "Quokka pricing for the spring launch")
    note = bob.create_item("acme", "kb", "node", {"title": "Quokka facts", "body": "they smile"})
    # Each finds what they may read, exactly: the admin what `get_item` and `read` let her
    # read (Bob's personal note included), Bob not eng.
    everything = admin.search("acme", "quokka", consistent=True)
    assert admin.get_item("acme", note.key).key == note.key
    assert {hit.path for hit in everything.hits} == {
        "/orgs/acme/eng/roadmap.md", "/orgs/acme/sales/pitch.md", note.item.path}
    assert everything.total == 3 and everything.mode == "keyword"
    mine = bob.search("acme", "quokka", consistent=True)
    assert {hit.path for hit in mine.hits} == {"/orgs/acme/sales/pitch.md", note.item.path}
    assert mine.total == 2
    assert [hit.key for hit in mine.hits if hit.key] == [note.key]
    assert all(hit.why is None for hit in mine.hits)
    # Facets count the knowledge items among what bob may read: his one note.
    assert mine.facets == {"env": {"kb": 1}, "kind": {note.item.kind: 1}, "scope": {note.item.scope: 1}}
    # Why bob may read each hit: the relationship path from the document to him.
    explained = bob.search("acme", "quokka", explain=True)
    for hit in explained.hits:
        assert hit.why and hit.why[0] == f"file:{hit.path}"
        assert hit.why[-1].endswith("user:bob@acme.com"), hit.why
    # Phrases, filters, pages.
    assert bob.search("acme", '"spring launch"', consistent=True).total == 1
    items_only = bob.search("acme", "quokka", env="kb", consistent=True)
    assert [hit.key for hit in items_only.hits] == [note.key]
    first = bob.search("acme", "quokka", limit=1)
    assert len(first.hits) == 1 and first.next_cursor
    second = bob.search("acme", "quokka", limit=1, cursor=first.next_cursor)
    assert {first.hits[0].path, second.hits[0].path} == {hit.path for hit in mine.hits}
    # Hybrid without an embedder answers by keyword and says so.
    hybrid = bob.search("acme", "quokka", mode="hybrid")
    assert hybrid.mode == "keyword" and hybrid.notice and "embedder" in hybrid.notice
    with pytest.raises(InvalidInputError):
        bob.search("acme", '"unclosed')
