"""The seed's assistant scenarios through Nexus's MCP server, with the official MCP Python SDK
(`pip install mcp==2.3.0`).

It connects twice as the agent whose API key it is given: to `nexus serve` at `/mcp`
(streamable HTTP) and to `nexus mcp` over stdio (which talks to the same server), lists the
tools, and then, over HTTP:

- creates a knowledge item, which stays personal (the agent's own);
- starts a group session with a colleague: a new item comes back with a sharing hint, and
  accepting it is one call;
- shares an item with a named user ("share this with Bob");
- makes an item universal ("this is for everyone");
- reads its resolved workflow protocols.

Usage: python3 examples/mcp/scenario.py --url http://127.0.0.1:8080 --key nx_... --colleague bob@acme.com
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        raise SystemExit(f"{tool} failed: {result.structured_content}")
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--key", required=True, help="the agent's API key")
    parser.add_argument("--colleague", required=True, help="a user of the same organization")
    parser.add_argument("--nexus", default=shutil.which("nexus") or "nexus", help="the nexus binary")
    args = parser.parse_args()

    # stdio: `nexus mcp`, here against the same server with the same key.
    stdio = StdioServerParameters(
        command=args.nexus,
        args=["mcp"],
        env={**os.environ, "NEXUS_URL": args.url, "NEXUS_API_KEY": args.key},
    )
    async with Client(stdio) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        me = await call(client, "whoami", {})
        print(f"stdio: {len(tools)} tools, acting as {me['kind']} {me['handle']} ({me['id']})")

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {args.key}"}, timeout=30)
    async with Client(streamable_http_client(args.url + "/mcp", http_client=http)) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        print(f"http: {len(tools)} tools: {', '.join(sorted(tools))}")

        # Personal by default.
        note = await call(client, "create_item", {"env": "kb", "kind": "node", "data": {"title": "Vendor notes", "body": "call back Monday"}})
        print(f"created {note['key']}: personal (scope {note['item']['scope']}), no sharing hint: {note['sharing_hint'] is None}")

        # "Let's work on this together": a group session; the next item offers to be shared.
        session = await call(client, "start_session", {"title": "Launch prep", "type": "group", "members": [args.colleague]})
        draft = await call(client, "create_item", {"env": "context", "kind": "note", "data": {"title": "Launch checklist", "text": "1. press release"}})
        hint = draft["sharing_hint"]
        print(f"in session {session['stable_id']}: hint says \"{hint['message']}\"")
        shared = await call(client, hint["accept"]["tool"], hint["accept"]["arguments"])
        print(f"accepted: {len(shared['readers'])} readers now")

        # "Share this with <colleague>".
        direct = await call(client, "share", {"key": note["key"], "users": [args.colleague]})
        print(f"shared {note['key']} with {args.colleague}: {[reader['subject'] for reader in direct['readers']]}")

        # "This is for everyone".
        everyone = await call(client, "create_item", {"env": "links", "kind": "bookmark", "data": {"title": "Brand kit", "url": "https://example.com/brand"}})
        await call(client, "share", {"key": everyone["key"], "universal": True})
        explained = await call(client, "explain_access", {"key": everyone["key"]})
        print(f"made {everyone['key']} universal: {json.dumps(explained['readers'][:2])} ...")

        # The workflow protocols to follow: the organization's, overridden by one's own.
        workflow = await call(client, "resolve_workflow", {})
        print(f"workflow: {[(p['name'], p['source']) for p in workflow['protocols']]}")
        await call(client, "end_session", {"session": session["stable_id"]})


if __name__ == "__main__":
    asyncio.run(main())
