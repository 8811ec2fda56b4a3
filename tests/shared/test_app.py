"""Errors, health, readiness, metrics, request ids and logs of the shared app factory."""

from __future__ import annotations

import json
import logging

import httpx

from unison_devstack.tokens import mint_token

from .conftest import SECRET, build_app


def auth() -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(SECRET, person_id="alice",
                                                    household_id="home")}


async def test_problem_json_on_new_api(shared_client):
    r = await shared_client.get("/v1/conflict", headers={**auth(), "X-Request-Id": "rid-1"})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 409 and body["detail"] == "the thing exists"
    assert body["type"].endswith("/conflict") and body["request_id"] == "rid-1"


async def test_validation_names_the_field(shared_client):
    r = await shared_client.post("/v1/things", json={"count": "many"}, headers=auth())
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"name", "count"}
    legacy = await shared_client.post("/legacy/things", json={}, headers=auth())
    assert legacy.status_code == 400
    assert legacy.json()["ok"] is False and "name" in legacy.json()["detail"]


async def test_a_body_that_is_not_json_is_named_as_the_body(shared_client):
    r = await shared_client.post("/v1/things", content=b'{"name": ', headers={
        **auth(), "content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "body", "message": "invalid JSON at character 9: Expecting value"}]
    assert r.json()["detail"] == "body: invalid JSON at character 9: Expecting value"
    legacy = await shared_client.post("/legacy/things", content=b"{", headers={
        **auth(), "content-type": "application/json"})
    assert legacy.status_code == 400 and legacy.json()["errors"][0]["field"] == "body"


async def test_unhandled_error_is_problem_500_without_leaking(shared_client, caplog):
    with caplog.at_level(logging.ERROR):
        r = await shared_client.get("/v1/boom", headers=auth())
    assert r.status_code == 500
    assert "secret-value-in-exception" not in r.text
    # The server drops the connection after an unhandled error: say so, so a pooled
    # client does not send its next request on it.
    assert r.headers["connection"] == "close"


async def test_a_driver_state_error_is_503_with_retry_after():
    """asyncpg's InternalClientError (PostgreSQL killed as a statement starts) means the
    database is going away: retryable, like a lost connection, never a 500."""
    import asyncpg
    from fastapi import APIRouter

    from unison_shared.errors import install_database_error_handlers

    app = build_app()
    install_database_error_handlers(app)
    router = APIRouter()

    @router.get("/v1/driver-broke")
    async def driver_broke() -> None:
        raise asyncpg.exceptions.InternalClientError("unexpected message")

    app.include_router(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        r = await client.get("/v1/driver-broke", headers=auth())
    assert r.status_code == 503 and r.headers["retry-after"] == "1"


async def test_request_id_and_traceparent_echoed_or_created(shared_client):
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    r = await shared_client.get("/healthz", headers={"X-Request-Id": "abc-123",
                                                     "traceparent": tp})
    assert r.headers["x-request-id"] == "abc-123" and r.headers["traceparent"] == tp
    r = await shared_client.get("/healthz", headers={"X-Request-Id": "bad id\n"})
    assert r.headers["x-request-id"] != "bad id\n" and len(r.headers["x-request-id"]) == 32
    assert r.headers["traceparent"].startswith("00-")


async def test_health_shapes(shared_client):
    for path in ("/health", "/healthz"):
        r = await shared_client.get(path)
        assert r.json() == {"status": "ok", "service": "unison-test"}


async def test_readiness_names_failing_dependency():
    async def ok() -> None:
        return None

    async def down() -> None:
        raise ConnectionRefusedError

    async def cache_down() -> None:
        raise ConnectionRefusedError

    app = build_app(checks={"postgres": ok, "object_store": down})
    from unison_shared.app import add_readiness_check

    add_readiness_check(app, "redis", cache_down, critical=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://svc") as c:
        for path in ("/ready", "/readyz"):
            r = await c.get(path)
            assert r.status_code == 503
            body = r.json()
            assert body["ready"] is False and body["failing"] == ["object_store"]
            assert body["checks"]["redis"].startswith("failing")
    healthy = build_app(checks={"postgres": ok})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=healthy),
                                 base_url="http://svc") as c:
        r = await c.get("/readyz")
        assert r.status_code == 200 and r.json()["ready"] is True


async def test_metrics_are_prometheus_text_per_route(shared_client):
    await shared_client.get("/v1/people/alice/things", headers=auth())
    await shared_client.get("/v1/people/alice/things", headers=auth())
    r = await shared_client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert ('http_requests_total{method="GET",route="/v1/people/{person_id}/things",'
            'service="unison-test",status="200"} 2.0') in text
    assert "http_request_duration_seconds_bucket" in text


def test_json_log_lines_carry_request_id_and_drop_secret_fields():
    from unison_shared.logging import JsonFormatter, request_id_var

    fmt = JsonFormatter("svc")
    token = request_id_var.set("rid-9")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "wrote %s", ("k1",), None)
        record.secret_value = "hunter2"
        record.payload = {"pii": "x"}
        record.size_bytes = 10
        line = json.loads(fmt.format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "rid-9" and line["msg"] == "wrote k1"
    assert line["size_bytes"] == 10
    assert "secret_value" not in line and "payload" not in line


async def test_oversized_bodies_are_413_before_parsing():
    small = build_app(max_request_body_bytes=1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=small),
                                 base_url="http://svc") as c:
        big = {"name": "x" * 5000}
        r = await c.post("/v1/things", json=big, headers=auth())
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        r = await c.post("/legacy/things", json=big, headers=auth())
        assert r.status_code == 413 and r.json()["error"] == "too-large"

        async def chunks():
            for _ in range(10):
                yield b'{"name": "' + b"x" * 200

        r = await c.post("/v1/things", content=chunks(), headers={
            **auth(), "content-type": "application/json"})
        assert r.status_code == 413
        r = await c.post("/v1/things", json={"name": "ok"}, headers=auth())
        assert r.status_code == 200


async def test_access_log_line_per_request_without_raw_path(shared_client, caplog):
    with caplog.at_level(logging.INFO, logger="unison.http"):
        await shared_client.get("/v1/people/alice/things", headers=auth())
    records = [r for r in caplog.records if r.name == "unison.http"]
    assert records, "one access log line per request"
    rec = records[-1]
    assert rec.route == "/v1/people/{person_id}/things" and rec.status == 200
    assert "alice" not in rec.getMessage()


async def test_openapi_declares_bearer_auth(shared_client):
    spec = (await shared_client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
