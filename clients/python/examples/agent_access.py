"""The seed's agent access pattern: load my config, read the workspace, store a conversation.

Run: NEXUS_URL=http://localhost:8080 NEXUS_API_KEY=<the agent's key> python agent_access.py sales_bot_001
"""

from __future__ import annotations

import sys
from typing import Any

from nexus import RemoteNexusClient


def agent_access(client: RemoteNexusClient, agent_id: str) -> dict[str, Any]:
    # Agent loads its config. (Adapted: the seed indexes `read`'s result directly; `read`
    # returns bytes, `read_json` the parsed document.)
    agent_config = client.read_json("/orgs/acme/sales/agents.json")
    my_config = [a for a in agent_config["agents"] if a["agent_id"] == agent_id][0]

    # Agent reads workspace context.
    context = client.read_json("/orgs/acme/sales/context.json")

    # Agent stores a conversation (in the workspace, not tied to the agent instance).
    client.write(
        "/orgs/acme/sales/conversations/session_123.json",
        {
            "session_id": "session_123",
            "agent_id": agent_id,
            "messages": [],
            "created_at": "2025-01-20T15:00:00Z",
        },
    )
    return {"config": my_config, "context": context}


if __name__ == "__main__":
    print(agent_access(RemoteNexusClient(), sys.argv[1]))
