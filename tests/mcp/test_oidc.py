"""`/mcp` as the resource server of an external OAuth 2.1 / OpenID Connect authorization
server (`auth.oidc`): its access tokens are verified with the keys of its JWKS document, and
must be meant for this server (`aud`)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import CONFIG, Nexus, run, serve

ISSUER = "https://login.example.test/realms/acme"
AUDIENCE = "https://nexus.example.test/mcp"


def b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwks(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = key.public_key().public_numbers()
    return {"keys": [{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(public.n), "e": b64(public.e)}]}


SIGNING = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def access_token(sub: str, *, key: rsa.RSAPrivateKey = SIGNING, kid: str = "k1", **claims: object) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


@pytest.fixture
def oidc(tmp_path: Path) -> Iterator[Nexus]:
    (tmp_path / "idp-jwks.json").write_text(json.dumps(jwks(SIGNING, "k1")))
    config = CONFIG.replace(
        "  audience: nexus-mcp-tests\n",
        f"  audience: nexus-mcp-tests\n  oidc:\n    issuer: {ISSUER}\n    audience: {AUDIENCE}\n    jwks_file: idp-jwks.json\n",
    )
    assert "oidc:" in config
    running, process = serve(tmp_path, config)
    try:
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_issuers_tokens_act_for_their_subject(oidc: Nexus) -> None:
    metadata = oidc.rest("GET", "/.well-known/oauth-protected-resource/mcp", None).body
    assert metadata["authorization_servers"] == [ISSUER]

    async def check() -> None:
        async with oidc.http(access_token("bob@acme.com")) as client:
            result = await client.call_tool("whoami", {})
            assert not result.is_error and result.structured_content is not None
            assert result.structured_content["handle"] == "bob@acme.com"
        # Token exchange: the agent acting for bob (RFC 8693 `act`).
        async with oidc.http(access_token("bob@acme.com", act={"sub": "agent:helper"})) as client:
            result = await client.call_tool("whoami", {})
            assert result.structured_content is not None
            assert result.structured_content["kind"] == "agent"
            assert result.structured_content["on_behalf_of"] == "user:bob@acme.com"

    run(check())


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: access_token("bob@acme.com", aud="https://other.example.test"), "audience"),
        (lambda: access_token("bob@acme.com", key=OTHER), "signature"),
        (lambda: access_token("bob@acme.com", kid="k9"), "signing key"),
        (lambda: access_token("bob@acme.com", exp=int(time.time()) - 3600), "expired"),
        (lambda: access_token("mallory@evil.test"), "not a known user"),
        (lambda: access_token("bob@acme.com", iss="https://login.example.test/realms/other"), "issuer"),
    ],
)
def test_tokens_not_meant_for_this_server_are_refused(oidc: Nexus, token: Any, reason: str) -> None:
    refused = oidc.rest("POST", "/mcp", token(), {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert refused.status == 401, refused.body
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert reason in refused.body["error"]["message"], refused.body
