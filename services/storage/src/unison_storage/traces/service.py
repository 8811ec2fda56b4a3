"""Trace rules: tenant and person come from the token (never from span attributes);
attribute values over the inline limit (prompts and completions under `gen_ai.*`) are
stored as the person's objects and the span keeps `{"$object": id, "size": n}`."""

from __future__ import annotations

import base64
import binascii
import os
from datetime import UTC, datetime
from typing import Any

import orjson

from unison_shared.auth import RequestContext
from unison_shared.errors import BadRequest, NotFound

from ..threads.payloads import Payloads
from . import otlp, repository
from .otlp import SpanRecord
from .repository import TraceFilter
from .schemas import Recorded, RecordIn, SpanNode, Trace, TracePage, TraceSummary

MAX_ATTRIBUTE_FILTERS = 5


class TraceService:
    def __init__(self, payloads: Payloads, inline_limit: int, max_spans: int) -> None:
        self.payloads = payloads
        self.inline_limit = inline_limit
        self.max_spans = max_spans

    async def ingest(self, ctx: RequestContext, body: bytes,
                     content_type: str) -> tuple[bytes, str]:
        """An OTLP export: store what can be stored, answer OTLP's reply (with partial
        success naming what was rejected)."""
        request = otlp.parse_request(body, content_type)
        spans, rejected, reason = otlp.spans(request)
        if len(spans) > self.max_spans:
            raise BadRequest(f"body: {len(spans)} spans; at most {self.max_spans} a request")
        await self._store(ctx, spans)
        return otlp.response(rejected, reason, content_type)

    async def record(self, ctx: RequestContext, body: RecordIn) -> Recorded:
        if body.end_time < body.start_time:
            raise BadRequest("end_time: before start_time")
        trace_id = (otlp.hex_id(body.trace_id, 16, "trace_id") if body.trace_id
                    else os.urandom(16).hex())
        parent = (otlp.hex_id(body.parent_span_id, 8, "parent_span_id")
                  if body.parent_span_id else None)
        span = SpanRecord(trace_id=trace_id, span_id=os.urandom(8).hex(),
                          parent_span_id=parent, name=body.operation_name, kind="internal",
                          component=body.component, start=body.start_time,
                          end=body.end_time, status=body.status,
                          status_message=body.status_message, attributes=body.attributes,
                          events=[], resource={"service.name": body.component})
        await self._store(ctx, [span])
        return Recorded(trace_id=trace_id, span_id=span.span_id)

    async def _store(self, ctx: RequestContext, spans: list[SpanRecord]) -> None:
        async with self.payloads.transaction(ctx) as (conn, txn):
            for span in spans:
                for key, value in list(span.attributes.items()):
                    encoded = value.encode() if isinstance(value, str) else None
                    if encoded is not None and len(encoded) > self.inline_limit:
                        ref = await self.payloads.put_content(
                            conn, txn, ctx, encoded, "text/plain; charset=utf-8",
                            "trace-attribute")
                        span.attributes[key] = {"$object": ref.id, "size": ref.size_bytes}
            await repository.insert_spans(conn, ctx.tenant_id, ctx.person_id, spans)

    async def search(self, ctx: RequestContext, f: TraceFilter, cursor: str | None,
                     limit: int) -> TracePage:
        if len(f.attributes) > MAX_ATTRIBUTE_FILTERS:
            raise BadRequest(f"attr.*: at most {MAX_ATTRIBUTE_FILTERS} attribute filters")
        after = _decode_cursor(cursor) if cursor else None
        async with self.payloads.db.statement(ctx) as conn:
            rows = await repository.summaries(conn, ctx.tenant_id, ctx.person_id, f, after,
                                              limit)
        items = [TraceSummary(trace_id=r.trace_id, name=r.root_name, component=r.component,
                              start_time=r.start, end_time=r.end,
                              duration_ms=(r.end - r.start).total_seconds() * 1000,
                              span_count=r.span_count,
                              status="error" if r.has_error else "ok") for r in rows]
        next_cursor = (_encode_cursor(rows[-1].start, rows[-1].trace_id)
                       if len(rows) == limit else None)
        return TracePage(items=items, next_cursor=next_cursor)

    async def get(self, ctx: RequestContext, trace_id: str) -> Trace:
        trace_id = otlp.hex_id(trace_id, 16, "trace_id")
        async with self.payloads.db.statement(ctx) as conn:
            rows = await repository.trace_spans(conn, ctx.tenant_id, ctx.person_id, trace_id)
        if not rows:
            raise NotFound(f"no trace {trace_id}")
        nodes = {r["span_id"]: SpanNode(
            span_id=r["span_id"], parent_span_id=r["parent_span_id"], name=r["name"],
            kind=r["kind"], component=r["component"], start_time=r["start_time"],
            end_time=r["end_time"],
            duration_ms=(r["end_time"] - r["start_time"]).total_seconds() * 1000,
            status=r["status"], status_message=r["status_message"],
            attributes=r["attributes"], events=r["events"], resource=r["resource"],
            links=r["links"]) for r in rows}
        roots: list[SpanNode] = []
        for node in nodes.values():
            parent = nodes.get(node.parent_span_id or "")
            (parent.children if parent is not None else roots).append(node)
        return Trace(trace_id=trace_id, span_count=len(nodes), roots=roots)


def _encode_cursor(start: datetime, trace_id: str) -> str:
    raw = orjson.dumps([start.isoformat(), trace_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, trace_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        start = datetime.fromisoformat(at)
        return (start if start.tzinfo else start.replace(tzinfo=UTC)), str(trace_id)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadRequest("cursor: not one this service issued") from exc


def attribute_filters(query: Any) -> tuple[tuple[str, str], ...]:
    """`attr.<key>=<value>` query parameters, in order."""
    return tuple((k[5:], v) for k, v in query.multi_items() if k.startswith("attr.") and k[5:])
