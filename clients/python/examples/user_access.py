"""The seed's user access pattern: list my organizations, read a workspace, write a document.

Run: NEXUS_URL=http://localhost:8080 NEXUS_TOKEN=<a JWT for the user> python user_access.py
"""

from __future__ import annotations

from typing import Any

from nexus import RemoteNexusClient


def user_access(client: RemoteNexusClient) -> dict[str, Any]:
    # User lists their accessible orgs: Nexus filters them by permissions.
    orgs = client.ls("/orgs/")  # Returns only orgs the user has access to

    # User accesses a workspace. (`read` returns bytes; `read_json` parses them.)
    context = client.read_json("/orgs/acme/sales/context.json")

    # User writes a document (permission check automatic).
    client.write(
        "/orgs/acme/sales/documents/proposal.md",
        "# Q1 Sales Proposal...",
    )
    return {"orgs": [org.name for org in orgs], "context": context}


if __name__ == "__main__":
    print(user_access(RemoteNexusClient()))
