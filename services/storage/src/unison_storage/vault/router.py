"""Vault API under /v1/vault. Secret names may contain '/', so routes use a path
converter; the action routes (`/metadata`, `/undelete`, `/destroy`) are declared before
the plain name routes and names may not end in those words (see rules.check_name)."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated

from fastapi import Header, Path, Query, Request, Response

from unison_shared.compiled_routes import service_router
from unison_shared.errors import Conflict, Forbidden

from ..deps import Ctx, Svc
from .rules import etag_of
from .schemas import (
    DataKeyRotation,
    DestroyBody,
    DestroyResult,
    KekRotation,
    SecretDetail,
    SecretMetadata,
    SecretPage,
    SecretPutBody,
    SecretValue,
)

router = service_router(prefix="/v1/vault", tags=["vault"])

Name = Annotated[str, Path(description="secret name, [A-Za-z0-9_.:/-]{1,256}")]
ADMIN_ROLE = "admin"


@router.get("/secrets")
async def list_secrets(ctx: Ctx, svc: Svc,
                       prefix: Annotated[str, Query(max_length=256)] = "",
                       cursor: Annotated[str | None, Query(max_length=2048)] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                       include_deleted: bool = False) -> SecretPage:
    """Names and metadata only: a list never carries a secret value."""
    return await svc.vault.list(ctx, prefix, cursor, limit, include_deleted)


@router.get("/secrets/{name:path}/metadata")
async def get_metadata(name: Name, ctx: Ctx, svc: Svc) -> SecretDetail:
    return await svc.vault.metadata(ctx, name)


@router.post("/secrets/{name:path}/undelete")
async def undelete_secret(name: Name, ctx: Ctx, svc: Svc) -> SecretMetadata:
    return await svc.vault.undelete(ctx, name)


@router.post("/secrets/{name:path}/destroy")
async def destroy_secret(name: Name, body: DestroyBody, ctx: Ctx, svc: Svc) -> DestroyResult:
    versions = None if body.versions == "all" else body.versions
    return await svc.vault.destroy(ctx, name, versions)


@router.get("/secrets/{name:path}")
async def read_secret(name: Name, ctx: Ctx, svc: Svc, response: Response,
                      version: Annotated[int | None, Query(ge=1)] = None) -> SecretValue:
    secret = await svc.vault.read(ctx, name, version)
    response.headers["ETag"] = etag_of(secret.version)
    response.headers["Cache-Control"] = "no-store"
    return secret


@router.put("/secrets/{name:path}")
async def write_secret(name: Name, body: SecretPutBody, ctx: Ctx, svc: Svc,
                       response: Response,
                       if_match: Annotated[str | None, Header()] = None) -> SecretMetadata:
    meta, created = await svc.vault.put(ctx, name, body.value, body.metadata, body.cas,
                                        body.max_versions, if_match=if_match)
    response.status_code = 201 if created else 200
    response.headers["ETag"] = etag_of(meta.version)
    return meta


@router.delete("/secrets/{name:path}", status_code=204)
async def delete_secret(name: Name, ctx: Ctx, svc: Svc) -> Response:
    await svc.vault.delete(ctx, name)
    return Response(status_code=204)


@router.post("/admin/rotate-data-key")
async def rotate_data_key(ctx: Ctx, svc: Svc) -> DataKeyRotation:
    """New data key version for the caller's tenant (role `admin`)."""
    if ADMIN_ROLE not in ctx.principal.roles:
        raise Forbidden("rotating a data key needs the admin role")
    return DataKeyRotation(data_key_version=await svc.vault.rotate_data_key(ctx))


@router.post("/admin/rotate-kek")
async def rotate_kek(request: Request, ctx: Ctx, svc: Svc) -> KekRotation:
    """Platform-wide KEK rotation: a service token with the admin role only (a household
    admin must not rotate every tenant's keys). Other replicas pick the new version up
    when they reload the keyring file; until then they still unwrap every data key they
    have cached, and the keyring keeps the old version for the rest."""
    if not (ctx.principal.is_service and ADMIN_ROLE in ctx.principal.roles):
        raise Forbidden("rotating the KEK needs a service token with the admin role")
    settings = request.app.state.settings
    path: FsPath | None = settings.kek_keyring_file
    if path is None and settings.kek_keyring is None and not settings.is_production:
        path = settings.state_dir / "keys" / "kek.json"
    if path is None:
        raise Conflict("the KEK keyring is not file-backed here; rotate it where it is "
                       "stored, then run `unison-storage rewrap-keys`")
    result = await svc.vault.rotate_kek(ctx, path)
    return KekRotation(kek_version=result.kek_version, rewrapped=result.rewrapped,
                       data_keys_by_kek=result.data_keys_by_kek)
