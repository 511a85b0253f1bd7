"""The client against the server's OpenAPI document (generated from the server's types):
every error code has an exception class, and every call the clients make is an operation
the document describes, with a body its schema accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from nexus._calls import Call, Calls
from nexus.errors import _BY_CODE, _BY_STATUS

DOCUMENT = json.loads(
    (Path(__file__).resolve().parents[3] / "crates" / "nexus-server" / "openapi.json").read_text()
)
SCHEMAS = DOCUMENT["components"]["schemas"]


def test_every_error_code_has_a_class_and_statuses_agree() -> None:
    codes = DOCUMENT["components"]["schemas"]["ErrorCode"]
    assert set(_BY_CODE) == set(codes["enum"])
    statuses: dict[str, int] = codes["x-status"]
    for status, kind in _BY_STATUS.items():
        classes = {_BY_CODE[code] for code, answered in statuses.items() if answered == status}
        assert kind in classes, (status, kind, classes)


def _operation(method: str, route: str) -> dict[str, Any]:
    path = route.split("?", 1)[0]
    for template, item in DOCUMENT["paths"].items():
        # `{path}` may hold `/`; other parameters are one segment.
        pattern = re.escape(template).replace(r"\{path\}", ".+")
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", pattern)
        if re.fullmatch(pattern, path) and method.lower() in item:
            return item[method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {route} is not in the OpenAPI document")


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    return schema


def _properties(schema: dict[str, Any]) -> tuple[set[str], set[str]]:
    schema = _resolve(schema)
    names = set(schema.get("properties", {}))
    required = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        more, needed = _properties(part)
        names |= more
        required |= needed
    return names, required


CALLS: list[tuple[str, Any]] = [
    ("read", lambda c: c.read("/orgs/acme/a b/c.md", 2, "0-9")),
    ("write", lambda c: c.write("/orgs/acme/x.txt", "hi", "v1-abc", False, True)),
    ("stat", lambda c: c.stat("/orgs/acme/x.txt")),
    ("exists", lambda c: c.exists("/orgs/acme/x.txt")),
    ("ls", lambda c: c.ls("/orgs/acme", True, "cursor")),
    ("ls root", lambda c: c.ls("/", False, None)),
    ("mkdir", lambda c: c.mkdir("/orgs/acme/d", True)),
    ("rm", lambda c: c.rm("/orgs/acme/d", True)),
    ("mv", lambda c: c.mv("/orgs/acme/a", "/orgs/acme/b", True)),
    ("cp", lambda c: c.cp("/orgs/acme/a", "/orgs/acme/b", True, False)),
    ("glob", lambda c: c.glob("/orgs/**/*.md", 10)),
    ("grep", lambda c: c.grep("TODO", "/orgs/acme", True, 2, 5)),
    ("search", lambda c: c.search("acme", "deploy", "hybrid", {"path_prefix": "/orgs/acme/eng", "env": None}, 20, None, True)),
    ("versions", lambda c: c.versions("/orgs/acme/x.txt")),
    ("setfacl", lambda c: c.setfacl("/orgs/acme/d", "user:bob@acme.com:r--")),
    ("getfacl", lambda c: c.getfacl("/orgs/acme/d")),
    ("rebac_write", lambda c: c.rebac_write("create", "user:bob", "viewer", "/orgs/acme/d", None, "2030-01-01T00:00:00Z")),
    ("rebac_check", lambda c: c.rebac_check("user:bob", "read", "/orgs/acme/d", {"ip": "1"}, None)),
    ("rebac_expand", lambda c: c.rebac_expand("read", "/orgs/acme/d")),
    ("rebac_lookup_resources", lambda c: c.rebac_lookup_resources("user:bob", "read", "file")),
    ("rebac_lookup_subjects", lambda c: c.rebac_lookup_subjects("/orgs/acme/d", "read", "user")),
    ("whoami", lambda c: c.whoami()),
    ("delegate", lambda c: c.delegate("helper", "1h", "laptop")),
    ("delegations", lambda c: c.delegations()),
    ("revoke_delegation", lambda c: c.revoke_delegation("key_0")),
    ("add_member", lambda c: c.add_member("acme", "bob@acme.com", "member", ["eng"], "human")),
    ("remove_member", lambda c: c.remove_member("acme", "bob@acme.com")),
    ("list_members", lambda c: c.list_members("acme")),
    ("create_org", lambda c: c.create_org("acme", "Acme", ["eng"])),
    ("list_orgs", lambda c: c.list_orgs()),
    ("create_item", lambda c: c.create_item("acme", "kb", "node", {"title": "x"}, "UNIV", "abc", "s_grp1")),
    ("get_item", lambda c: c.get_item("acme", "kb:UNIV:20260103:node:abc")),
    ("update_item", lambda c: c.update_item("acme", "kb:UNIV:20260103:node:abc", {"title": "y"}, "v1-abc")),
    ("delete_item", lambda c: c.delete_item("acme", "kb:UNIV:20260103:node:abc", "v1-abc")),
    ("list_items", lambda c: c.list_items("acme", {"env": "kb", "scope": "personal", "kind": "node", "owner": "bob", "since": "20260101", "until": "20261231", "q": "x", "limit": 10}, "cursor")),
    ("share_item", lambda c: c.share_item("acme", "kb:u_z1p5:20260103:node:abc", ["bob@acme.com"], False, None, False)),
    ("share_item universal", lambda c: c.share_item("acme", "kb:u_z1p5:20260103:node:abc", None, True, None, True)),
    ("share_item groups", lambda c: c.share_item("acme", "user:u_z1p5:20260103:profile:me", None, False, None, False, ["eng"], "admin")),
    ("item_access", lambda c: c.item_access("acme", "kb:u_z1p5:20260103:node:abc")),
    ("assign_item", lambda c: c.assign_item("acme", "track:u_z1p5:20260103:task:abc", ["bob@acme.com"])),
    ("resolve_workflow", lambda c: c.resolve_workflow("acme")),
    ("manager", lambda c: c.manager("acme", "bob@acme.com")),
    ("set_manager", lambda c: c.set_manager("acme", "bob@acme.com", "mona@acme.com")),
    ("start_session", lambda c: c.start_session("acme", "Sprint", True, ["bob@acme.com"])),
    ("list_sessions", lambda c: c.list_sessions("acme", True)),
    ("get_session", lambda c: c.get_session("acme", "s_grp1")),
    ("add_session_member", lambda c: c.add_session_member("acme", "s_grp1", "bob@acme.com")),
    ("end_session", lambda c: c.end_session("acme", "s_grp1")),
    ("lock_user", lambda c: c.lock_user("bob@acme.com")),
    ("unlock_user", lambda c: c.unlock_user("bob@acme.com")),
    ("lockout_user", lambda c: c.lockout_user("bob@acme.com")),
    ("audit", lambda c: c.audit({"org": "acme"}, None)),
    ("notifications", lambda c: c.notifications(True, "cursor")),
    ("changes", lambda c: c.changes("acme", "cursor")),
    ("mark_notification_read", lambda c: c.mark_notification_read(3)),
    ("delete_user", lambda c: c.delete_user("bob@acme.com")),
    ("export_org", lambda c: c.export_org("acme")),
    ("import_org", lambda c: c.import_org(b"archive", True)),
]


def test_every_call_method_is_exercised_here() -> None:
    public = {name for name in vars(Calls) if not name.startswith("_")}
    assert public <= {name.split(" ")[0] for name, _ in CALLS}


@pytest.mark.parametrize("name,make", CALLS, ids=[name for name, _ in CALLS])
def test_each_call_is_a_documented_operation_with_a_valid_body(name: str, make: Any) -> None:
    call: Call[Any] = make(Calls())
    operation = _operation(call.method, call.route)
    documented = {
        (parameter["in"], parameter["name"].lower()) for parameter in operation.get("parameters", [])
    }
    for param in call.params:
        assert ("query", param.lower()) in documented, (name, param)
    for header in call.headers:
        if header.lower() not in ("content-type", "accept"):
            assert ("header", header.lower()) in documented, (name, header)
    body = operation.get("requestBody")
    if call.body is None:
        assert body is None or not body.get("required", False), name
        return
    assert body is not None, f"{name} sends a body the operation does not take"
    content = body["content"]
    if "application/json" not in content:
        assert "application/octet-stream" in content or "application/zstd" in content, name
        return
    sent = json.loads(call.body)
    names, required = _properties(content["application/json"]["schema"])
    assert set(sent) <= names, (name, set(sent) - names)
    assert required <= set(sent), (name, required - set(sent))
