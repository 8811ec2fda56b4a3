"""Profile API: /v1/profiles/{person_id} with ETag / If-Match, merge-patch, history and
PIN/passcode verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Header, Query, Response

from unison_shared.compiled_routes import service_router
from unison_shared.database import DbConn, DbTx
from unison_shared.errors import BadRequest, NotFound

from ..deps import Ctx, Svc
from ..documents.service import Document, parse_if_match
from . import rules
from .schemas import ProfileHistory, ProfileOut, ProfileVersion, VerifyIn, VerifyOut

router = service_router(prefix="/v1/profiles", tags=["profiles"])
PROFILE_BODY = Body(description="the whole profile (PUT) or an RFC 7396 merge patch (PATCH)")


def _out(person_id: str, doc: Document, response: Response, redacted: bool = False
         ) -> ProfileOut:
    response.headers["ETag"] = doc.etag
    return ProfileOut(person_id=person_id, version=doc.version, etag=doc.etag,
                      profile=rules.redact(doc.value) if redacted else doc.value,
                      redacted=redacted, created_at=doc.created_at, updated_at=doc.updated_at)


@router.get("/{person_id}")
async def get_profile(person_id: str, ctx: Ctx, svc: Svc, conn: DbConn, response: Response,
                      view: Annotated[str, Query(pattern="^(full|redacted)$")] = "full"
                      ) -> ProfileOut:
    doc = await svc.profiles.get(conn, ctx)
    if doc is None:
        raise NotFound(f"no profile for {person_id}")
    return _out(person_id, doc, response, redacted=view == "redacted")


@router.put("/{person_id}")
async def put_profile(person_id: str, ctx: Ctx, svc: Svc, conn: DbTx, response: Response,
                      profile: Annotated[Any, PROFILE_BODY],
                      if_match: Annotated[str | None, Header()] = None) -> ProfileOut:
    doc = await svc.profiles.replace(conn, ctx, profile, parse_if_match(if_match))
    response.status_code = 201 if doc.version == 1 else 200
    return _out(person_id, doc, response)


@router.patch("/{person_id}")
async def patch_profile(person_id: str, ctx: Ctx, svc: Svc, conn: DbTx, response: Response,
                        patch: Annotated[Any, PROFILE_BODY],
                        if_match: Annotated[str | None, Header()] = None) -> ProfileOut:
    doc = await svc.profiles.patch(conn, ctx, patch, parse_if_match(if_match))
    return _out(person_id, doc, response)


@router.get("/{person_id}/history")
async def profile_history(person_id: str, ctx: Ctx, svc: Svc, conn: DbConn,
                          cursor: Annotated[str | None, Query(max_length=20)] = None,
                          limit: Annotated[int, Query(ge=1, le=100)] = 20) -> ProfileHistory:
    if cursor is not None and not cursor.isdigit():
        raise BadRequest("cursor: not one this service issued", field="cursor")
    before = int(cursor) if cursor else None
    docs = await svc.profiles.history(conn, ctx, before, limit + 1)
    items = [ProfileVersion(version=d.version, profile=d.value, created_at=d.created_at)
             for d in docs[:limit]]
    more = len(docs) > limit
    return ProfileHistory(items=items, next_cursor=str(items[-1].version) if more else None)


@router.post("/{person_id}/credentials/verify")
async def verify_credential(person_id: str, body: VerifyIn, ctx: Ctx, svc: Svc,
                            conn: DbConn) -> VerifyOut:
    """Check a PIN or passcode against its stored hash (constant-time); the stored value
    is never returned."""
    return VerifyOut(valid=await svc.profiles.verify(conn, ctx, body.kind, body.secret))
