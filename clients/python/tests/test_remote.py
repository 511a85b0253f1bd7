"""The remote client against the real server: every method, every error class."""

from __future__ import annotations

import json
import threading

import pytest

from nexus import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NexusError,
    NotFoundError,
    PermissionDeniedError,
    RemoteNexusClient,
    UnavailableError,
)

from conftest import Server, token


def test_the_seed_workflow(server: Server) -> None:
    admin = server.client(token_for="alice@acme.com")
    added = admin.orgs.add_member("acme", "bob@acme.com", role="member", workspaces=["sales"])
    assert added["success"] is True
    bob = server.client(token_for="bob@acme.com")
    context = bob.read_json("/orgs/acme/sales/context.json")
    assert context["workspace_id"] == "sales"
    bob.write("/orgs/acme/sales/documents/proposal.md", "# Q1 Sales Proposal...")
    assert bob.read_text("/orgs/acme/sales/documents/proposal.md") == "# Q1 Sales Proposal..."
    with pytest.raises((NotFoundError, PermissionDeniedError)):
        bob.read("/orgs/acme/engineering/context.json")
    john = server.client(token_for="john@techcorp.com")
    assert [entry.name for entry in john.ls("/orgs/")] == ["techcorp"]
    with pytest.raises(NotFoundError):
        john.orgs.list_members("acme")
    assert [m["user_id"] for m in admin.orgs.list_members("acme")] == ["alice@acme.com", "bob@acme.com"]
    admin.orgs.remove_member("acme", "bob@acme.com")
    with pytest.raises(NotFoundError):
        bob.read("/orgs/acme/sales/context.json")


def test_file_methods(server: Server) -> None:
    client = server.client()
    entry = client.write("/orgs/acme/sales/notes.md", "hello")
    assert (entry.path, entry.size, entry.version, entry.is_dir) == ("/orgs/acme/sales/notes.md", 5, 1, False)
    client.write("/orgs/acme/sales/data.bin", bytes(range(256)))
    assert client.read("/orgs/acme/sales/data.bin") == bytes(range(256))
    assert client.read("/orgs/acme/sales/data.bin", range="0-3") == bytes([0, 1, 2, 3])
    client.write("/orgs/acme/sales/session.json", {"session_id": "s1", "messages": []})
    assert client.read_json("/orgs/acme/sales/session.json") == {"session_id": "s1", "messages": []}
    client.write("/orgs/acme/sales/notes.md", "hello again")
    assert client.read_text("/orgs/acme/sales/notes.md", ) == "hello again"
    assert client.read("/orgs/acme/sales/notes.md", version=1) == b"hello"
    versions = client.versions("/orgs/acme/sales/notes.md")
    assert [v.version for v in versions] == [2, 1] and versions[0].current
    assert client.stat("/orgs/acme/sales/notes.md").size == 11
    assert client.exists("/orgs/acme/sales/notes.md")
    assert not client.exists("/orgs/acme/sales/nope.md")
    client.mkdir("/orgs/acme/sales/a/b", parents=True)
    client.mv("/orgs/acme/sales/notes.md", "/orgs/acme/sales/a/notes.md")
    client.cp("/orgs/acme/sales/a/notes.md", "/orgs/acme/sales/a/b/copy.md")
    listing = client.ls("/orgs/acme/sales/a")
    assert [(e.name, e.is_dir) for e in listing] == [("b", True), ("notes.md", False)]
    assert listing[1].size == 11 and listing[1].modified_at
    assert client.glob("/orgs/acme/**/*.md") == ["/orgs/acme/sales/a/b/copy.md", "/orgs/acme/sales/a/notes.md"]
    matches = client.grep("again", "/orgs/acme")
    assert sorted(m.path for m in matches) == ["/orgs/acme/sales/a/b/copy.md", "/orgs/acme/sales/a/notes.md"]
    assert client.rm("/orgs/acme/sales/a", recursive=True) == 4
    recursive = client.ls("/orgs/acme", recursive=True)
    assert "/orgs/acme/org.json" in [e.path for e in recursive]


def test_every_error_class(server: Server) -> None:
    admin = server.client()
    admin.orgs.add_member("acme", "bob@acme.com", workspaces=["sales"])
    bob = server.client(token_for="bob@acme.com")
    with pytest.raises(NotFoundError) as missing:
        bob.read("/orgs/acme/sales/missing.md")
    assert missing.value.code == "not_found" and missing.value.status == 404 and missing.value.request_id
    with pytest.raises(PermissionDeniedError):
        bob.write("/orgs/acme/at-the-root.md", "x")
    first = admin.write("/orgs/acme/sales/doc.md", "v1")
    admin.write("/orgs/acme/sales/doc.md", "v2", if_match=first.etag)
    with pytest.raises(ConflictError) as stale:
        admin.write("/orgs/acme/sales/doc.md", "v3", if_match=first.etag)
    assert stale.value.etag == admin.stat("/orgs/acme/sales/doc.md").etag
    with pytest.raises(ConflictError):
        admin.write("/orgs/acme/sales/doc.md", "again", if_none_match=True)
    with pytest.raises(InvalidInputError) as invalid:
        admin.write("/orgs/acme/sales/../x", "x")
    assert isinstance(invalid.value, ValueError)
    with pytest.raises(InvalidInputError):
        admin.orgs.add_member("acme", "bob@acme.com")
    with pytest.raises(AuthenticationError):
        server.client(api_key="nx_" + "0" * 64).whoami()
    with pytest.raises(AuthenticationError):
        RemoteNexusClient(url=server.url, token=token("nobody@x.org")).whoami()
    with pytest.raises(UnavailableError):
        RemoteNexusClient(url="http://127.0.0.1:9", api_key="nx_x").whoami()
    with pytest.raises(InvalidInputError):
        admin.write("/orgs/acme/sales/x", 3.5)  # type: ignore[arg-type]
    assert all(issubclass(kind, NexusError) for kind in (NotFoundError, ConflictError, InvalidInputError))


def test_acls_and_relationships(server: Server) -> None:
    admin = server.client(token_for="alice@acme.com")
    admin.orgs.add_member("acme", "bob@acme.com")
    acl = admin.setfacl("/orgs/acme/engineering", "user:bob@acme.com:r--")
    assert [(e.subject, e.mode) for e in acl.entries] == [("user:bob@acme.com", "r--")]
    assert admin.getfacl("/orgs/acme/engineering").entries == acl.entries
    # The seed's ReBAC example, with tenant_id naming the organization.
    revision = admin.rebac_create(
        subject=("user", "bob@acme.com"),
        relation="editor",
        object=("file", "/doc.txt"),
        tenant_id="org_acme",
    )
    assert revision.startswith("r1.") and admin.revision == revision
    assert admin.rebac_check(("user", "bob@acme.com"), "write", ("file", "/orgs/acme/doc.txt"))
    assert not admin.rebac_check("user:bob@acme.com", "write", "/orgs/acme/engineering/x")
    # The seed's cross-tenant rejection is a ValueError.
    with pytest.raises(ValueError):
        admin.rebac_create(
            subject=("user", "john@techcorp.com"),
            relation="editor",
            object=("file", "/doc.txt"),
            tenant_id="org_acme",
        )
    with pytest.raises(ValueError):
        admin.rebac_create(("user", "bob@acme.com"), "editor", ("file", "/orgs/techcorp/x"), tenant_id="org_acme")
    with pytest.raises(ValueError):
        admin.rebac_create(("user", "bob@acme.com"), "editor", ("file", "/orgs/acme/../techcorp/x"), tenant_id="org_acme")
    tree = admin.rebac_expand("write", "/orgs/acme/doc.txt")
    assert tree["kind"] in ("union", "intersection")
    # Looking up someone's resources is for themselves (or a system administrator).
    bob = server.client(token_for="bob@acme.com")
    assert "/orgs/acme/doc.txt" in bob.rebac_lookup_resources(("user", "bob@acme.com"), "write")
    with pytest.raises(PermissionDeniedError):
        admin.rebac_lookup_resources(("user", "bob@acme.com"), "write")
    assert any(s.startswith("user:u_") for s in admin.rebac_lookup_subjects("/orgs/acme/doc.txt", "write"))
    admin.rebac_delete(("user", "bob@acme.com"), "editor", ("file", "/doc.txt"), tenant_id="org_acme")
    assert not admin.rebac_check(("user", "bob@acme.com"), "write", "/orgs/acme/doc.txt")


def test_a_second_client_reads_with_the_first_ones_revision(server: Server) -> None:
    writer = server.client(token_for="alice@acme.com")
    writer.orgs.add_member("acme", "carol@acme.com")
    revision = writer.rebac_create(("user", "carol@acme.com"), "viewer", "/orgs/acme/engineering")
    reader = server.client(token_for="alice@acme.com")
    assert reader.rebac_check("user:carol@acme.com", "read", "/orgs/acme/engineering/x", at_least=revision)
    # A forged token, and one from another organization, are refused.
    with pytest.raises(InvalidInputError):
        reader.rebac_check("user:carol@acme.com", "read", "/orgs/acme/engineering/x", at_least=revision[:-2] + "xx")
    with pytest.raises(InvalidInputError):
        server.client(token_for="john@techcorp.com").rebac_check(
            "user:john@techcorp.com", "read", "/orgs/techcorp/product", at_least=revision
        )


def test_concurrent_if_match_updates_lose_nothing(server: Server) -> None:
    path = "/orgs/acme/sales/list.json"
    server.client().write(path, [])
    threads, per_thread = 8, 10

    def work(n: int) -> None:
        client = server.client(token_for="alice@acme.com")
        for i in range(per_thread):
            while True:
                current = client.stat(path).etag
                items = json.loads(client.read(path))
                items.append(f"{n}-{i}")
                try:
                    client.write(path, items, if_match=current)
                    break
                except ConflictError:
                    continue

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    final = server.client().read_json(path)
    assert sorted(final) == sorted(f"{n}-{i}" for n in range(threads) for i in range(per_thread))


def test_environment_and_host_port_configuration(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_URL", server.url)
    monkeypatch.setenv("NEXUS_API_KEY", server.admin_key)
    assert RemoteNexusClient().whoami()["kind"] == "system"
    monkeypatch.delenv("NEXUS_URL")
    with RemoteNexusClient(host=server.host, port=server.port, api_key=server.admin_key) as client:
        assert [org["org_id"] for org in client.orgs.mine()] == ["acme", "techcorp"]


def test_organizations_and_expiry_arguments(server: Server) -> None:
    from datetime import datetime, timedelta, timezone

    admin = server.client()
    created = admin.orgs.create("newco", "New Co", workspaces=["ops"])
    assert "created /orgs/newco/ops/" in created["changes"]
    assert sorted(org["org_id"] for org in admin.orgs.mine()) == ["acme", "newco", "techcorp"]
    alice = server.client(token_for="alice@acme.com")
    with pytest.raises(PermissionDeniedError):
        alice.orgs.create("rogue", "Rogue")
    alice.orgs.add_member("acme", "bob@acme.com")
    later = datetime.now(timezone.utc) + timedelta(days=1)
    # The default schema's roles do not expire: the server says so, as invalid input.
    with pytest.raises(InvalidInputError):
        alice.rebac_create(("user", "bob@acme.com"), "viewer", "/orgs/acme/sales", expires_at=later)
    with pytest.raises(InvalidInputError):
        alice.rebac_create(("user", "bob@acme.com"), "viewer", "/orgs/acme/sales", expires_at=datetime.now())
    assert alice.whoami()["handle"] == "alice@acme.com"
