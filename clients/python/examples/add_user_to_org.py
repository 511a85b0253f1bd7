"""The seed's `add_user_to_org`: add a member to an organization while the server runs.

Run: NEXUS_URL=http://localhost:8080 NEXUS_API_KEY=nx_... python add_user_to_org.py charlie@acme.com acme sales
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from nexus import ConflictError, RemoteNexusClient


def add_user_to_org(
    client: RemoteNexusClient,
    user_email: str,
    org_id: str,
    role: str = "member",
    workspaces: list[str] | None = None,
) -> dict[str, object]:
    """Add a user to an organization dynamically."""

    # 1. Update org.json to include the new member.
    # Adapted from the seed: its blind read-modify-write loses a member when two admins add
    # someone at the same time. Writing with `if_match` (the etag we read) makes the second
    # writer retry instead. (`client.orgs.add_member(...)` does all of this in one call.)
    path = f"/orgs/{org_id}/org.json"
    while True:
        etag = client.stat(path).etag
        org_data = json.loads(client.read(path))
        org_data["members"].append(
            {
                "user_id": user_email,
                "role": role,
                "joined_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                "status": "active",
            }
        )
        try:
            client.write(path, json.dumps(org_data, indent=2), if_match=etag)
            break
        except ConflictError:
            continue  # someone else changed org.json first: read it again

    # 2. Set permissions based on role.
    if role == "admin":
        # Admin gets full access to the org.
        client.setfacl(f"/orgs/{org_id}", f"user:{user_email}:rwx")
    else:
        # Members get workspace-specific access.
        for workspace in workspaces or []:
            client.setfacl(f"/orgs/{org_id}/{workspace}", f"user:{user_email}:rw-")

    return {"success": True, "user": user_email, "org": org_id}


if __name__ == "__main__":
    email, org, *spaces = sys.argv[1:]
    print(add_user_to_org(RemoteNexusClient(), email, org, workspaces=spaces))
