"""`NexusClient(data_dir=...)`: in-process, the same surface and the same results as the
remote client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nexus import ConflictError, InvalidInputError, NexusClient, NotFoundError, RemoteNexusClient

from conftest import SEED_CONFIG, Server, nexus_binary


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


SEED_NEXUS_YAML = """
data_dir: ./data
backend: local
organizations:
  - id: acme
    name: Acme Corporation
    settings:
      retention_policy:
        conversations: 90d
        sessions: 30d
    workspaces:
      - id: sales
        name: Sales Team
      - id: engineering
        name: Engineering Team
    members:
      - user_id: alice@acme.com
        role: admin
        permissions:
          - orgs/acme:rwx
          - orgs/acme/sales:rwx
          - orgs/acme/engineering:rwx
      - user_id: bob@acme.com
        role: member
        permissions:
          - orgs/acme/sales:rw-
      - user_id: agent_sales_001
        type: agent
        role: assistant
        permissions:
          - orgs/acme/sales:rw-
  - id: techcorp
    name: Tech Corp Inc.
    workspaces:
      - id: product
        name: Product Team
    members:
      - user_id: john@techcorp.com
        role: admin
        permissions:
          - orgs/techcorp:rwx
"""


def run_seed_script(directory: Path) -> None:
    """Runs the seed's `init_from_config.py` as a user would: `python init_from_config.py`
    next to `nexus.yaml`."""
    script_path = Path(__file__).resolve().parents[1] / "examples" / "init_from_config.py"
    done = subprocess.run(
        [sys.executable, str(script_path)], cwd=directory, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Initialized 2 organizations" in done.stdout


def state(client: NexusClient) -> dict[str, Any]:
    """What provisioning decides: the tree, the members, the ACLs and the role grants."""
    paths = sorted((e.path, e.is_dir) for e in client.ls("/orgs", recursive=True))
    acls = {}
    for path, is_dir in paths:
        acl = client.getfacl(path)
        acls[path] = (sorted((e.subject, e.mode) for e in acl.entries), sorted(acl.roles))
    members = {
        org: sorted((m["user_id"], m["role"], m.get("type", "human"), m["status"]) for m in client.orgs.list_members(org))
        for org in ("acme", "techcorp")
    }
    record = client.read_json("/orgs/acme/org.json")
    return {"paths": paths, "acls": acls, "members": members, "settings": record["settings"]}


def test_the_seed_init_script_runs_unchanged_and_provisions_what_nexus_init_does(tmp_path: Path) -> None:
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "nexus.yaml").write_text(SEED_NEXUS_YAML)
    run_seed_script(tmp_path / "seed")
    (tmp_path / "init").mkdir()
    (tmp_path / "init" / "nexus.yaml").write_text(SEED_NEXUS_YAML)
    done = subprocess.run(
        [str(nexus_binary()), "init", "--config", str(tmp_path / "init" / "nexus.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seeded = NexusClient(data_dir=tmp_path / "seed" / "data")
    provisioned = NexusClient(data_dir=tmp_path / "init" / "data")
    try:
        seen = state(seeded)
        assert seen == state(provisioned)
        assert ("agent_sales_001", "assistant", "agent", "active") in seen["members"]["acme"]
        assert seen["acls"]["/orgs/acme/sales"][0] == sorted(
            [("user:alice@acme.com", "rwx"), ("user:bob@acme.com", "rw-"), ("agent:agent_sales_001", "rw-")]
        )
        assert seeded.rebac_check(("agent", "agent_sales_001"), "write", "/orgs/acme/sales/x")
        assert not seeded.rebac_check(("agent", "agent_sales_001"), "write", "/orgs/acme/engineering/x")
        assert not seeded.rebac_check(("user", "john@techcorp.com"), "read", "/orgs/acme/sales/x")
    finally:
        seeded.close()
        provisioned.close()


def test_embedded_and_remote_give_the_same_results(server: Server, tmp_path: Path) -> None:
    remote = script(server.client())
    # The embedded side is provisioned by the seed's own script, as a user would run it.
    directory = tmp_path / "embedded"
    directory.mkdir()
    # The seed's script reads every workspace's `name`.
    named = SEED_CONFIG
    for workspace in ("sales", "engineering", "product"):
        named = named.replace(f"- id: {workspace}\n", f"- id: {workspace}\n        name: {workspace.title()}\n")
    (directory / "nexus.yaml").write_text(named)
    run_seed_script(directory)
    embedded = NexusClient(data_dir=directory / "data")
    try:
        assert embedded.read_json("/orgs/acme/sales/context.json")["workspace_id"] == "sales"
        assert script(embedded) == remote
    finally:
        embedded.close()
