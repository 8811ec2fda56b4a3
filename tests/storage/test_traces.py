"""Traces: the OTLP/HTTP receiver fed by the real OpenTelemetry SDK exporter over HTTP,
OTLP JSON, partial success, the record call, queries and isolation."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def export_with_the_sdk(base: str, token: str, long_prompt: str) -> str:
    """Three spans from the real SDK through its OTLP/HTTP exporter; the trace id."""
    exporter = OTLPSpanExporter(endpoint=f"{base}/v1/traces",
                                headers={"Authorization": f"Bearer {token}"})
    provider = TracerProvider(resource=Resource.create({"service.name": "orchestrator"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("turn") as root:
        root.set_attribute("person_id", "not-the-token-person")  # never the scope
        with tracer.start_as_current_span("llm.call") as llm:
            llm.set_attribute("gen_ai.request.model", "gpt-test")
            llm.set_attribute("gen_ai.prompt", long_prompt)
        with tracer.start_as_current_span("tool.call") as tool:
            tool.set_status(Status(StatusCode.ERROR, "tool failed"))
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


async def test_the_sdk_exporter_stores_a_trace_read_back_as_a_tree(live_storage, alice):
    prompt = "P" * 20_000  # over the inline limit: kept as an object
    trace_id = await asyncio.to_thread(export_with_the_sdk, live_storage, alice.token, prompt)
    async with httpx.AsyncClient(base_url=live_storage, headers=alice.headers) as c:
        trace = (await c.get(f"/v1/traces/{trace_id}")).json()
        assert trace["span_count"] == 3 and len(trace["roots"]) == 1
        root = trace["roots"][0]
        assert root["name"] == "turn" and root["component"] == "orchestrator"
        children = {s["name"]: s for s in root["children"]}
        assert set(children) == {"llm.call", "tool.call"}
        assert children["tool.call"]["status"] == "error"
        assert children["tool.call"]["status_message"] == "tool failed"
        ref = children["llm.call"]["attributes"]["gen_ai.prompt"]
        assert ref["size"] == len(prompt)
        stored = await c.get(f"/v1/objects/{ref['$object']}")
        assert stored.status_code == 200 and stored.text == prompt
        page = (await c.get("/v1/traces", params={
            "component": "orchestrator", "attr.gen_ai.request.model": "gpt-test"})).json()
        assert [t["trace_id"] for t in page["items"]] == [trace_id]
        assert page["items"][0]["status"] == "error" and page["items"][0]["name"] == "turn"
        assert (await c.get("/v1/traces", params={
            "attr.gen_ai.request.model": "other"})).json()["items"] == []


def _request(trace_id: bytes, spans: list[tuple[bytes, str]]) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "renderer"
    scope = rs.scope_spans.add()
    now = int(datetime.now(UTC).timestamp() * 1e9)
    for span_id, name in spans:
        span = scope.spans.add()
        span.trace_id, span.span_id, span.name = trace_id, span_id, name
        span.start_time_unix_nano, span.end_time_unix_nano = now, now + 5_000_000
    return request


async def test_protobuf_partial_success_and_idempotent_retry(client, alice):
    trace_id = os.urandom(16)
    request = _request(trace_id, [(os.urandom(8), "ok-1"), (b"\x01", "bad-id"),
                                  (os.urandom(8), "")])
    body = request.SerializeToString()
    for _ in range(2):  # a retried export stores nothing twice
        r = await client.post("/v1/traces", content=body, headers={**alice.headers,
                                                                   **PROTOBUF})
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
        reply = ExportTraceServiceResponse.FromString(r.content)
        assert reply.partial_success.rejected_spans == 2
        assert "span_id" in reply.partial_success.error_message
    trace = (await client.get(f"/v1/traces/{trace_id.hex()}", headers=alice.headers)).json()
    assert trace["span_count"] == 1 and trace["roots"][0]["name"] == "ok-1"


async def test_otlp_json_with_hex_ids(client, alice):
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    doc = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "vdi"}}]},
        "scopeSpans": [{"spans": [{"traceId": trace_id, "spanId": span_id, "name": "click",
                                   "kind": 2, "startTimeUnixNano": "1700000000000000000",
                                   "endTimeUnixNano": "1700000000500000000",
                                   "attributes": [{"key": "n", "value": {"intValue": "7"}}],
                                   "status": {"code": 1}}]}]}]}
    r = await client.post("/v1/traces", json=doc, headers=alice.headers)
    assert r.status_code == 200 and r.json() == {}
    trace = (await client.get(f"/v1/traces/{trace_id}", headers=alice.headers)).json()
    span = trace["roots"][0]
    assert span["span_id"] == span_id and span["kind"] == "server"
    assert span["attributes"] == {"n": 7} and span["duration_ms"] == 500.0


async def test_record_call_and_queries(client, alice):
    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    first = (await client.post("/v1/traces/records", headers=alice.headers, json={
        "component": "inference", "operation_name": "generate",
        "start_time": start.isoformat(), "end_time": (start + timedelta(seconds=2)).isoformat(),
        "attributes": {"tokens": 12}})).json()
    child = await client.post("/v1/traces/records", headers=alice.headers, json={
        "component": "inference", "operation_name": "decode", "status": "error",
        "trace_id": first["trace_id"], "parent_span_id": first["span_id"],
        "start_time": start.isoformat(), "end_time": start.isoformat()})
    assert child.status_code == 201
    page = (await client.get("/v1/traces", headers=alice.headers, params={
        "component": "inference", "since": (start - timedelta(minutes=1)).isoformat(),
        "until": (start + timedelta(minutes=1)).isoformat()})).json()
    assert [t["trace_id"] for t in page["items"]] == [first["trace_id"]]
    summary = page["items"][0]
    assert summary["span_count"] == 2 and summary["status"] == "error"
    assert summary["duration_ms"] == 2000.0 and summary["name"] == "generate"
    only_errors = (await client.get("/v1/traces", headers=alice.headers,
                                    params={"operation": "decode", "status": "error"})).json()
    assert [t["trace_id"] for t in only_errors["items"]] == [first["trace_id"]]


async def test_pages_newest_first_with_a_cursor(client, alice):
    base = datetime(2026, 6, 1, tzinfo=UTC)
    ids = []
    for i in range(5):
        at = (base + timedelta(minutes=i)).isoformat()
        r = await client.post("/v1/traces/records", headers=alice.headers, json={
            "component": "paging", "operation_name": f"op{i}", "start_time": at,
            "end_time": at})
        ids.append(r.json()["trace_id"])
    seen, cursor = [], None
    while True:
        params = {"component": "paging", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/traces", headers=alice.headers, params=params)).json()
        seen += [t["trace_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[::-1]


async def test_bad_input_is_4xx_naming_it(client, alice):
    h = alice.headers
    bad = await client.post("/v1/traces", content=b"\xff\x00garbage",
                            headers={**h, **PROTOBUF})
    assert bad.status_code == 400 and "protobuf" in bad.json()["detail"]
    bad = await client.post("/v1/traces", json={"resourceSpans": [{"scopeSpans": [
        {"spans": [{"traceId": "zz", "spanId": "00"}]}]}]}, headers=h)
    assert bad.status_code == 400
    for field, value in (("trace_id", "abc"), ("parent_span_id", "xyz")):
        r = await client.post("/v1/traces/records", headers=h, json={
            "component": "c", "operation_name": "o", "start_time": "2026-01-01T00:00:00Z",
            "end_time": "2026-01-01T00:00:01Z", field: value})
        assert r.status_code == 400 and r.json()["detail"].startswith(field)
    backwards = await client.post("/v1/traces/records", headers=h, json={
        "component": "c", "operation_name": "o", "start_time": "2026-01-01T00:00:01Z",
        "end_time": "2026-01-01T00:00:00Z"})
    assert backwards.status_code == 400
    assert (await client.get("/v1/traces/nothex", headers=h)).status_code == 400
    assert (await client.get(f"/v1/traces/{'0' * 32}", headers=h)).status_code == 404
    many = "&".join(f"attr.k{i}=v" for i in range(6))
    assert (await client.get(f"/v1/traces?{many}", headers=h)).status_code == 400


async def test_another_person_or_household_never_sees_a_trace(client, alice, bob,
                                                              make_caller):
    sister = make_caller(household_id=alice.household_id)
    r = await client.post("/v1/traces/records", headers=alice.headers, json={
        "component": "private", "operation_name": "secret-op",
        "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:01Z"})
    trace_id = r.json()["trace_id"]
    for other in (bob, sister):
        assert (await client.get(f"/v1/traces/{trace_id}",
                                 headers=other.headers)).status_code == 404
        page = await client.get("/v1/traces", headers=other.headers,
                                params={"component": "private"})
        assert page.json()["items"] == []
