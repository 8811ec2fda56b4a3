"""Bearer-token verification and the identity rule."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from unison_devstack.tokens import mint_token
from unison_shared.auth import ACT_FOR_PERSON_SCOPE
from unison_shared.errors import Forbidden
from unison_shared.settings import AuthSettings

from .conftest import SECRET, build_app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token(**kw) -> str:
    kw.setdefault("person_id", "alice")
    kw.setdefault("household_id", "home")
    return mint_token(SECRET, **kw)


async def test_valid_token_scopes_request(shared_client):
    r = await shared_client.get("/v1/people/alice/things", headers=bearer(token()))
    assert r.status_code == 200
    assert r.json() == {"tenant": "home", "person": "alice"}


async def test_missing_token_is_401_and_legacy_shape(shared_client):
    r = await shared_client.post("/legacy/things", json={"name": "x"})
    assert r.status_code == 401
    assert set(r.json()) == {"detail"}
    r = await shared_client.get("/v1/people/alice/things")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("bad", [
    mint_token("wrong-secret-wrong-secret-wrong-secret", person_id="alice", household_id="h"),
    token(audience="context"),
    token(ttl_seconds=-120),
    "not-a-jwt",
    jwt.encode({"sub": "x", "aud": "storage"}, SECRET, algorithm="HS256"),  # no exp/iat
])
async def test_bad_tokens_are_403(shared_client, bad):
    r = await shared_client.get("/v1/people/alice/things", headers=bearer(bad))
    assert r.status_code == 403, r.text
    assert r.json()["detail"]


async def test_audience_list_containing_service_is_accepted(shared_client):
    t = token(audience=["context", "storage"])
    assert (await shared_client.get("/v1/people/alice/things",
                                    headers=bearer(t))).status_code == 200


async def test_person_mismatch_in_path_query_and_body_is_403(shared_client):
    h = bearer(token())
    assert (await shared_client.get("/v1/people/bob/things", headers=h)).status_code == 403
    assert (await shared_client.get("/v1/people/alice/things?user_id=bob",
                                    headers=h)).status_code == 403
    nested = {"name": "x", "meta": {"deep": [{"person_id": "bob"}]}}
    assert (await shared_client.post("/v1/things", json=nested, headers=h)).status_code == 403
    same = {"name": "x", "meta": {"person_id": "alice"}}
    assert (await shared_client.post("/v1/things", json=same, headers=h)).status_code == 200


async def test_workload_acts_for_person_only_with_scope(shared_client):
    plain = token(person_id=None, principal_kind="workload", sub="orchestrator")
    r = await shared_client.get("/v1/people/alice/things", headers=bearer(plain))
    assert r.status_code == 403
    scoped = token(person_id=None, principal_kind="workload", sub="orchestrator",
                   scopes=[ACT_FOR_PERSON_SCOPE])
    r = await shared_client.get("/v1/people/alice/things", headers=bearer(scoped))
    assert r.status_code == 200
    assert r.json() == {"tenant": "home", "person": "alice"}


async def test_person_token_with_act_scope_still_cannot_act_for_others(shared_client):
    t = token(scopes=[ACT_FOR_PERSON_SCOPE])
    r = await shared_client.get("/v1/people/bob/things", headers=bearer(t))
    assert r.status_code == 403


async def test_service_token_uses_service_tenant(shared_client):
    t = mint_token(SECRET, person_id=None, household_id=None, sub="service-orchestrator",
                   type="service", roles=["service"])
    r = await shared_client.post("/v1/things", json={"name": "x"}, headers=bearer(t))
    assert r.status_code == 200
    assert r.json()["person"] == ""


async def test_service_tokens_refused_unless_enabled():
    app = build_app(AuthSettings(hs256_secret=SECRET, accept_service_tokens=False))
    t = mint_token(SECRET, person_id=None, household_id=None, sub="service-x",
                   type="service", roles=["service"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://svc") as c:
        r = await c.post("/v1/things", json={"name": "x"}, headers=bearer(t))
    assert r.status_code == 403
    assert "service tokens" in r.json()["detail"]


async def test_token_without_household_is_403(shared_client):
    r = await shared_client.post("/v1/things", json={"name": "x"},
                                 headers=bearer(token(household_id=None)))
    assert r.status_code == 403


# --- RS256 against a JWKS URL -------------------------------------------------------
# The identity provider has no server on this machine: a stand-in HTTP server on
# loopback publishes a real JWKS document, and counts how often it is fetched.

class _JwksServer:
    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                doc = {"keys": [
                    {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())),
                     "kid": kid, "use": "sig", "alg": "RS256"}
                    for kid, k in outer.keys.items()]}
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add_key(self, kid: str) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys[kid] = key
        return key

    def sign(self, kid: str, **claims) -> str:
        now = int(time.time())
        payload = {"sub": "alice", "aud": "storage", "iat": now, "exp": now + 300,
                   "person_id": "alice", "household_id": "home", **claims}
        return jwt.encode(payload, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def jwks() -> Iterator[_JwksServer]:
    server = _JwksServer()
    yield server
    server.httpd.shutdown()


async def test_rs256_jwks_cached_and_refreshed_on_unknown_kid(jwks, monkeypatch):
    import unison_shared.auth.verifier as verifier_mod

    monkeypatch.setattr(verifier_mod, "_MIN_REFRESH_INTERVAL", 0.0)
    jwks.add_key("k1")
    app = build_app(AuthSettings(jwks_url=jwks.url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://svc") as c:
        for _ in range(3):
            r = await c.get("/v1/people/alice/things", headers=bearer(jwks.sign("k1")))
            assert r.status_code == 200
        assert jwks.fetches == 1  # cached
        jwks.add_key("k2")  # the provider rotates its signing key
        r = await c.get("/v1/people/alice/things", headers=bearer(jwks.sign("k2")))
        assert r.status_code == 200
        assert jwks.fetches == 2  # refreshed once for the unknown kid
        forged = jwt.encode({"sub": "alice", "aud": "storage", "iat": int(time.time()),
                             "exp": int(time.time()) + 60, "household_id": "home"},
                            rsa.generate_private_key(public_exponent=65537, key_size=2048),
                            algorithm="RS256", headers={"kid": "k1"})
        assert (await c.get("/v1/people/alice/things",
                            headers=bearer(forged))).status_code == 403
        # An HS256 token is refused when only JWKS is configured (no algorithm confusion).
        assert (await c.get("/v1/people/alice/things",
                            headers=bearer(token()))).status_code == 403


async def test_verified_tokens_are_cached_until_expiry(monkeypatch):
    from unison_shared.auth import TokenVerifier

    verifier = TokenVerifier(AuthSettings(hs256_secret=SECRET, leeway_seconds=0), "storage")
    calls = 0
    real_decode = jwt.decode

    def counting_decode(*args, **kwargs):
        nonlocal calls
        calls += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    t = token(ttl_seconds=1)
    for _ in range(3):
        assert (await verifier.verify(t)).person_id == "alice"
    assert calls == 1
    await asyncio.sleep(1.6)  # past exp: the cache must not outlive the token
    with pytest.raises(Forbidden, match="expired"):
        await verifier.verify(t)
