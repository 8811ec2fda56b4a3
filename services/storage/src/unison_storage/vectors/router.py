"""/v1/vectors: collections of embeddings, documents, and search (service.py has the
rules). A collection is addressed by name: the caller's own of that name, else the
household's; `?shared=true|false` picks one of the two."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from .schemas import (
    Collection,
    CollectionCreate,
    CollectionDeleted,
    CollectionList,
    CollectionName,
    DeleteBody,
    Deleted,
    Document,
    DocumentId,
    SearchBody,
    SearchResult,
    UpsertBody,
    UpsertResult,
)

router = service_router(prefix="/v1/vectors/collections", tags=["vectors"])

Name = Annotated[CollectionName, Path(description="the collection's name")]
Shared = Annotated[bool | None, Query(description="true: the household's collection; "
                                                  "false: the caller's own; unset: the "
                                                  "caller's own if any, else the "
                                                  "household's")]
DocId = Annotated[DocumentId, Path(description="the document's id")]


@router.post("", status_code=201)
async def create_collection(body: CollectionCreate, ctx: Ctx, svc: Svc) -> Collection:
    return await svc.vectors.create(ctx, body)


@router.get("")
async def list_collections(ctx: Ctx, svc: Svc) -> CollectionList:
    return await svc.vectors.collections(ctx)


@router.get("/{name}")
async def get_collection(name: Name, ctx: Ctx, svc: Svc, shared: Shared = None) -> Collection:
    return await svc.vectors.get(ctx, name, shared)


@router.delete("/{name}")
async def delete_collection(name: Name, ctx: Ctx, svc: Svc,
                            shared: Shared = None) -> CollectionDeleted:
    return await svc.vectors.delete(ctx, name, shared)


@router.post("/{name}/documents")
async def upsert_documents(name: Name, body: UpsertBody, ctx: Ctx, svc: Svc,
                           shared: Shared = None) -> UpsertResult:
    """Inserts or replaces (by id) up to 1000 documents in one transaction."""
    return await svc.vectors.upsert(ctx, name, shared, body)


@router.get("/{name}/documents/{doc_id}")
async def get_document(name: Name, doc_id: DocId, ctx: Ctx, svc: Svc,
                       shared: Shared = None) -> Document:
    return await svc.vectors.get_document(ctx, name, shared, doc_id)


@router.delete("/{name}/documents/{doc_id}", status_code=204)
async def delete_document(name: Name, doc_id: DocId, ctx: Ctx, svc: Svc,
                          shared: Shared = None) -> Response:
    await svc.vectors.delete_document(ctx, name, shared, doc_id)
    return Response(status_code=204)


@router.post("/{name}/documents/delete")
async def delete_documents(name: Name, body: DeleteBody, ctx: Ctx, svc: Svc,
                           shared: Shared = None) -> Deleted:
    """Deletes the documents named by `ids`, or matching `filter`, or both."""
    return await svc.vectors.delete_documents(ctx, name, shared, body)


@router.post("/{name}/search")
async def search(name: Name, body: SearchBody, ctx: Ctx, svc: Svc,
                 shared: Shared = None) -> SearchResult:
    return await svc.vectors.search(ctx, name, shared, body)
