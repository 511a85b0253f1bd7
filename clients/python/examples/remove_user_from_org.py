"""The seed's `remove_user_from_org`.

Run: NEXUS_URL=http://localhost:8080 NEXUS_API_KEY=nx_... python remove_user_from_org.py charlie@acme.com acme
"""

from __future__ import annotations

import json
import sys

from nexus import ConflictError, RemoteNexusClient


def remove_user_from_org(client: RemoteNexusClient, user_email: str, org_id: str) -> None:
    """Remove a user from an organization."""

    # 1. Update org.json. Adapted from the seed: written with `if_match`, so a concurrent
    # edit is retried instead of silently undone. Removing the member from org.json already
    # revokes everything they had in the organization, in the same transaction.
    path = f"/orgs/{org_id}/org.json"
    while True:
        etag = client.stat(path).etag
        org_data = json.loads(client.read(path))
        org_data["members"] = [m for m in org_data["members"] if m["user_id"] != user_email]
        try:
            client.write(path, json.dumps(org_data, indent=2), if_match=etag)
            break
        except ConflictError:
            continue

    # 2. Remove all permissions (as the seed does; after step 1 there is nothing left to
    # remove, so these change nothing).
    client.setfacl(f"/orgs/{org_id}", f"user:{user_email}:---")

    # Also remove from all workspaces.
    workspaces = client.ls(f"/orgs/{org_id}")
    for ws in workspaces:
        if ws.is_dir:
            client.setfacl(f"/orgs/{org_id}/{ws.name}", f"user:{user_email}:---")


if __name__ == "__main__":
    remove_user_from_org(RemoteNexusClient(), sys.argv[1], sys.argv[2])
