"""Values returned by Nexus clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict


@dataclass(frozen=True)
class Entry:
    """A file or directory."""

    path: str
    name: str
    is_dir: bool
    size: int
    version: int
    etag: str | None
    created_at: str
    modified_at: str
    author: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            path=data["path"],
            name=data["name"],
            is_dir=data["kind"] == "directory",
            size=int(data.get("size", 0)),
            version=int(data.get("version", 0)),
            etag=data.get("etag"),
            created_at=data.get("created_at", ""),
            modified_at=data.get("modified_at", ""),
            author=data.get("author", ""),
        )


@dataclass(frozen=True)
class Version:
    """One stored version of a file."""

    version: int
    size: int
    etag: str
    created_at: str
    author: str
    current: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Version:
        return cls(
            version=int(data["version"]),
            size=int(data["size"]),
            etag=data["etag"],
            created_at=data.get("created_at", ""),
            author=data.get("author", ""),
            current=bool(data.get("current", False)),
        )


@dataclass(frozen=True)
class GrepMatch:
    """A line matching a grep."""

    path: str
    line_number: int
    text: str
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GrepMatch:
        return cls(
            path=data["path"],
            line_number=int(data["line_number"]),
            text=data["text"],
            before=[line["text"] for line in data.get("before", [])],
            after=[line["text"] for line in data.get("after", [])],
        )


@dataclass(frozen=True)
class SearchHit:
    """One search result: a file, or a knowledge item (`key`)."""

    path: str
    score: float
    snippet: str
    modified: str
    key: str | None = None
    env: str | None = None
    kind: str | None = None
    scope: str | None = None
    why: list[str] | None = None
    """With `explain=True`: the relationship path from the document to you, step by step."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchHit:
        return cls(
            path=data["path"],
            score=float(data["score"]),
            snippet=data["snippet"],
            modified=data["modified"],
            key=data.get("key"),
            env=data.get("env"),
            kind=data.get("kind"),
            scope=data.get("scope"),
            why=data.get("why"),
        )


@dataclass(frozen=True)
class SearchResults:
    """A page of search results; `total` counts only what the caller may read."""

    hits: list[SearchHit]
    total: int
    mode: str
    indexed_revision: int
    next_cursor: str | None = None
    notice: str | None = None
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    """Readable matches by knowledge item `env`, `kind` and `scope` (all pages)."""
    approximate: bool = False
    """Whether semantic neighbours came from the index's graphs (`total` may then leave
    out a few as similar)."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchResults:
        return cls(
            hits=[SearchHit.from_json(hit) for hit in data["hits"]],
            total=int(data["total"]),
            mode=data["mode"],
            indexed_revision=int(data["indexed_revision"]),
            next_cursor=data.get("next_cursor"),
            notice=data.get("notice"),
            facets={name: {value: int(count) for value, count in counts.items()}
                    for name, counts in data.get("facets", {}).items()},
            approximate=bool(data.get("approximate", False)),
        )


@dataclass(frozen=True)
class AclEntry:
    subject: str
    mode: str


@dataclass(frozen=True)
class Acl:
    """The ACL entries and role grants stored on a path."""

    path: str
    entries: list[AclEntry]
    roles: list[tuple[str, str]]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Acl:
        return cls(
            path=data["path"],
            entries=[AclEntry(e["subject"], e["mode"]) for e in data.get("entries", [])],
            roles=[(r["relation"], r["subject"]) for r in data.get("roles", [])],
        )


# ------------------------------------------------------------------ the knowledge layer


@dataclass(frozen=True)
class Item:
    """A knowledge item: its key (`env:scope:YYYYMMDD:kind:id`), the file holding it, and
    its data (the environment's schema; see the `*Data` types below)."""

    key: str
    env: str
    scope: str
    date: str
    kind: str
    id: str
    path: str
    etag: str
    version: int
    owner: str
    author: str
    modified_at: str
    data: dict[str, Any]
    expires_at: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Item:
        return cls(
            key=data["key"],
            env=data["env"],
            scope=data["scope"],
            date=data["date"],
            kind=data["kind"],
            id=data["id"],
            path=data["path"],
            etag=data["etag"],
            version=int(data["version"]),
            owner=data.get("owner", ""),
            author=data.get("author", ""),
            modified_at=data.get("modified_at", ""),
            data=dict(data.get("data") or {}),
            expires_at=data.get("expires_at"),
        )


@dataclass(frozen=True)
class SharingHint:
    """The offer to share a new item with the group session its creator works in."""

    session: str
    title: str
    members: list[str]
    message: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SharingHint:
        return cls(
            session=data["session"],
            title=data["title"],
            members=list(data.get("members", [])),
            message=data.get("message", ""),
        )


@dataclass(frozen=True)
class ItemCreated:
    """What creating an item answers: the item, and a sharing hint when it applies."""

    item: Item
    sharing_hint: SharingHint | None

    @property
    def key(self) -> str:
        return self.item.key

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemCreated:
        hint = data.get("sharing_hint")
        return cls(
            item=Item.from_json(data["item"]),
            sharing_hint=SharingHint.from_json(hint) if hint else None,
        )


@dataclass(frozen=True)
class Reader:
    """Someone who may read an item, and why (`owner`, `universal`, `session`, `shared`,
    `assignee`, `manager`, `org_admin`, `acl`)."""

    subject: str
    via: list[str]


@dataclass(frozen=True)
class Change:
    """One change of an organization's feed that you may read: `action` is `created`,
    `updated`, `removed`, `moved` or `shared`; a file's `path` or an item's `key`; `to` is a
    move's destination."""

    revision: int
    action: str
    at: str
    path: str | None = None
    key: str | None = None
    to: str | None = None
    author: str | None = None

    @staticmethod
    def from_json(data: dict[str, Any]) -> Change:
        return Change(
            revision=data["revision"],
            action=data["action"],
            at=data["at"],
            path=data.get("path"),
            key=data.get("key"),
            to=data.get("to"),
            author=data.get("author"),
        )


@dataclass(frozen=True)
class Notification:
    """One notification of your feed: `kind` is `reminder` (a Chrono reminder fell due),
    `session_added` or `shared`; `id` numbers your feed from 1."""

    id: int
    kind: str
    title: str
    created_at: str
    read: bool
    item_key: str | None = None
    org: str | None = None

    @staticmethod
    def from_json(data: dict[str, Any]) -> Notification:
        return Notification(
            id=data["id"],
            kind=data["kind"],
            title=data["title"],
            created_at=data["created_at"],
            read=data["read"],
            item_key=data.get("item_key"),
            org=data.get("org"),
        )


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log: who (`actor`, by handle) did what (`action`, the API
    operation) to what (`target`), and how it ended (`outcome`: `ok` or an error code)."""

    at: str
    actor: str
    action: str
    target: str
    outcome: str
    org: str | None = None
    on_behalf_of: str | None = None
    request_id: str | None = None
    client: str | None = None
    user_agent: str | None = None

    @staticmethod
    def from_json(data: dict[str, Any]) -> AuditEntry:
        return AuditEntry(
            at=data["at"],
            actor=data["actor"],
            action=data["action"],
            target=data["target"],
            outcome=data["outcome"],
            org=data.get("org"),
            on_behalf_of=data.get("on_behalf_of"),
            request_id=data.get("request_id"),
            client=data.get("client"),
            user_agent=data.get("user_agent"),
        )


@dataclass(frozen=True)
class ItemAccess:
    """Who can read an item, and why."""

    key: str
    readers: list[Reader]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemAccess:
        return cls(
            key=data["key"],
            readers=[Reader(r["subject"], list(r.get("via", []))) for r in data.get("readers", [])],
        )


@dataclass(frozen=True)
class Session:
    """A session, in the seed's shape."""

    session_id: str
    stable_id: str
    type: str
    owner: str
    members: list[str]
    title: str
    shared_items: dict[str, list[str]]
    active: bool
    created_at: str
    ended_at: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        return cls(
            session_id=data["session_id"],
            stable_id=data["stable_id"],
            type=data["type"],
            owner=data["owner"],
            members=list(data.get("members", [])),
            title=data["title"],
            shared_items={k: list(v) for k, v in (data.get("shared_items") or {}).items()},
            active=bool(data.get("active", False)),
            created_at=data.get("created_at", ""),
            ended_at=data.get("ended_at"),
        )


@dataclass(frozen=True)
class ResolvedProtocol:
    """One effective workflow protocol: `source` is `UNIV` or the caller's stable id."""

    name: str
    source: str
    key: str
    overrides: list[str]
    data: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResolvedProtocol:
        return cls(
            name=data["name"],
            source=data["source"],
            key=data["key"],
            overrides=list(data.get("overrides", [])),
            data=dict(data.get("data") or {}),
        )


@dataclass(frozen=True)
class ReportingLine:
    """A member's manager and subordinates, by stable id."""

    user: str
    manager: str | None
    subordinates: list[str]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportingLine:
        return cls(
            user=data["user"],
            manager=data.get("manager"),
            subordinates=list(data.get("subordinates", [])),
        )


# The environments' data, as `TypedDict`s (the server validates them and refuses unknown
# fields; the OpenAPI document has the same schemas).


class UserProfileData(TypedDict):
    display_name: str
    handle: NotRequired[str]
    manager: NotRequired[str]
    subordinates: NotRequired[list[str]]
    preferences: NotRequired[dict[str, Any]]


class LockerData(TypedDict):
    """A secret: `secret` is returned only by `get_item` to those who may read it."""

    name: str
    secret: NotRequired[str]
    username: NotRequired[str]
    url: NotRequired[str]
    notes: NotRequired[str]


class TrackItemData(TypedDict):
    title: str
    status: NotRequired[Literal["todo", "in_progress", "blocked", "done"]]
    assignees: NotRequired[list[str]]
    due: NotRequired[str]
    description: NotRequired[str]
    project: NotRequired[str]


class KbLinkData(TypedDict):
    rel: str
    to: str


class KbNodeData(TypedDict):
    title: str
    body: NotRequired[str]
    tags: NotRequired[list[str]]
    links: NotRequired[list[KbLinkData]]


class ContactData(TypedDict):
    name: str
    email: NotRequired[str]
    phone: NotRequired[str]
    company: NotRequired[str]
    notes: NotRequired[str]


class SessionTemplateData(TypedDict, total=False):
    title: str
    type: Literal["solo", "group"]
    description: str


class ContextNoteData(TypedDict):
    text: str
    title: NotRequired[str]
    tags: NotRequired[list[str]]


class DocumentData(TypedDict):
    title: str
    body: NotRequired[str]
    format: NotRequired[Literal["markdown", "text"]]
    tags: NotRequired[list[str]]


class LinkData(TypedDict):
    url: str
    title: NotRequired[str]
    description: NotRequired[str]
    tags: NotRequired[list[str]]


class WorkflowProtocolData(TypedDict):
    name: str
    description: NotRequired[str]
    steps: NotRequired[list[str]]
    settings: NotRequired[dict[str, Any]]


class TempItemData(TypedDict, total=False):
    text: str
    content: Any
    expires_at: str


class TranscriptData(TypedDict):
    title: str
    text: str
    recorded_at: NotRequired[str]
    participants: NotRequired[list[str]]


class ReminderData(TypedDict):
    title: str
    due: str
    recurrence: NotRequired[Literal["daily", "weekly", "monthly"]]
    note: NotRequired[str]


ItemData = (
    UserProfileData
    | LockerData
    | TrackItemData
    | KbNodeData
    | ContactData
    | SessionTemplateData
    | ContextNoteData
    | DocumentData
    | LinkData
    | WorkflowProtocolData
    | TempItemData
    | TranscriptData
    | ReminderData
    | dict[str, Any]
)
