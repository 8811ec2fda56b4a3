"""Dashboard API: /v1/dashboards/{person_id} (GET, PUT, PATCH merge-patch, If-Match)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Body, Header, Response
from pydantic import BaseModel

from unison_shared.compiled_routes import service_router
from unison_shared.database import DbConn, DbTx
from unison_shared.errors import NotFound

from ..deps import Ctx, Svc
from ..documents.service import Document, parse_if_match

router = service_router(prefix="/v1/dashboards", tags=["dashboards"])


class DashboardOut(BaseModel):
    person_id: str
    dashboard: dict[str, Any]
    version: int
    etag: str
    updated_at: datetime


def _out(person_id: str, doc: Document, response: Response) -> DashboardOut:
    response.headers["ETag"] = doc.etag
    return DashboardOut(person_id=person_id, dashboard=doc.value, version=doc.version,
                        etag=doc.etag, updated_at=doc.updated_at)


@router.get("/{person_id}")
async def get_dashboard(person_id: str, ctx: Ctx, svc: Svc, conn: DbConn,
                        response: Response) -> DashboardOut:
    doc = await svc.dashboards.get(conn, ctx)
    if doc is None:
        raise NotFound(f"no dashboard for {person_id}")
    return _out(person_id, doc, response)


@router.put("/{person_id}")
async def put_dashboard(person_id: str, ctx: Ctx, svc: Svc, conn: DbTx, response: Response,
                        dashboard: Annotated[Any, Body()],
                        if_match: Annotated[str | None, Header()] = None) -> DashboardOut:
    doc = await svc.dashboards.replace(conn, ctx, dashboard, parse_if_match(if_match))
    response.status_code = 201 if doc.version == 1 else 200
    return _out(person_id, doc, response)


@router.patch("/{person_id}")
async def patch_dashboard(person_id: str, ctx: Ctx, svc: Svc, conn: DbTx, response: Response,
                          patch: Annotated[Any, Body()],
                          if_match: Annotated[str | None, Header()] = None) -> DashboardOut:
    doc = await svc.dashboards.patch(conn, ctx, patch, parse_if_match(if_match))
    return _out(person_id, doc, response)
