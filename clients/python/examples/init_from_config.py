"""The seed's `init_multi_tenant`: create the multi-tenant structure from `nexus.yaml` with
the embedded client (no server; run it where the data lives, while no server holds it).

Run: python init_from_config.py nexus.yaml
(`nexus init --config nexus.yaml` does the same, idempotently, and is the supported way.)
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import yaml

from nexus import NexusClient


def now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def init_multi_tenant(config_path: str = "nexus.yaml") -> NexusClient:
    """Initialize multi-tenant structure from config."""

    with open(config_path) as f:
        config = yaml.safe_load(f)

    nexus = NexusClient(data_dir=config["data_dir"])

    # Create /orgs parent directory. (Adapted: `/orgs` always exists in Nexus, so a plain
    # mkdir would report it exists; `parents=True` makes the call succeed either way.)
    nexus.mkdir("/orgs", parents=True)

    for org in config.get("organizations", []):
        org_id = org["id"]

        # Create org directory
        nexus.mkdir(f"/orgs/{org_id}")

        # Create org.json
        nexus.write(
            f"/orgs/{org_id}/org.json",
            json.dumps(
                {
                    "org_id": org_id,
                    "name": org["name"],
                    "created_at": now(),
                    "settings": org.get("settings", {}),
                    "members": [],
                },
                indent=2,
            ),
        )

        # Create workspaces
        for workspace in org.get("workspaces", []):
            ws_id = workspace["id"]
            nexus.mkdir(f"/orgs/{org_id}/{ws_id}")
            nexus.mkdir(f"/orgs/{org_id}/{ws_id}/documents")
            nexus.mkdir(f"/orgs/{org_id}/{ws_id}/conversations")

            # Initialize workspace context
            nexus.write(
                f"/orgs/{org_id}/{ws_id}/context.json",
                json.dumps(
                    {
                        "workspace_id": ws_id,
                        "org_id": org_id,
                        "name": workspace.get("name", ws_id),
                        "created_at": now(),
                        "active_topics": [],
                        "current_context": {},
                    },
                    indent=2,
                ),
            )

        # Create shared directory
        nexus.mkdir(f"/orgs/{org_id}/shared")
        nexus.mkdir(f"/orgs/{org_id}/shared/knowledge-base")
        nexus.mkdir(f"/orgs/{org_id}/shared/templates")

        # Add initial members and set permissions
        org_config = json.loads(nexus.read(f"/orgs/{org_id}/org.json"))

        for member in org.get("members", []):
            user_id = member["user_id"]

            # Add to org.json
            org_config["members"].append(
                {
                    "user_id": user_id,
                    "role": member["role"],
                    "type": member.get("type", "human"),
                    "joined_at": now(),
                    "status": "active",
                }
            )

        # Write updated org.json. (Adapted: written before the permissions below, because a
        # grant may only name members of the organization, and org.json is what makes them
        # members.)
        nexus.write(f"/orgs/{org_id}/org.json", json.dumps(org_config, indent=2))

        for member in org.get("members", []):
            # Set permissions. (Adapted: the seed writes every grant as `user:`; an agent is
            # `agent:`, otherwise the grant would name a user who does not exist.)
            kind = "agent" if member.get("type") == "agent" else "user"
            for perm in member.get("permissions", []):
                path, mode = perm.split(":")
                nexus.setfacl(f"/{path}", f"{kind}:{member['user_id']}:{mode}")

    print(f"✓ Initialized {len(config['organizations'])} organizations")
    return nexus


if __name__ == "__main__":
    init_multi_tenant(*sys.argv[1:2]).close()
