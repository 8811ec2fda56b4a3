"""/v1/evals: datasets and their items, runs, scores, a run's summary per metric and a
comparison of two runs over the items they share. Evaluation data is the household's:
every person of the tenant sees it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from .schemas import (
    Comparison,
    Dataset,
    DatasetIn,
    DatasetPage,
    ItemPage,
    ItemsIn,
    Run,
    RunIn,
    RunPage,
    RunPatch,
    RunSummary,
    ScoresIn,
    ScoresStored,
)

router = service_router(prefix="/v1/evals", tags=["evals"])
Cursor = Annotated[str | None, Query(max_length=512)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Id = Annotated[str, Query(min_length=1, max_length=64)]


@router.post("/datasets", status_code=201)
async def create_dataset(body: DatasetIn, ctx: Ctx, svc: Svc) -> Dataset:
    async with svc.db.statement(ctx) as conn:
        return await svc.evals.create_dataset(conn, ctx, body)


@router.get("/datasets")
async def list_datasets(ctx: Ctx, svc: Svc,
                        name: Annotated[str | None, Query(max_length=256)] = None,
                        cursor: Cursor = None, limit: Limit = 100) -> DatasetPage:
    async with svc.db.statement(ctx) as conn:
        return await svc.evals.datasets(conn, ctx, name, cursor, limit)


@router.get("/datasets/{dataset_id}")
async def get_dataset(dataset_id: str, ctx: Ctx, svc: Svc) -> Dataset:
    async with svc.db.statement(ctx) as conn:
        return await svc.evals.dataset(conn, ctx, dataset_id)


@router.post("/datasets/{dataset_id}/items")
async def add_items(dataset_id: str, body: ItemsIn, ctx: Ctx, svc: Svc) -> Dataset:
    """Append up to 1,000 items (an id already in the dataset is skipped); 409 once a
    run has used this version."""
    async with svc.db.transaction(ctx) as conn:
        return await svc.evals.add_items(conn, ctx, dataset_id, body)


@router.get("/datasets/{dataset_id}/items")
async def list_items(dataset_id: str, ctx: Ctx, svc: Svc, cursor: Cursor = None,
                     limit: Limit = 100) -> ItemPage:
    async with svc.db.statement(ctx) as conn:
        return await svc.evals.items(conn, ctx, dataset_id, cursor, limit)


@router.post("/runs", status_code=201)
async def create_run(body: RunIn, ctx: Ctx, svc: Svc) -> Run:
    """Starts a run (status running) and freezes the dataset version it uses."""
    async with svc.db.transaction(ctx) as conn:
        return await svc.evals.create_run(conn, ctx, body)


@router.get("/runs")
async def list_runs(ctx: Ctx, svc: Svc, dataset_id: Annotated[
        str | None, Query(max_length=64)] = None, cursor: Cursor = None,
                    limit: Limit = 100) -> RunPage:
    async with svc.db.statement(ctx) as conn:
        return await svc.evals.runs(conn, ctx, dataset_id, cursor, limit)


@router.get("/runs/{run_id}")
async def get_run(run_id: str, ctx: Ctx, svc: Svc) -> Run:
    async with svc.db.statement(ctx) as conn:
        return await svc.evals.run(conn, ctx, run_id)


@router.patch("/runs/{run_id}")
async def patch_run(run_id: str, body: RunPatch, ctx: Ctx, svc: Svc) -> Run:
    """Set the status (completed or failed also stamps completed_at) or the summary."""
    async with svc.db.statement(ctx) as conn:
        return await svc.evals.patch_run(conn, ctx, run_id, body)


@router.post("/runs/{run_id}/scores")
async def add_scores(run_id: str, body: ScoresIn, ctx: Ctx, svc: Svc) -> ScoresStored:
    """One or a batch of scores; all are stored or none (422 naming unknown items)."""
    async with svc.db.transaction(ctx) as conn:
        return await svc.evals.add_scores(conn, ctx, run_id, body)


@router.get("/runs/{run_id}/summary")
async def run_summary(run_id: str, ctx: Ctx, svc: Svc) -> RunSummary:
    async with svc.db.statement(ctx) as conn:
        return await svc.evals.summary(conn, ctx, run_id)


@router.get("/compare")
async def compare_runs(run_a: Id, run_b: Id, ctx: Ctx, svc: Svc) -> Comparison:
    async with svc.db.statement(ctx) as conn:
        return await svc.evals.compare(conn, ctx, run_a, run_b)
