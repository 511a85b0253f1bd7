# init_from_config.py
# The seed's initialisation script exactly as written, with only the imports it was
# missing added (`json`, `datetime`). Run: python init_from_config.py (reads ./nexus.yaml).
import json
from datetime import datetime

import yaml
from nexus import NexusClient

def init_multi_tenant(config_path="nexus.yaml"):
    """Initialize multi-tenant structure from config"""

    with open(config_path) as f:
        config = yaml.safe_load(f)

    nexus = NexusClient(data_dir=config["data_dir"])

    # Create /orgs parent directory
    nexus.mkdir("/orgs")

    for org in config.get("organizations", []):
        org_id = org["id"]

        # Create org directory
        nexus.mkdir(f"/orgs/{org_id}")

        # Create org.json
        nexus.write(
            f"/orgs/{org_id}/org.json",
            json.dumps({
                "org_id": org_id,
                "name": org["name"],
                "created_at": datetime.utcnow().isoformat() + "Z",
                "settings": org.get("settings", {}),
                "members": []
            }, indent=2)
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
                json.dumps({
                    "workspace_id": ws_id,
                    "org_id": org_id,
                    "name": workspace["name"],
                    "created_at": datetime.utcnow().isoformat() + "Z",
                    "active_topics": [],
                    "current_context": {}
                }, indent=2)
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
            org_config["members"].append({
                "user_id": user_id,
                "role": member["role"],
                "type": member.get("type", "human"),
                "joined_at": datetime.utcnow().isoformat() + "Z",
                "status": "active"
            })

            # Set permissions
            for perm in member.get("permissions", []):
                path, mode = perm.split(":")
                nexus.setfacl(f"/{path}", f"user:{user_id}:{mode}")

        # Write updated org.json
        nexus.write(
            f"/orgs/{org_id}/org.json",
            json.dumps(org_config, indent=2)
        )

    print(f"✓ Initialized {len(config['organizations'])} organizations")

if __name__ == "__main__":
    init_multi_tenant()
