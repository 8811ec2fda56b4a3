"""Evaluation rules. A dataset version is frozen by the first run that uses it: adding
items after that is 409 (make a new version), so a run's scores always refer to the
items it ran over. Adding items locks the dataset row, as creating a run does, so the
two never interleave."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from unison_shared.auth import RequestContext
from unison_shared.errors import BadRequest, Conflict, NotFound, ValidationFailed
from unison_shared.jsonutil import encode_jsonb

from . import repository as repo
from .schemas import (
    Comparison,
    Dataset,
    DatasetIn,
    DatasetPage,
    Item,
    ItemPage,
    ItemsIn,
    MetricComparison,
    MetricSummary,
    Run,
    RunIn,
    RunPage,
    RunPatch,
    RunSummary,
    ScoresIn,
    ScoresStored,
)


def _cursor(value: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def _uncursor(cursor: str, size: int) -> list[Any]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(value, list) and len(value) == size:
            return value
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        pass
    raise BadRequest("cursor: not one this service issued")


class EvalService:
    def __init__(self, max_json_bytes: int) -> None:
        self.max_json_bytes = max_json_bytes

    def _json(self, value: Any, field: str) -> str:
        return encode_jsonb(value, field, self.max_json_bytes)

    async def create_dataset(self, conn: asyncpg.Connection, ctx: RequestContext,
                             body: DatasetIn) -> Dataset:
        row = await repo.insert_dataset(conn, ctx.tenant_id, f"ds_{uuid.uuid4().hex[:16]}",
                                        body.name, body.version, body.description,
                                        self._json(body.metadata, "metadata"), ctx.person_id)
        if row is None:
            raise Conflict(f"dataset {body.name} version {body.version} exists; "
                           "make a new version")
        return Dataset(**row)

    async def dataset(self, conn: asyncpg.Connection, ctx: RequestContext, dataset_id: str,
                      lock: bool = False) -> Dataset:
        row = await repo.get_dataset(conn, ctx.tenant_id, dataset_id, lock)
        if row is None:
            raise NotFound(f"no dataset {dataset_id}")
        return Dataset(**row)

    async def datasets(self, conn: asyncpg.Connection, ctx: RequestContext, name: str | None,
                       cursor: str | None, limit: int) -> DatasetPage:
        after: tuple[str, int] | None = None
        if cursor:
            last_name, last_version = _uncursor(cursor, 2)
            if not isinstance(last_version, int):
                raise BadRequest("cursor: not one this service issued")
            after = (str(last_name), last_version)
        rows = await repo.list_datasets(conn, ctx.tenant_id, name, after, limit)
        items = [Dataset(**r) for r in rows]
        last = items[-1] if len(items) == limit else None
        return DatasetPage(items=items,
                           next_cursor=_cursor([last.name, last.version]) if last else None)

    async def add_items(self, conn: asyncpg.Connection, ctx: RequestContext, dataset_id: str,
                        body: ItemsIn) -> Dataset:
        dataset = await self.dataset(conn, ctx, dataset_id, lock=True)
        if dataset.frozen:
            raise Conflict(f"dataset {dataset.name} version {dataset.version} is frozen: a "
                           "run uses it; add items to a new version")
        ids = [item.id or f"item_{uuid.uuid4().hex[:16]}" for item in body.items]
        if len(set(ids)) != len(ids):
            raise ValidationFailed("items: an id appears twice")
        first = await repo.next_seq(conn, ctx.tenant_id, dataset_id)
        await repo.add_items(
            conn, ctx.tenant_id, dataset_id, first, ids,
            [self._json(i.input, f"items[{n}].input") for n, i in enumerate(body.items)],
            [None if i.expected is None else self._json(i.expected, f"items[{n}].expected")
             for n, i in enumerate(body.items)],
            [self._json(i.metadata, f"items[{n}].metadata") for n, i in enumerate(body.items)])
        return await self.dataset(conn, ctx, dataset_id)

    async def items(self, conn: asyncpg.Connection, ctx: RequestContext, dataset_id: str,
                    cursor: str | None, limit: int) -> ItemPage:
        await self.dataset(conn, ctx, dataset_id)
        after = int(_uncursor(cursor, 1)[0]) if cursor else 0
        rows = await repo.list_items(conn, ctx.tenant_id, dataset_id, after, limit)
        items = [Item(**r) for r in rows]
        return ItemPage(items=items, next_cursor=_cursor([items[-1].seq])
                        if len(items) == limit else None)

    async def create_run(self, conn: asyncpg.Connection, ctx: RequestContext,
                         body: RunIn) -> Run:
        await self.dataset(conn, ctx, body.dataset_id, lock=True)
        row = await repo.insert_run(conn, ctx.tenant_id, f"run_{uuid.uuid4().hex[:16]}",
                                    body.dataset_id, body.model_name,
                                    self._json(body.config, "config"), ctx.person_id)
        return Run(**row)

    async def run(self, conn: asyncpg.Connection, ctx: RequestContext, run_id: str) -> Run:
        row = await repo.get_run(conn, ctx.tenant_id, run_id)
        if row is None:
            raise NotFound(f"no run {run_id}")
        return Run(**row)

    async def patch_run(self, conn: asyncpg.Connection, ctx: RequestContext, run_id: str,
                        body: RunPatch) -> Run:
        summary = None if body.summary is None else self._json(body.summary, "summary")
        row = await repo.update_run(conn, ctx.tenant_id, run_id, body.status, summary)
        if row is None:
            raise NotFound(f"no run {run_id}")
        return Run(**row)

    async def runs(self, conn: asyncpg.Connection, ctx: RequestContext,
                   dataset_id: str | None, cursor: str | None, limit: int) -> RunPage:
        after: tuple[datetime, str] | None = None
        if cursor:
            at, run_id = _uncursor(cursor, 2)
            try:
                after = (datetime.fromisoformat(at), str(run_id))
            except (TypeError, ValueError) as exc:
                raise BadRequest("cursor: not one this service issued") from exc
        rows = await repo.list_runs(conn, ctx.tenant_id, dataset_id, after, limit)
        items = [Run(**r) for r in rows]
        last = items[-1] if len(items) == limit else None
        return RunPage(items=items, next_cursor=_cursor([last.started_at.isoformat(), last.id])
                       if last else None)

    async def add_scores(self, conn: asyncpg.Connection, ctx: RequestContext, run_id: str,
                         body: ScoresIn) -> ScoresStored:
        run = await self.run(conn, ctx, run_id)
        s = body.scores
        stored, unknown = await repo.upsert_scores(
            conn, ctx.tenant_id, run_id, run.dataset_id, [x.item_id for x in s],
            [x.metric for x in s], [x.value for x in s], [x.reason for x in s],
            [x.scorer for x in s])
        if unknown:
            raise ValidationFailed(f"scores: {unknown} item id(s) are not items of the "
                                   f"run's dataset {run.dataset_id}")
        return ScoresStored(stored=stored)

    async def summary(self, conn: asyncpg.Connection, ctx: RequestContext,
                      run_id: str) -> RunSummary:
        await self.run(conn, ctx, run_id)
        rows = await repo.summary(conn, ctx.tenant_id, run_id)
        return RunSummary(run_id=run_id, metrics=[MetricSummary(
            metric=r[0], count=r[1], mean=r[2], min=r[3], max=r[4], p50=r[5], p95=r[6])
            for r in rows])

    async def compare(self, conn: asyncpg.Connection, ctx: RequestContext, run_a: str,
                      run_b: str) -> Comparison:
        await self.run(conn, ctx, run_a)
        await self.run(conn, ctx, run_b)
        rows = await repo.compare(conn, ctx.tenant_id, run_a, run_b)
        return Comparison(run_a=run_a, run_b=run_b, metrics=[MetricComparison(
            metric=r[0], shared_items=r[1], mean_a=r[2], mean_b=r[3], delta=r[3] - r[2],
            b_better=r[4], a_better=r[5], ties=r[6]) for r in rows])
