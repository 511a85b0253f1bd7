"""Synchronous client for a Nexus server."""

# Generated with the synchronous and asynchronous twins from one list of methods; both
# delegate to `_calls`, so they cannot drift apart.

from __future__ import annotations

import os
from typing import Any

import httpx

from ._calls import Call, Calls, Data, Principal, Reply, check
from .errors import UnavailableError
from .types import Acl, Entry, GrepMatch, Version


def _base_url(url: str | None, host: str | None, port: int | None) -> str:
    if url:
        return url.rstrip("/")
    if host:
        return f"http://{host}:{port or 8080}"
    env = os.environ.get("NEXUS_URL")
    if env:
        return env.rstrip("/")
    env_host = os.environ.get("NEXUS_HOST")
    if env_host:
        return f"http://{env_host}:{os.environ.get('NEXUS_PORT', '8080')}"
    return "http://localhost:8080"


def _credential(api_key: str | None, token: str | None) -> str | None:
    return api_key or token or os.environ.get("NEXUS_API_KEY") or os.environ.get("NEXUS_TOKEN")


class Organizations:
    """Organization and member management (`client.orgs`)."""

    def __init__(self, client: RemoteNexusClient) -> None:
        self._client = client

    def add_member(self, org_id: str, user_id: str, role: str = "member", workspaces: list[str] | None = None, *, type: str = "human") -> dict[str, Any]:
        """Adds a member: `org.json` and access change in one transaction (`InvalidInputError` if
        already a member)."""
        return self._client._run(self._client._calls.add_member(org_id, user_id, role, workspaces or [], type))

    def remove_member(self, org_id: str, user_id: str) -> dict[str, Any]:
        """Removes a member: all their access in the organization ends at once."""
        return self._client._run(self._client._calls.remove_member(org_id, user_id))

    def list_members(self, org_id: str) -> list[dict[str, Any]]:
        """The `members` array of `org.json`."""
        return self._client._run(self._client._calls.list_members(org_id))

    def create(self, org_id: str, name: str, workspaces: list[str] | None = None) -> dict[str, Any]:
        """Creates an organization (system administrators)."""
        return self._client._run(self._client._calls.create_org(org_id, name, workspaces or []))

    def mine(self) -> list[dict[str, Any]]:
        """The caller's organizations (every one, for a system administrator)."""
        return self._client._run(self._client._calls.list_orgs())


class RemoteNexusClient:
    """A connection to a Nexus server.

    `RemoteNexusClient(host="localhost", port=8080, api_key="...")` as in the seed, or
    `url=` and `token=` (a JWT). Without arguments, `NEXUS_URL` (or `NEXUS_HOST` and
    `NEXUS_PORT`) and `NEXUS_API_KEY` (or `NEXUS_TOKEN`) are used. The client remembers the
    newest revision it has seen, so its permission checks see its own writes.
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
        headers = {"authorization": f"Bearer {credential}"} if credential else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self._calls = Calls()
        self.orgs = Organizations(self)

    @property
    def revision(self) -> int:
        """The newest revision this client has written or seen."""
        return self._calls.revision

    def close(self) -> None:
        """Closes the connection pool."""
        self._http.close()

    def __enter__(self) -> RemoteNexusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, call: Call[Any]) -> Any:
        try:
            response = self._http.request(
                call.method,
                call.route,
                params=call.params,
                headers=call.headers,
                content=call.body,
            )
        except httpx.HTTPError as error:
            raise UnavailableError(
                f"cannot reach the Nexus server at {self.url}: {error}", code="unavailable"
            ) from error
        reply = Reply(response.status_code, response.headers, response.content)
        if reply.status in call.accept:
            return call.parse(reply)
        return call.parse(check(reply))

    def read(self, path: str, *, version: int | None = None, range: str | None = None) -> bytes:
        """The content of a file (`range`: `START-END`, `START-` or `-LAST`; `version`: an old one)."""
        return self._run(self._calls.read(path, version, range))

    def write(self, path: str, data: Data, *, if_match: str | None = None, if_none_match: bool = False, parents: bool = False) -> Entry:
        """Creates or replaces a file. `data` is text, bytes, or a dict/list stored as JSON. With
        `if_match`, only if the file's etag is that one; with `if_none_match`, only if it does
        not exist (else `ConflictError`, carrying the current etag)."""
        return self._run(self._calls.write(path, data, if_match, if_none_match, parents))

    def stat(self, path: str) -> Entry:
        """Metadata of a file or directory."""
        return self._run(self._calls.stat(path))

    def exists(self, path: str) -> bool:
        """Whether the path exists (and the caller may know it)."""
        return self._run(self._calls.exists(path))

    def mkdir(self, path: str, *, parents: bool = False) -> Entry:
        """Creates a directory (`parents`: also missing ancestors)."""
        return self._run(self._calls.mkdir(path, parents))

    def rm(self, path: str, *, recursive: bool = False) -> int:
        """Removes a file or directory; returns how many entries were removed."""
        return self._run(self._calls.rm(path, recursive))

    def mv(self, src: str, dst: str, *, overwrite: bool = False) -> Entry:
        """Moves or renames."""
        return self._run(self._calls.mv(src, dst, overwrite))

    def cp(self, src: str, dst: str, *, recursive: bool = False, overwrite: bool = False) -> Entry:
        """Copies (content is shared, not duplicated)."""
        return self._run(self._calls.cp(src, dst, recursive, overwrite))

    def glob(self, pattern: str, *, limit: int | None = None) -> list[str]:
        """Paths matching a glob (`*`, `?`, `**`, `[...]`, `{a,b}`)."""
        return self._run(self._calls.glob(pattern, limit))

    def grep(self, pattern: str, path: str = "/orgs", *, ignore_case: bool = False, context: int = 0, max_matches: int | None = None) -> list[GrepMatch]:
        """Lines matching a regular expression in the files at `path`."""
        return self._run(self._calls.grep(pattern, path, ignore_case, context, max_matches))

    def versions(self, path: str) -> list[Version]:
        """The stored versions of a file, newest first."""
        return self._run(self._calls.versions(path))

    def setfacl(self, path: str, entry: str) -> Acl:
        """Sets one subject's ACL entry (`user:bob@acme.com:rw-`; `---` removes it)."""
        return self._run(self._calls.setfacl(path, entry))

    def getfacl(self, path: str) -> Acl:
        """The ACL entries and role grants stored on a path."""
        return self._run(self._calls.getfacl(path))

    def rebac_create(self, subject: Principal, relation: str, object: Principal, tenant_id: str | None = None, expires_at: str | None = None) -> int:
        """Creates a relationship (fails if it exists); returns the revision written. A cross-tenant
        relationship raises `InvalidInputError`, which is a `ValueError`."""
        return self._run(self._calls.rebac_write("create", subject, relation, object, tenant_id, expires_at))

    def rebac_delete(self, subject: Principal, relation: str, object: Principal, tenant_id: str | None = None) -> int:
        """Deletes a relationship; returns the revision."""
        return self._run(self._calls.rebac_write("delete", subject, relation, object, tenant_id, None))

    def rebac_check(self, subject: Principal, permission: str, object: Principal, *, context: dict[str, Any] | None = None, at_least: int | None = None) -> bool:
        """Whether `subject` has `permission` on `object`, at least as fresh as this client's writes
        and `at_least` (a revision another client wrote, e.g. its `.revision`)."""
        return self._run(self._calls.rebac_check(subject, permission, object, context, at_least))

    def rebac_expand(self, permission: str, object: Principal) -> dict[str, Any]:
        """The tree of why."""
        return self._run(self._calls.rebac_expand(permission, object))

    def rebac_lookup_resources(self, subject: Principal, permission: str, resource_type: str = "file") -> list[str]:
        """Ids of objects on which `subject` has `permission`."""
        return self._run(self._calls.rebac_lookup_resources(subject, permission, resource_type))

    def rebac_lookup_subjects(self, object: Principal, permission: str, subject_type: str = "user") -> list[str]:
        """Subjects with `permission` on `object`."""
        return self._run(self._calls.rebac_lookup_subjects(object, permission, subject_type))

    def whoami(self) -> dict[str, Any]:
        """Who the credentials name, and their organizations."""
        return self._run(self._calls.whoami())

    def read_text(self, path: str, *, encoding: str = "utf-8") -> str:
        """The content of a text file."""
        return (self.read(path)).decode(encoding)

    def read_json(self, path: str) -> Any:
        """The content of a JSON file, parsed."""
        import json

        return json.loads(self.read(path))

    def ls(self, path: str = "/", *, recursive: bool = False) -> list[Entry]:
        """The entries of a directory (every page), with `.name`, `.path`, `.is_dir`,
        `.size`, `.modified_at`."""
        entries: list[Entry] = []
        cursor: str | None = None
        while True:
            page, cursor = self._run(self._calls.ls(path, recursive, cursor))
            entries.extend(page)
            if not cursor:
                return entries
