"""Writes `src/nexus/remote.py` and `src/nexus/aio.py` from one list of methods, so the
synchronous and asynchronous clients keep the same surface. Run it after changing the list:

    python3 clients/python/tools/generate.py          # rewrite both modules
    python3 clients/python/tools/generate.py --check  # exit 1 if they are out of date
"""

import sys
from pathlib import Path

METHODS = [
    # name, signature (after self), call, return type, docstring
    ("read", "path: str, *, version: int | None = None, range: str | None = None", "self._calls.read(path, version, range)", "bytes",
     "The content of a file (`range`: `START-END`, `START-` or `-LAST`; `version`: an old one)."),
    ("write", "path: str, data: Data, *, if_match: str | None = None, if_none_match: bool = False, parents: bool = False",
     "self._calls.write(path, data, if_match, if_none_match, parents)", "Entry",
     "Creates or replaces a file. `data` is text, bytes, or a dict/list stored as JSON. With\n        `if_match`, only if the file's etag is that one; with `if_none_match`, only if it does\n        not exist (else `ConflictError`, carrying the current etag)."),
    ("stat", "path: str", "self._calls.stat(path)", "Entry", "Metadata of a file or directory."),
    ("exists", "path: str", "self._calls.exists(path)", "bool", "Whether the path exists (and the caller may know it)."),
    ("mkdir", "path: str, *, parents: bool = False", "self._calls.mkdir(path, parents)", "Entry", "Creates a directory (`parents`: also missing ancestors)."),
    ("rm", "path: str, *, recursive: bool = False", "self._calls.rm(path, recursive)", "int", "Removes a file or directory; returns how many entries were removed."),
    ("mv", "src: str, dst: str, *, overwrite: bool = False", "self._calls.mv(src, dst, overwrite)", "Entry", "Moves or renames."),
    ("cp", "src: str, dst: str, *, recursive: bool = False, overwrite: bool = False", "self._calls.cp(src, dst, recursive, overwrite)", "Entry", "Copies (content is shared, not duplicated)."),
    ("glob", "pattern: str, *, limit: int | None = None", "self._calls.glob(pattern, limit)", "list[str]", "Paths matching a glob (`*`, `?`, `**`, `[...]`, `{a,b}`)."),
    ("grep", "pattern: str, path: str = \"/orgs\", *, ignore_case: bool = False, context: int = 0, max_matches: int | None = None",
     "self._calls.grep(pattern, path, ignore_case, context, max_matches)", "list[GrepMatch]", "Lines matching a regular expression in the files at `path`."),
    ("search", "org: str, query: str, *, mode: str | None = None, path_prefix: str | None = None, env: str | None = None, scope: str | None = None, kind: str | None = None, author: str | None = None, since: str | None = None, until: str | None = None, limit: int | None = None, cursor: str | None = None, consistent: bool = False, explain: bool = False",
     "self._calls.search(org, query, mode, {\"path_prefix\": path_prefix, \"env\": env, \"scope\": scope, \"kind\": kind, \"author\": author, \"since\": since, \"until\": until}, limit, cursor, consistent, explain)", "SearchResults",
     "Files and knowledge items of `org` you may read that match `query` (words, all must match;\n        `\"phrases\"`, `prefix*`, `-excluded`), best first; `total` counts only what you may read.\n        `mode`: `keyword` (default), `semantic` or `hybrid` (by meaning; needs an embedder).\n        `consistent`: wait until the index reflects every earlier change. `explain`: each hit's\n        `why`, the relationship path that lets you read it."),
    ("versions", "path: str", "self._calls.versions(path)", "list[Version]", "The stored versions of a file, newest first."),
    ("setfacl", "path: str, entry: str", "self._calls.setfacl(path, entry)", "Acl", "Sets one subject's ACL entry (`user:bob@acme.com:rw-`; `---` removes it)."),
    ("getfacl", "path: str", "self._calls.getfacl(path)", "Acl", "The ACL entries and role grants stored on a path."),
    ("rebac_create", "subject: Principal, relation: str, object: Principal, tenant_id: str | None = None, expires_at: str | datetime | None = None",
     "self._calls.rebac_write(\"create\", subject, relation, object, tenant_id, expires_at)", "str",
     "Creates a relationship (fails if it exists); returns the revision token written. `expires_at`\n        (RFC 3339 text or an aware datetime) needs a relation that allows expiration. A\n        cross-tenant relationship raises `InvalidInputError`, which is a `ValueError`."),
    ("rebac_delete", "subject: Principal, relation: str, object: Principal, tenant_id: str | None = None",
     "self._calls.rebac_write(\"delete\", subject, relation, object, tenant_id, None)", "str", "Deletes a relationship; returns the revision token."),
    ("rebac_check", "subject: Principal, permission: str, object: Principal, *, context: dict[str, Any] | None = None, at_least: str | None = None",
     "self._calls.rebac_check(subject, permission, object, context, at_least)", "bool",
     "Whether `subject` has `permission` on `object`, at least as fresh as this client's writes\n        and `at_least` (a revision token another client of the organization got, e.g. its\n        `.revision`)."),
    ("rebac_expand", "permission: str, object: Principal", "self._calls.rebac_expand(permission, object)", "dict[str, Any]", "The tree of why."),
    ("rebac_lookup_resources", "subject: Principal, permission: str, resource_type: str = \"file\"",
     "self._calls.rebac_lookup_resources(subject, permission, resource_type)", "list[str]", "Ids of objects on which `subject` has `permission`."),
    ("rebac_lookup_subjects", "object: Principal, permission: str, subject_type: str = \"user\"",
     "self._calls.rebac_lookup_subjects(object, permission, subject_type)", "list[str]", "Subjects with `permission` on `object`."),
    ("whoami", "", "self._calls.whoami()", "dict[str, Any]", "Who the credentials name, and their organizations."),
    ("delegate", "agent: str, *, expires_in: str = \"8h\", description: str = \"\"",
     "self._calls.delegate(agent, expires_in, description)", "dict[str, Any]",
     "Lets an agent act on your behalf until `expires_in` (at most `30d`): each of its calls\n        then has what both of you may do. The answer's `secret` (shown once) is the agent's\n        credential."),
    ("delegations", "", "self._calls.delegations()", "list[dict[str, Any]]",
     "The delegations you granted (or, for an agent, those granted to it)."),
    ("revoke_delegation", "id: str", "self._calls.revoke_delegation(id)", "None", "Ends a delegation now."),
    ("create_item", "org: str, env: str, kind: str, data: ItemData, *, scope: str = \"personal\", id: str | None = None, session: str | None = None",
     "self._calls.create_item(org, env, kind, data, scope, id, session)", "ItemCreated",
     "Creates a knowledge item (personal unless `scope` is `UNIV` or a session's `s_XXXX`).\n        `session` names the group session you work in: the answer's `sharing_hint` then offers\n        to share the item with it (a `chrono` reminder is shared with it, so its members are\n        notified when it falls due). A scope the environment does not have raises\n        `ScopeNotAllowedError`."),
    ("get_item", "org: str, key: str", "self._calls.get_item(org, key)", "Item", "An item you may read (`NotFoundError` otherwise, whether or not it exists)."),
    ("update_item", "org: str, key: str, data: ItemData, *, if_match: str | None = None",
     "self._calls.update_item(org, key, data, if_match)", "Item",
     "Replaces an item's data; with `if_match`, only if its etag is still that one\n        (`ConflictError` otherwise)."),
    ("delete_item", "org: str, key: str, *, if_match: str | None = None", "self._calls.delete_item(org, key, if_match)", "None",
     "Deletes an item and its shares."),
    ("share_item", "org: str, key: str, *, users: list[str] | None = None, universal: bool = False, session: str | None = None, groups: list[str] | None = None, role: str | None = None",
     "self._calls.share_item(org, key, users, universal, session, False, groups, role)", "ItemAccess",
     "Shares an item with members (`users`), the whole organization (`universal`), a\n        session's members (`session`), or (User and Locker items) groups or a role: name\n        exactly one. Returns who can read it now."),
    ("unshare_item", "org: str, key: str, *, users: list[str] | None = None, universal: bool = False, session: str | None = None, groups: list[str] | None = None, role: str | None = None",
     "self._calls.share_item(org, key, users, universal, session, True, groups, role)", "ItemAccess", "Takes a share back (the same forms as `share_item`)."),
    ("item_access", "org: str, key: str", "self._calls.item_access(org, key)", "ItemAccess", "Who can read an item, and why."),
    ("assign_item", "org: str, key: str, assignees: list[str]", "self._calls.assign_item(org, key, assignees)", "Item",
     "Sets a Track task's assignees (a manager may name only the team)."),
    ("resolve_workflow", "org: str", "self._calls.resolve_workflow(org)", "list[ResolvedProtocol]",
     "Your effective workflow protocols: the organization's, overridden by yours of the same name."),
    ("start_session", "org: str, title: str, *, group: bool = False, members: list[str] | None = None",
     "self._calls.start_session(org, title, group, members or [])", "Session", "Starts a session you own (solo unless `group`)."),
    ("list_sessions", "org: str, *, active: bool | None = None", "self._calls.list_sessions(org, active)", "list[Session]",
     "The sessions you take part in (`active=True`: only running ones)."),
    ("get_session", "org: str, session: str", "self._calls.get_session(org, session)", "Session", "One session, in the seed's shape."),
    ("add_session_member", "org: str, session: str, user: str", "self._calls.add_session_member(org, session, user)", "Session",
     "Adds a member of the organization to a group session (its owner or an organization admin)."),
    ("end_session", "org: str, session: str", "self._calls.end_session(org, session)", "Session",
     "Ends a session: members keep reading its items; nothing more is added."),
    ("lock_user", "user: str", "self._calls.lock_user(user)", "dict[str, Any]",
     "Locks an account (system administrators): its memberships are suspended everywhere."),
    ("unlock_user", "user: str", "self._calls.unlock_user(user)", "dict[str, Any]",
     "Unlocks an account locked with `lock_user` or `lockout_user`."),
    ("lockout_user", "user: str", "self._calls.lockout_user(user)", "dict[str, Any]",
     "Emergency lockout (system administrators): the user's API keys are revoked, tokens issued\n        before now refused, and the account locked."),
    ("mark_notification_read", "id: int", "self._calls.mark_notification_read(id)", "None",
     "Marks one of your notifications read (`NotFoundError` if your feed has no such id)."),
    ("export_org", "org: str", "self._calls.export_org(org)", "bytes",
     "An organization's archive (system administrators): files with every version,\n        relationships, items, the schedule, the change feed, the audit log and sealed secrets,\n        as a zstd-compressed tar (`docs/archives.md`)."),
    ("import_org", "archive: bytes, *, replace: bool = False", "self._calls.import_org(archive, replace)", "dict[str, Any]",
     "Restores an organization from an archive (system administrators); `ConflictError` if\n        it exists unless `replace`, `InvalidInputError` if the archive is damaged. Returns\n        what it restored."),
    ("delete_user", "user: str", "self._calls.delete_user(user)", "dict[str, Any]",
     "Deletes an account (system administrators): removed everywhere, keys revoked, personal\n        items removed."),
]

ORG_METHODS = [
    ("add_member", "org_id: str, user_id: str, role: str = \"member\", workspaces: list[str] | None = None, *, type: str = \"human\"",
     "self._client._calls.add_member(org_id, user_id, role, workspaces or [], type)", "dict[str, Any]",
     "Adds a member: `org.json` and access change in one transaction (`InvalidInputError` if\n        already a member)."),
    ("remove_member", "org_id: str, user_id: str", "self._client._calls.remove_member(org_id, user_id)", "dict[str, Any]",
     "Removes a member: all their access in the organization ends at once."),
    ("list_members", "org_id: str", "self._client._calls.list_members(org_id)", "list[dict[str, Any]]", "The `members` array of `org.json`."),
    ("create", "org_id: str, name: str, workspaces: list[str] | None = None", "self._client._calls.create_org(org_id, name, workspaces or [])",
     "dict[str, Any]", "Creates an organization (system administrators)."),
    ("mine", "", "self._client._calls.list_orgs()", "list[dict[str, Any]]", "The caller's organizations (every one, for a system administrator)."),
    ("manager", "org_id: str, user_id: str", "self._client._calls.manager(org_id, user_id)", "ReportingLine",
     "A member's manager and subordinates."),
    ("set_manager", "org_id: str, user_id: str, manager: str | None", "self._client._calls.set_manager(org_id, user_id, manager)", "ReportingLine",
     "Sets (or with `None` clears) a member's manager (organization admins)."),
]


def methods(is_async: bool, spec, run: str) -> str:
    out = []
    d = "async def" if is_async else "def"
    aw = "await " if is_async else ""
    for name, sig, call, ret, doc in spec:
        params = f"self, {sig}" if sig else "self"
        out.append(f"    {d} {name}({params}) -> {ret}:\n        \"\"\"{doc}\"\"\"\n        return {aw}{run}({call})\n")
    return "\n".join(out)


HEADER = '''"""{title}"""

# Generated by tools/generate.py together with its synchronous/asynchronous twin, from one
# list of methods; both delegate to `_calls`. Edit the generator, not this file.

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import httpx

from ._calls import Call, Calls, Data, Principal, Reply, T, check
from .errors import UnavailableError
from .types import (
    Acl,
    AuditEntry,
    Change,
    Entry,
    GrepMatch,
    Item,
    ItemAccess,
    ItemCreated,
    ItemData,
    Notification,
    ReportingLine,
    ResolvedProtocol,
    SearchResults,
    Session,
    Version,
)


def _base_url(url: str | None, host: str | None, port: int | None) -> str:
    if url:
        return url.rstrip("/")
    if host:
        return f"http://{{host}}:{{port or 8080}}"
    env = os.environ.get("NEXUS_URL")
    if env:
        return env.rstrip("/")
    env_host = os.environ.get("NEXUS_HOST")
    if env_host:
        return f"http://{{env_host}}:{{os.environ.get('NEXUS_PORT', '8080')}}"
    return "http://localhost:8080"


def _credential(api_key: str | None, token: str | None) -> str | None:
    return api_key or token or os.environ.get("NEXUS_API_KEY") or os.environ.get("NEXUS_TOKEN")

'''


def client(is_async: bool) -> str:
    cls = "AsyncRemoteNexusClient" if is_async else "RemoteNexusClient"
    orgs_cls = "AsyncOrganizations" if is_async else "Organizations"
    http = "httpx.AsyncClient" if is_async else "httpx.Client"
    d = "async def" if is_async else "def"
    aw = "await " if is_async else ""
    title = ("Asynchronous client for a Nexus server: the same surface as `RemoteNexusClient`,\n"
             "every method awaited.") if is_async else "Synchronous client for a Nexus server."
    text = HEADER.format(title=title)
    text += f'''
class {orgs_cls}:
    """Organization and member management (`client.orgs`)."""

    def __init__(self, client: {cls}) -> None:
        self._client = client

{methods(is_async, ORG_METHODS, "self._client._run")}

class {cls}:
    """A connection to a Nexus server.

    `RemoteNexusClient(host="localhost", port=8080, api_key="...")` as in the seed, or
    `url=` and `token=` (a JWT). Without arguments, `NEXUS_URL` (or `NEXUS_HOST` and
    `NEXUS_PORT`) and `NEXUS_API_KEY` (or `NEXUS_TOKEN`) are used. The client remembers the
    revision token of its last write, so its permission checks see its own writes.
    """

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        api_key: str | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = _base_url(url, host, port)
        credential = _credential(api_key, token)
        headers = {{"authorization": f"Bearer {{credential}}"}} if credential else {{}}
        self._http = {http}(base_url=self.url, headers=headers, timeout=timeout)
        self._calls = Calls()
        self.orgs = {orgs_cls}(self)

    @property
    def revision(self) -> str | None:
        """The revision token of this client's last write (else the last one it saw)."""
        return self._calls.revision

    {d} close(self) -> None:
        """Closes the connection pool."""
        {"await self._http.aclose()" if is_async else "self._http.close()"}

    {d} {"__aenter__" if is_async else "__enter__"}(self) -> {cls}:
        return self

    {d} {"__aexit__" if is_async else "__exit__"}(self, *exc: object) -> None:
        {aw}self.close()

    {d} _send(self, call: Call[T]) -> Reply:
        """Sends one request (the transport; the embedded client replaces it)."""
        try:
            response = {aw}self._http.request(
                call.method,
                call.route,
                params=call.params,
                headers=call.headers,
                content=call.body,
            )
        except httpx.HTTPError as error:
            raise UnavailableError(
                f"cannot reach the Nexus server at {{self.url}}: {{error}}", code="unavailable"
            ) from error
        return Reply(response.status_code, response.headers, response.content)

    {d} _run(self, call: Call[T]) -> T:
        reply = {aw}self._send(call)
        if reply.status in call.accept:
            return call.parse(reply)
        return call.parse(check(reply))

{methods(is_async, METHODS, "self._run")}
    {d} read_text(self, path: str, *, encoding: str = "utf-8") -> str:
        """The content of a text file."""
        return ({aw}self.read(path)).decode(encoding)

    {d} read_json(self, path: str) -> Any:
        """The content of a JSON file, parsed."""
        import json

        return json.loads({aw}self.read(path))

    {d} ls(self, path: str = "/", *, recursive: bool = False) -> list[Entry]:
        """The entries of a directory (every page), with `.name`, `.path`, `.is_dir`,
        `.size`, `.modified_at`."""
        entries: list[Entry] = []
        cursor: str | None = None
        while True:
            page, cursor = {aw}self._run(self._calls.ls(path, recursive, cursor))
            entries.extend(page)
            if not cursor:
                return entries

    {d} list_items(
        self,
        org: str,
        *,
        env: str | None = None,
        scope: str | None = None,
        kind: str | None = None,
        owner: str | None = None,
        since: str | None = None,
        until: str | None = None,
        q: str | None = None,
        limit: int | None = None,
    ) -> list[Item]:
        """The items you may read (every page, or the first `limit`), filtered; `q`: words
        that must all appear. `scope` is `personal`, `UNIV`, `u_XXXX` or `s_XXXX`."""
        filters = {{
            "env": env,
            "scope": scope,
            "kind": kind,
            "owner": owner,
            "since": since,
            "until": until,
            "q": q,
            "limit": min(limit, 1000) if limit is not None else 1000,
        }}
        items: list[Item] = []
        cursor: str | None = None
        while True:
            page, cursor = {aw}self._run(self._calls.list_items(org, filters, cursor))
            items.extend(page)
            if limit is not None and len(items) >= limit:
                return items[:limit]
            if not cursor:
                return items

    {d} audit(
        self,
        *,
        org: str | None = None,
        actor: str | None = None,
        path_prefix: str | None = None,
        action: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[AuditEntry]:
        """Every audit entry you may read (organization admins: pass `org`; `org="system"`
        is the system log), oldest first, filtered; times are RFC 3339."""
        filters = {{
            "org": org,
            "actor": actor,
            "path_prefix": path_prefix,
            "action": action,
            "since": since,
            "until": until,
            "limit": 1000,
        }}
        entries: list[AuditEntry] = []
        cursor: str | None = None
        while True:
            page, cursor = {aw}self._run(self._calls.audit(filters, cursor))
            entries.extend(page)
            if not cursor:
                return entries

    {d} changes(self, org: str, *, after: int = 0) -> list[Change]:
        """The changes to files and items of `org` that you may read now, oldest first (only
        those after revision `after`)."""
        changes: list[Change] = []
        cursor: str | None = None
        while True:
            page, cursor = {aw}self._run(self._calls.changes(org, cursor))
            if not page:
                return changes
            changes.extend(change for change in page if change.revision > after)

    {d} notifications(self, *, unread: bool = False) -> list[Notification]:
        """Your notification feed, oldest first (`unread=True`: only those not marked read):
        reminders that fell due, sessions you were added to, items shared with you."""
        notifications: list[Notification] = []
        cursor: str | None = None
        while True:
            page, cursor = {aw}self._run(self._calls.notifications(unread, cursor))
            if not page:
                return notifications
            notifications.extend(page)

    {d} search_items(self, org: str, query: str, *, env: str | None = None, limit: int | None = None) -> list[Item]:
        """The items you may read that contain every word of `query` (case-insensitive)."""
        return {aw}self.list_items(org, env=env, q=query, limit=limit)
'''
    return text


def main() -> int:
    package = Path(__file__).resolve().parents[1] / "src" / "nexus"
    outputs = {package / "remote.py": client(False), package / "aio.py": client(True)}
    if "--check" in sys.argv[1:]:
        stale = [path.name for path, text in outputs.items() if path.read_text() != text]
        if stale:
            print(f"out of date: {', '.join(stale)}; run tools/generate.py", file=sys.stderr)
            return 1
        return 0
    for path, text in outputs.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
