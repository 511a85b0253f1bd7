"""Values returned by Nexus clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
