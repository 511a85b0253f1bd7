"""`NexusClient(data_dir=...)`: in-process, the same surface and the same results as the
remote client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nexus import ConflictError, InvalidInputError, NexusClient, NotFoundError, RemoteNexusClient

from conftest import SEED_CONFIG, Server
from test_examples import example


def script(client: RemoteNexusClient) -> list[Any]:
    """One script, run on both clients; returns what it observed (without times and ids)."""
    seen: list[Any] = []
    client.mkdir("/orgs/acme/sales/notes", parents=True)
    entry = client.write("/orgs/acme/sales/notes/a.md", "first")
    seen.append((entry.path, entry.size, entry.version))
    client.write("/orgs/acme/sales/notes/a.md", "second", if_match=entry.etag)
    with pytest.raises(ConflictError):
        client.write("/orgs/acme/sales/notes/a.md", "third", if_match=entry.etag)
    seen.append(client.read_text("/orgs/acme/sales/notes/a.md"))
    seen.append(client.read("/orgs/acme/sales/notes/a.md", version=1))
    client.write("/orgs/acme/sales/notes/b.json", {"k": [1, 2]})
    seen.append(client.read_json("/orgs/acme/sales/notes/b.json"))
    seen.append([(e.name, e.is_dir, e.size) for e in client.ls("/orgs/acme/sales/notes")])
    seen.append(client.glob("/orgs/acme/**/*.md"))
    seen.append([(m.path, m.line_number, m.text) for m in client.grep("sec", "/orgs/acme/sales")])
    seen.append([(v.version, v.size) for v in client.versions("/orgs/acme/sales/notes/a.md")])
    client.cp("/orgs/acme/sales/notes", "/orgs/acme/sales/copy", recursive=True)
    client.mv("/orgs/acme/sales/copy", "/orgs/acme/sales/moved")
    seen.append(sorted(e.path for e in client.ls("/orgs/acme/sales", recursive=True)))
    seen.append(client.exists("/orgs/acme/sales/copy"))
    seen.append(client.rm("/orgs/acme/sales/moved", recursive=True))
    client.orgs.add_member("acme", "bob@acme.com", workspaces=["sales"])
    seen.append([m["user_id"] for m in client.orgs.list_members("acme")])
    acl = client.setfacl("/orgs/acme/engineering", "user:bob@acme.com:r--")
    seen.append([(e.subject, e.mode) for e in acl.entries])
    client.rebac_create(("user", "bob@acme.com"), "editor", ("file", "/plan.md"), tenant_id="org_acme")
    seen.append(client.rebac_check(("user", "bob@acme.com"), "write", "/orgs/acme/plan.md"))
    seen.append(client.rebac_check(("user", "bob@acme.com"), "write", "/orgs/acme/engineering/x"))
    with pytest.raises(ValueError):
        client.rebac_create(("user", "john@techcorp.com"), "viewer", ("file", "/x"), tenant_id="org_acme")
    with pytest.raises(NotFoundError):
        client.read("/orgs/acme/sales/none.md")
    with pytest.raises(InvalidInputError):
        client.write("/orgs/acme/sales/bad\x00name", "x")
    client.orgs.remove_member("acme", "bob@acme.com")
    seen.append(client.rebac_check(("user", "bob@acme.com"), "write", "/orgs/acme/plan.md"))
    seen.append(sorted(org["org_id"] for org in client.orgs.mine()))
    return seen


def test_embedded_and_remote_give_the_same_results(server: Server, tmp_path: Path) -> None:
    remote = script(server.client())
    # The same organizations, provisioned in a separate data directory by the seed's own
    # initialisation script on the embedded client.
    config = tmp_path / "embedded" / "nexus.yaml"
    config.parent.mkdir()
    config.write_text(SEED_CONFIG.replace("./data", str(tmp_path / "embedded" / "data")))
    embedded = example("init_from_config").init_multi_tenant(str(config))
    try:
        assert embedded.read_json("/orgs/acme/sales/context.json")["workspace_id"] == "sales"
        assert script(embedded) == remote
    finally:
        embedded.close()


def test_the_seed_init_script_provisions_what_nexus_init_does(tmp_path: Path) -> None:
    config = tmp_path / "nexus.yaml"
    config.write_text(
        SEED_CONFIG.replace("./data", str(tmp_path / "data")).replace(
            "      - user_id: alice@acme.com\n        role: admin\n",
            "      - user_id: alice@acme.com\n        role: admin\n        permissions:\n          - orgs/acme:rwx\n"
            "      - user_id: agent_sales_001\n        type: agent\n        role: assistant\n        permissions:\n          - orgs/acme/sales:rw-\n",
        )
    )
    client = example("init_from_config").init_multi_tenant(str(config))
    try:
        for path in [
            "/orgs/acme/org.json",
            "/orgs/acme/sales/documents",
            "/orgs/acme/engineering/conversations",
            "/orgs/acme/shared/knowledge-base",
            "/orgs/techcorp/shared/templates",
        ]:
            assert client.exists(path), path
        members = {m["user_id"]: m for m in client.orgs.list_members("acme")}
        assert members["agent_sales_001"]["type"] == "agent"
        assert [(e.subject, e.mode) for e in client.getfacl("/orgs/acme/sales").entries] == [
            ("agent:agent_sales_001", "rw-")
        ]
        assert client.rebac_check(("agent", "agent_sales_001"), "write", "/orgs/acme/sales/x")
        assert not client.rebac_check(("agent", "agent_sales_001"), "write", "/orgs/acme/engineering/x")
    finally:
        client.close()
