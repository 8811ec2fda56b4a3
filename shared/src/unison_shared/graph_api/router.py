"""`/v1` traversal routes, served by both graph services (the app holds the service on
`app.state.traversal`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from ..auth import RequestContext, authenticated
from ..errors import ValidationFailed
from .schemas import (
    BatchResult,
    Direction,
    NeighbourPage,
    NodeBatch,
    NodeId,
    NodeIn,
    NodeOut,
    NodePatch,
    PathOut,
    PersonView,
    PersonViewOut,
    RelBatch,
    RelIn,
    RelOut,
    Subgraph,
)
from .service import TraversalService

router = APIRouter(prefix="/v1", tags=["graph"])
Ctx = Annotated[RequestContext, Depends(authenticated)]
IdParam = Annotated[NodeId, Path()]


def _svc(request: Request) -> TraversalService:
    svc: TraversalService = request.app.state.traversal
    return svc


Svc = Annotated[TraversalService, Depends(_svc)]


def _csv(value: str | None) -> list[str] | None:
    items = [v.strip() for v in value.split(",") if v.strip()] if value else []
    return items or None


@router.put("/nodes/{node_id}")
async def put_node(node_id: IdParam, body: NodeIn, ctx: Ctx, svc: Svc) -> NodeOut:
    """Idempotent upsert; the body's id must be the path's."""
    if body.id != node_id:
        raise ValidationFailed("id: the body's id must be the path's", field="id")
    await svc.upsert_nodes(ctx.tenant_id, [body])
    return await svc.get_node(ctx.tenant_id, node_id)


@router.post("/nodes")
async def post_node(body: NodeIn, ctx: Ctx, svc: Svc) -> NodeOut:
    await svc.upsert_nodes(ctx.tenant_id, [body])
    return await svc.get_node(ctx.tenant_id, body.id)


@router.post("/nodes/batch")
async def batch_nodes(body: NodeBatch, ctx: Ctx, svc: Svc) -> BatchResult:
    return BatchResult(upserted=await svc.upsert_nodes(ctx.tenant_id, body.nodes))


@router.get("/nodes/{node_id}")
async def get_node(node_id: IdParam, ctx: Ctx, svc: Svc) -> NodeOut:
    return await svc.get_node(ctx.tenant_id, node_id)


@router.patch("/nodes/{node_id}")
async def patch_node(node_id: IdParam, body: NodePatch, ctx: Ctx, svc: Svc) -> NodeOut:
    return await svc.patch_node(ctx.tenant_id, node_id, body.props)


@router.delete("/nodes/{node_id}", status_code=204)
async def delete_node(node_id: IdParam, ctx: Ctx, svc: Svc) -> Response:
    await svc.delete_node(ctx.tenant_id, node_id)
    return Response(status_code=204)


@router.get("/nodes/{node_id}/neighbours")
async def neighbours(node_id: IdParam, ctx: Ctx, svc: Svc,
                     depth: Annotated[int, Query()] = 1,
                     direction: Annotated[Direction, Query()] = Direction.BOTH,
                     types: Annotated[str | None, Query(max_length=512)] = None,
                     labels: Annotated[str | None, Query(max_length=512)] = None,
                     limit: Annotated[int, Query()] = 50,
                     cursor: Annotated[str | None, Query(max_length=64)] = None
                     ) -> NeighbourPage:
    return await svc.neighbours(ctx.tenant_id, node_id, depth=depth, direction=direction,
                                types=_csv(types), labels=_csv(labels), limit=limit,
                                cursor=cursor)


@router.get("/nodes/{node_id}/subgraph")
async def subgraph(node_id: IdParam, ctx: Ctx, svc: Svc,
                   depth: Annotated[int, Query()] = 1,
                   limit: Annotated[int, Query()] = 100) -> Subgraph:
    return await svc.subgraph(ctx.tenant_id, node_id, depth, limit)


@router.get("/paths/shortest")
async def shortest_path(ctx: Ctx, svc: Svc,
                        from_id: Annotated[NodeId, Query(alias="from")],
                        to_id: Annotated[NodeId, Query(alias="to")],
                        max_depth: Annotated[int, Query()] = 3) -> PathOut:
    return await svc.shortest_path(ctx.tenant_id, from_id, to_id, max_depth)


@router.post("/relationships")
async def post_rel(body: RelIn, ctx: Ctx, svc: Svc) -> RelOut:
    await svc.upsert_rels(ctx.tenant_id, [body])
    return await svc.get_rel(ctx.tenant_id, body.start_id, body.type, body.end_id)


@router.post("/relationships/batch")
async def batch_rels(body: RelBatch, ctx: Ctx, svc: Svc) -> BatchResult:
    return BatchResult(upserted=await svc.upsert_rels(ctx.tenant_id, body.relationships))


@router.get("/relationships/{start_id}/{rel_type}/{end_id}")
async def get_rel(start_id: IdParam, rel_type: str, end_id: IdParam, ctx: Ctx,
                  svc: Svc) -> RelOut:
    return await svc.get_rel(ctx.tenant_id, start_id, rel_type, end_id)


@router.delete("/relationships/{start_id}/{rel_type}/{end_id}", status_code=204)
async def delete_rel(start_id: IdParam, rel_type: str, end_id: IdParam, ctx: Ctx,
                     svc: Svc) -> Response:
    await svc.delete_rel(ctx.tenant_id, start_id, rel_type, end_id)
    return Response(status_code=204)


@router.get("/persons/{person_id}/{view}")
async def person_view(person_id: IdParam, view: PersonView, ctx: Ctx, svc: Svc,
                      limit: Annotated[int, Query()] = 100) -> PersonViewOut:
    """A person's devices, sessions, resources (through workspaces) or the agents that
    handled their intents. The identity rule applies: the person must be the caller's."""
    return await svc.person_view(ctx.tenant_id, person_id, view, limit)
