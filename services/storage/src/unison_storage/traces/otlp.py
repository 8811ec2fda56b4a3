"""OTLP/HTTP trace requests, protobuf or JSON, into span records (no I/O here).

The messages come from `opentelemetry-proto`. OTLP's JSON differs from the proto3 JSON
mapping in one way that matters here: trace and span ids are hex, not base64, so they
are rewritten before `json_format` parses the document. A span that cannot be stored
(an id of the wrong length, no name) is rejected on its own and counted in the reply's
partial success; the rest of the request is stored.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from unison_shared.errors import BadRequest

PROTOBUF = "application/x-protobuf"
KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUSES = ("unset", "ok", "error")
_ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


@dataclass
class SpanRecord:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    component: str
    start: datetime
    end: datetime
    status: str
    status_message: str | None
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    resource: dict[str, Any]
    links: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start).total_seconds() * 1000


def parse_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """The request as a message; 400 naming what is wrong with it."""
    request = ExportTraceServiceRequest()
    if content_type.startswith(PROTOBUF):
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise BadRequest("body: not an OTLP ExportTraceServiceRequest in protobuf"
                             ) from exc
        return request
    try:
        document = orjson.loads(body)
        _hex_ids_to_base64(document)
        json_format.ParseDict(document, request)
    except (orjson.JSONDecodeError, json_format.ParseError, ValueError, TypeError) as exc:
        raise BadRequest(f"body: not an OTLP ExportTraceServiceRequest in JSON "
                         f"({type(exc).__name__})") from exc
    return request


def _hex_ids_to_base64(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str) and value:
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError as exc:
                    raise ValueError(f"{key} is not hex") from exc
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def attributes(pairs: Any) -> dict[str, Any]:
    items: list[KeyValue] = list(pairs)
    return {kv.key: any_value(kv.value) for kv in items}


def _time(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos / 1e9, UTC)


def spans(request: ExportTraceServiceRequest) -> tuple[list[SpanRecord], int, str]:
    """The storable spans, how many were rejected, and why (the first reason)."""
    out: list[SpanRecord] = []
    rejected, reason = 0, ""
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        component = str(resource.get("service.name") or "unknown")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                problem = _problem(span)
                if problem:
                    rejected += 1
                    reason = reason or problem
                    continue
                status = span.status
                out.append(SpanRecord(
                    trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex() or None, name=span.name,
                    kind=KINDS[span.kind] if span.kind < len(KINDS) else "unspecified",
                    component=component, start=_time(span.start_time_unix_nano),
                    end=_time(max(span.end_time_unix_nano, span.start_time_unix_nano)),
                    status=STATUSES[status.code] if status.code < len(STATUSES) else "unset",
                    status_message=status.message or None,
                    attributes=attributes(span.attributes),
                    events=[{"name": e.name, "time": _time(e.time_unix_nano).isoformat(),
                             "attributes": attributes(e.attributes)} for e in span.events],
                    resource=resource,
                    links=[{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
                           for link in span.links]))
    return out, rejected, reason


def _problem(span: Any) -> str:
    if len(span.trace_id) != 16 or span.trace_id == bytes(16):
        return "a span's trace_id is not 16 bytes (or is all zero)"
    if len(span.span_id) != 8 or span.span_id == bytes(8):
        return "a span's span_id is not 8 bytes (or is all zero)"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return "a span's parent_span_id is not 8 bytes"
    if not span.name:
        return "a span has no name"
    return ""


def response(rejected: int, reason: str, content_type: str) -> tuple[bytes, str]:
    """OTLP's reply: an empty ExportTraceServiceResponse, or one with partial_success."""
    reply = ExportTraceServiceResponse()
    if rejected:
        reply.partial_success.CopyFrom(ExportTracePartialSuccess(
            rejected_spans=rejected, error_message=reason))
    if content_type.startswith(PROTOBUF):
        return reply.SerializeToString(), PROTOBUF
    return json_format.MessageToJson(reply).encode(), "application/json"


def hex_id(value: str, size: int, name: str) -> str:
    """A caller-given trace or span id, lower-case hex of `size` bytes."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise BadRequest(f"{name}: {size * 2} hex characters")
    return raw.hex()
