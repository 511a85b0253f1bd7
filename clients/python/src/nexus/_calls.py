"""What each client method sends and how it reads the answer, shared by the synchronous and
asynchronous clients (which only differ in how they send)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Generic, Mapping, TypeVar
from urllib.parse import quote

from .errors import InvalidInputError, error_from_response
from .types import (
    Acl,
    AuditEntry,
    Change,
    Entry,
    GrepMatch,
    Item,
    ItemAccess,
    ItemCreated,
    Notification,
    ReportingLine,
    ResolvedProtocol,
    SearchResults,
    Session,
    Version,
)

T = TypeVar("T")

Json = Any
Principal = str | tuple[str, str]
Data = str | bytes | dict[str, Any] | list[Any]


@dataclass
class Reply:
    """An answer as the transports hand it over."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Json:
        return json.loads(self.content) if self.content else None


@dataclass
class Call(Generic[T]):
    """One request and the function that turns its successful answer into a result."""

    method: str
    route: str
    parse: Callable[[Reply], T]
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # Statuses that are answers rather than errors (e.g. 404 for `exists`).
    accept: tuple[int, ...] = ()


def encode_path(path: str) -> str:
    """A path for use after a route prefix: each segment percent-encoded. `.` and `..`
    segments are refused here, because HTTP libraries resolve them before sending (so
    `/a/../b` would silently become `/b`), while Nexus refuses such paths."""
    if any(segment in (".", "..") for segment in path.split("/")):
        raise InvalidInputError(
            f"invalid path `{path[:200]}`: `.` and `..` segments are not allowed",
            code="invalid_path",
        )
    return quote(path.lstrip("/"), safe="/@+,;=:!$&'()*~")


def check(reply: Reply) -> Reply:
    """Raises the error an unsuccessful answer carries."""
    if 200 <= reply.status < 300 or reply.status == 304:
        return reply
    try:
        body = reply.json()
    except ValueError:
        body = None
    raise error_from_response(reply.status, body, reply.headers)


def principal_text(principal: Principal) -> str:
    """`("user", "alice")` or `"user:alice"` → `"user:alice"`."""
    if isinstance(principal, tuple):
        kind, ident = principal
        return f"{kind}:{ident}"
    return principal


def _json_body(value: Json) -> bytes:
    return json.dumps(value).encode()


def _entry(reply: Reply) -> Entry:
    return Entry.from_json(reply.json())


def content_of(data: Data) -> bytes:
    """What `write` stores: text as UTF-8, bytes as they are, anything else as JSON."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, (dict, list)):
        return json.dumps(data, indent=2).encode()
    raise InvalidInputError(
        f"cannot write a {type(data).__name__}: give str, bytes, or a JSON-serialisable dict or list",
        code="invalid_input",
    )


def file_object(obj: Principal, tenant_id: str | None) -> str:
    """The object of a relationship: a path, `type:id`, or a `(type, id)` pair. With a
    `tenant_id` (`acme` or `org_acme`), a file path outside `/orgs/` is taken inside that
    organization, and a path of another organization is refused (cross-tenant)."""
    kind, ident = (obj if isinstance(obj, tuple) else (None, obj))
    if kind is None:
        if ident.startswith("/"):
            kind = "file"
        else:
            kind, _, ident = ident.partition(":")
    if kind != "file" or tenant_id is None:
        return f"{kind}:{ident}"
    org = tenant_id.removeprefix("org_")
    path = "/" + ident.lstrip("/")
    segments = path.split("/")[1:]
    if any(segment in ("", ".", "..") for segment in segments):
        # The server would resolve these and could leave the tenant: refuse them here.
        raise InvalidInputError(
            f"invalid path `{path}`: empty, `.` and `..` segments are not allowed",
            code="invalid_path",
        )
    if not path.startswith("/orgs/"):
        path = f"/orgs/{org}{path}"
    elif path.split("/")[2] != org:
        raise InvalidInputError(
            f"cross-tenant relationship refused: `{path}` is not in tenant `{tenant_id}`",
            code="invalid_input",
        )
    return f"file:{path}"


class Calls:
    """Builds the calls of the API; tracks the revision token of this client's last write
    (else the last one seen), for read-your-writes."""

    def __init__(self) -> None:
        self.revision: str | None = None
        self._wrote = False

    def _track(self, reply: Reply) -> Json:
        body = reply.json()
        written = body.get("written_at") if isinstance(body, dict) else None
        if isinstance(written, str):
            self.revision = written
            self._wrote = True
        elif not self._wrote:
            seen = reply.headers.get("x-nexus-revision")
            if seen is None and isinstance(body, dict) and isinstance(body.get("revision"), str):
                seen = body["revision"]
            if seen is not None:
                self.revision = seen
        return body

    # -------------------------------------------------------------- files

    def read(self, path: str, version: int | None, byte_range: str | None) -> Call[bytes]:
        params = {"version": version} if version is not None else {}
        headers = {"range": f"bytes={byte_range}"} if byte_range else {}
        return Call(
            "GET",
            f"/api/fs/{encode_path(path)}",
            lambda reply: reply.content,
            params=params,
            headers=headers,
        )

    def write(
        self,
        path: str,
        data: Data,
        if_match: str | None,
        if_none_match: bool,
        parents: bool,
    ) -> Call[Entry]:
        headers: dict[str, str] = {}
        if if_match is not None:
            headers["if-match"] = f'"{if_match.strip(chr(34))}"'
        if if_none_match:
            headers["if-none-match"] = "*"
        return Call(
            "PUT",
            f"/api/fs/{encode_path(path)}",
            _entry,
            params={"parents": "true"} if parents else {},
            headers=headers,
            body=content_of(data),
        )

    def stat(self, path: str) -> Call[Entry]:
        return Call("GET", f"/api/stat/{encode_path(path)}", _entry)

    def exists(self, path: str) -> Call[bool]:
        return Call(
            "GET",
            f"/api/stat/{encode_path(path)}",
            lambda reply: reply.status == 200,
            accept=(404,),
        )

    def ls(self, path: str, recursive: bool, cursor: str | None) -> Call[tuple[list[Entry], str | None]]:
        params: dict[str, Any] = {"recursive": "true" if recursive else "false", "limit": 10000}
        if cursor:
            params["cursor"] = cursor
        encoded = encode_path(path)
        route = f"/api/ls/{encoded}" if encoded else "/api/ls"

        def parse(reply: Reply) -> tuple[list[Entry], str | None]:
            body = reply.json()
            return [Entry.from_json(e) for e in body["entries"]], body.get("next_cursor")

        return Call("GET", route, parse, params=params)

    def mkdir(self, path: str, parents: bool) -> Call[Entry]:
        return Call(
            "POST",
            f"/api/mkdir/{encode_path(path)}",
            _entry,
            params={"parents": "true"} if parents else {},
        )

    def rm(self, path: str, recursive: bool) -> Call[int]:
        return Call(
            "DELETE",
            f"/api/fs/{encode_path(path)}",
            lambda reply: int(reply.json()["removed"]),
            params={"recursive": "true"} if recursive else {},
        )

    def mv(self, src: str, dst: str, overwrite: bool) -> Call[Entry]:
        return Call("POST", "/api/mv", _entry, body=_json_body({"from": src, "to": dst, "overwrite": overwrite}))

    def cp(self, src: str, dst: str, recursive: bool, overwrite: bool) -> Call[Entry]:
        body = {"from": src, "to": dst, "recursive": recursive, "overwrite": overwrite}
        return Call("POST", "/api/cp", _entry, body=_json_body(body))

    def glob(self, pattern: str, limit: int | None) -> Call[list[str]]:
        return Call(
            "POST",
            "/api/glob",
            lambda reply: [e["path"] for e in reply.json()["entries"]],
            body=_json_body({"pattern": pattern, "limit": limit}),
        )

    def grep(self, pattern: str, path: str, ignore_case: bool, context: int, max_matches: int | None) -> Call[list[GrepMatch]]:
        body = {
            "pattern": pattern,
            "path": path,
            "ignore_case": ignore_case,
            "context": context,
            "max_matches": max_matches,
        }
        return Call(
            "POST",
            "/api/grep",
            lambda reply: [GrepMatch.from_json(m) for m in reply.json()["matches"]],
            body=_json_body(body),
        )

    def search(
        self,
        org: str,
        query: str,
        mode: str | None,
        filters: dict[str, str | None],
        limit: int | None,
        cursor: str | None,
        consistent: bool,
        explain: bool = False,
    ) -> Call[SearchResults]:
        body: dict[str, Any] = {
            "query": query,
            "mode": mode,
            "filters": {name: value for name, value in filters.items() if value is not None},
            "limit": limit,
            "cursor": cursor,
            "consistency": "fully_consistent" if consistent else None,
            "explain": explain,
        }
        return Call(
            "POST",
            f"/api/orgs/{quote(org, safe='')}/search",
            lambda reply: SearchResults.from_json(reply.json()),
            body=_json_body(body),
        )

    def versions(self, path: str) -> Call[list[Version]]:
        return Call(
            "GET",
            f"/api/versions/{encode_path(path)}",
            lambda reply: [Version.from_json(v) for v in reply.json()["versions"]],
        )

    # -------------------------------------------------------------- ACLs and ReBAC

    def setfacl(self, path: str, entry: str) -> Call[Acl]:
        return Call(
            "POST",
            "/api/acl",
            lambda reply: Acl.from_json(self._track(reply)),
            body=_json_body({"path": path, "entry": entry}),
        )

    def getfacl(self, path: str) -> Call[Acl]:
        return Call("GET", f"/api/acl/{encode_path(path)}", lambda reply: Acl.from_json(self._track(reply)))

    def rebac_write(
        self,
        operation: str,
        subject: Principal,
        relation: str,
        obj: Principal,
        tenant_id: str | None,
        expires_at: str | datetime | None,
    ) -> Call[str]:
        update: dict[str, Any] = {
            "operation": operation,
            "subject": principal_text(subject),
            "relation": relation,
            "object": file_object(obj, tenant_id),
        }
        if isinstance(expires_at, datetime):
            if expires_at.tzinfo is None:
                raise InvalidInputError("`expires_at` needs a time zone", code="invalid_input")
            update["expires_at"] = expires_at.isoformat()
        elif expires_at is not None:
            update["expires_at"] = expires_at
        return Call(
            "POST",
            "/api/rebac/relationships",
            lambda reply: str(self._track(reply)["written_at"]),
            body=_json_body({"updates": [update]}),
        )

    def rebac_check(
        self,
        subject: Principal,
        permission: str,
        obj: Principal,
        context: dict[str, Any] | None,
        at_least: str | None,
    ) -> Call[bool]:
        body = {
            "subject": principal_text(subject),
            "permission": permission,
            "object": file_object(obj, None),
            "context": context,
            "at_least": at_least or self.revision,
        }
        return Call(
            "POST",
            "/api/rebac/check",
            lambda reply: bool(self._track(reply)["allowed"]),
            body=_json_body(body),
        )

    def rebac_expand(self, permission: str, obj: Principal) -> Call[dict[str, Any]]:
        body = {"permission": permission, "object": file_object(obj, None), "recursive": True}
        return Call("POST", "/api/rebac/expand", lambda reply: self._track(reply)["tree"], body=_json_body(body))

    def rebac_lookup_resources(self, subject: Principal, permission: str, resource_type: str) -> Call[list[str]]:
        body = {"subject": principal_text(subject), "permission": permission, "resource_type": resource_type}
        return Call(
            "POST",
            "/api/rebac/lookup-resources",
            lambda reply: [r["id"] for r in self._track(reply)["resources"] if r["result"] == "has_permission"],
            body=_json_body(body),
        )

    def rebac_lookup_subjects(self, obj: Principal, permission: str, subject_type: str) -> Call[list[str]]:
        body = {"object": file_object(obj, None), "permission": permission, "subject_type": subject_type}
        return Call(
            "POST",
            "/api/rebac/lookup-subjects",
            lambda reply: [s["subject"] for s in self._track(reply)["subjects"] if s["result"] == "has_permission"],
            body=_json_body(body),
        )

    # -------------------------------------------------------------- identity and organizations

    def whoami(self) -> Call[dict[str, Any]]:
        return Call("GET", "/api/whoami", lambda reply: reply.json())

    def delegate(self, agent: str, expires_in: str, description: str) -> Call[dict[str, Any]]:
        body = {"agent": agent, "expires_in": expires_in, "description": description}
        return Call("POST", "/api/delegations", lambda reply: dict(reply.json()), body=_json_body(body))

    def delegations(self) -> Call[list[dict[str, Any]]]:
        return Call("GET", "/api/delegations", lambda reply: list(reply.json()["delegations"]))

    def revoke_delegation(self, id: str) -> Call[None]:
        return Call("DELETE", f"/api/delegations/{quote(id, safe='')}", lambda reply: None)

    def add_member(self, org: str, user_id: str, role: str, workspaces: list[str], kind: str) -> Call[dict[str, Any]]:
        body = {"user_id": user_id, "role": role, "workspaces": workspaces, "type": kind}
        return Call("POST", f"/api/orgs/{quote(org, safe='')}/members", lambda reply: reply.json(), body=_json_body(body))

    def remove_member(self, org: str, user_id: str) -> Call[dict[str, Any]]:
        return Call(
            "DELETE",
            f"/api/orgs/{quote(org, safe='')}/members/{quote(user_id, safe='@')}",
            lambda reply: reply.json(),
        )

    def list_members(self, org: str) -> Call[list[dict[str, Any]]]:
        return Call("GET", f"/api/orgs/{quote(org, safe='')}/members", lambda reply: reply.json()["members"])

    def create_org(self, org_id: str, name: str, workspaces: list[str]) -> Call[dict[str, Any]]:
        body = {"id": org_id, "name": name, "workspaces": workspaces}
        return Call("POST", "/api/orgs", lambda reply: reply.json(), body=_json_body(body))

    def list_orgs(self) -> Call[list[dict[str, Any]]]:
        return Call("GET", "/api/orgs", lambda reply: reply.json()["orgs"])

    # -------------------------------------------------------------- the knowledge layer

    @staticmethod
    def _org(org: str) -> str:
        return f"/api/orgs/{quote(org, safe='')}"

    def _item(self, org: str, key: str) -> str:
        return f"{self._org(org)}/items/{quote(key, safe=':')}"

    def create_item(
        self,
        org: str,
        env: str,
        kind: str,
        data: Mapping[str, Any],
        scope: str,
        item_id: str | None,
        session: str | None,
    ) -> Call[ItemCreated]:
        body: dict[str, Any] = {"env": env, "scope": scope, "kind": kind, "data": dict(data)}
        if item_id is not None:
            body["id"] = item_id
        if session is not None:
            body["session"] = session
        return Call(
            "POST",
            f"{self._org(org)}/items",
            lambda reply: ItemCreated.from_json(reply.json()),
            body=_json_body(body),
        )

    def get_item(self, org: str, key: str) -> Call[Item]:
        return Call("GET", self._item(org, key), lambda reply: Item.from_json(reply.json()))

    def update_item(self, org: str, key: str, data: Mapping[str, Any], if_match: str | None) -> Call[Item]:
        headers = {"if-match": f'"{if_match.strip(chr(34))}"'} if if_match is not None else {}
        return Call(
            "PUT",
            self._item(org, key),
            lambda reply: Item.from_json(reply.json()),
            headers=headers,
            body=_json_body({"data": dict(data)}),
        )

    def delete_item(self, org: str, key: str, if_match: str | None) -> Call[None]:
        headers = {"if-match": f'"{if_match.strip(chr(34))}"'} if if_match is not None else {}
        return Call("DELETE", self._item(org, key), lambda reply: None, headers=headers)

    def audit(self, filters: dict[str, Any], cursor: str | None) -> Call[tuple[list[AuditEntry], str | None]]:
        params = {name: value for name, value in filters.items() if value is not None}
        if cursor:
            params["cursor"] = cursor

        def parse(reply: Reply) -> tuple[list[AuditEntry], str | None]:
            body = reply.json()
            return [AuditEntry.from_json(entry) for entry in body["entries"]], body.get("next_cursor")

        return Call("GET", "/api/audit", parse, params=params)

    def changes(self, org: str, cursor: str | None) -> Call[tuple[list[Change], str | None]]:
        params: dict[str, Any] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor

        def parse(reply: Reply) -> tuple[list[Change], str | None]:
            body = reply.json()
            return [Change.from_json(entry) for entry in body["changes"]], body["next_cursor"]

        return Call("GET", f"{self._org(org)}/changes", parse, params=params)

    def notifications(self, unread: bool, cursor: str | None) -> Call[tuple[list[Notification], str | None]]:
        params: dict[str, Any] = {"limit": 1000}
        if unread:
            params["unread"] = "true"
        if cursor:
            params["cursor"] = cursor

        def parse(reply: Reply) -> tuple[list[Notification], str | None]:
            body = reply.json()
            return [Notification.from_json(entry) for entry in body["notifications"]], body["next_cursor"]

        return Call("GET", "/api/notifications", parse, params=params)

    def mark_notification_read(self, id: int) -> Call[None]:
        return Call("POST", f"/api/notifications/{int(id)}/read", lambda reply: None)

    def list_items(self, org: str, filters: dict[str, Any], cursor: str | None) -> Call[tuple[list[Item], str | None]]:
        params = {name: value for name, value in filters.items() if value is not None}
        if cursor:
            params["cursor"] = cursor

        def parse(reply: Reply) -> tuple[list[Item], str | None]:
            body = reply.json()
            return [Item.from_json(item) for item in body["items"]], body.get("next_cursor")

        return Call("GET", f"{self._org(org)}/items", parse, params=params)

    def share_item(
        self,
        org: str,
        key: str,
        users: list[str] | None,
        universal: bool,
        session: str | None,
        revoke: bool,
        groups: list[str] | None = None,
        role: str | None = None,
    ) -> Call[ItemAccess]:
        body: dict[str, Any] = {}
        if groups is not None:
            body["groups"] = groups
        if role is not None:
            body["role"] = role
        if users is not None:
            body["users"] = users
        if universal:
            body["universal"] = True
        if session is not None:
            body["session"] = session
        verb = "unshare" if revoke else "share"
        return Call(
            "POST",
            f"{self._item(org, key)}/{verb}",
            lambda reply: ItemAccess.from_json(reply.json()),
            body=_json_body(body),
        )

    def item_access(self, org: str, key: str) -> Call[ItemAccess]:
        return Call("GET", f"{self._item(org, key)}/access", lambda reply: ItemAccess.from_json(reply.json()))

    def assign_item(self, org: str, key: str, assignees: list[str]) -> Call[Item]:
        return Call(
            "POST",
            f"{self._item(org, key)}/assign",
            lambda reply: Item.from_json(reply.json()),
            body=_json_body({"assignees": assignees}),
        )

    def resolve_workflow(self, org: str) -> Call[list[ResolvedProtocol]]:
        return Call(
            "GET",
            f"{self._org(org)}/workflow/resolved",
            lambda reply: [ResolvedProtocol.from_json(p) for p in reply.json()["protocols"]],
        )

    def manager(self, org: str, user: str) -> Call[ReportingLine]:
        return Call(
            "GET",
            f"{self._org(org)}/users/{quote(user, safe='@')}/manager",
            lambda reply: ReportingLine.from_json(reply.json()),
        )

    def set_manager(self, org: str, user: str, manager: str | None) -> Call[ReportingLine]:
        return Call(
            "PUT",
            f"{self._org(org)}/users/{quote(user, safe='@')}/manager",
            lambda reply: ReportingLine.from_json(reply.json()),
            body=_json_body({"manager": manager}),
        )

    def start_session(self, org: str, title: str, group: bool, members: list[str]) -> Call[Session]:
        body = {"title": title, "type": "group" if group else "solo", "members": members}
        return Call(
            "POST",
            f"{self._org(org)}/sessions",
            lambda reply: Session.from_json(reply.json()),
            body=_json_body(body),
        )

    def list_sessions(self, org: str, active: bool | None) -> Call[list[Session]]:
        params = {"active": "true" if active else "false"} if active is not None else {}
        return Call(
            "GET",
            f"{self._org(org)}/sessions",
            lambda reply: [Session.from_json(s) for s in reply.json()["sessions"]],
            params=params,
        )

    def get_session(self, org: str, session: str) -> Call[Session]:
        return Call(
            "GET",
            f"{self._org(org)}/sessions/{quote(session, safe='')}",
            lambda reply: Session.from_json(reply.json()),
        )

    def add_session_member(self, org: str, session: str, user: str) -> Call[Session]:
        return Call(
            "POST",
            f"{self._org(org)}/sessions/{quote(session, safe='')}/members",
            lambda reply: Session.from_json(reply.json()),
            body=_json_body({"user_id": user}),
        )

    def end_session(self, org: str, session: str) -> Call[Session]:
        return Call(
            "POST",
            f"{self._org(org)}/sessions/{quote(session, safe='')}/end",
            lambda reply: Session.from_json(reply.json()),
        )

    # -------------------------------------------------------------- accounts (system administrators)

    def lock_user(self, user: str) -> Call[dict[str, Any]]:
        return Call("POST", f"/api/admin/users/{quote(user, safe='@')}/lock", lambda reply: reply.json())

    def unlock_user(self, user: str) -> Call[dict[str, Any]]:
        return Call("POST", f"/api/admin/users/{quote(user, safe='@')}/unlock", lambda reply: reply.json())

    def lockout_user(self, user: str) -> Call[dict[str, Any]]:
        return Call("POST", f"/api/admin/users/{quote(user, safe='@')}/lockout", lambda reply: reply.json())

    def export_org(self, org: str) -> Call[bytes]:
        return Call("GET", f"/api/admin/orgs/{quote(org, safe='')}/export", lambda reply: reply.content)

    def import_org(self, archive: bytes, replace: bool) -> Call[dict[str, Any]]:
        return Call(
            "POST",
            "/api/admin/orgs/import",
            lambda reply: reply.json(),
            params={"replace": "true" if replace else "false"},
            headers={"content-type": "application/zstd"},
            body=archive,
        )

    def delete_user(self, user: str) -> Call[dict[str, Any]]:
        return Call("DELETE", f"/api/admin/users/{quote(user, safe='@')}", lambda reply: reply.json())
