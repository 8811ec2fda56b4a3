"""Vector search: collections of embeddings, documents, and vector/text/hybrid search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._http import route
from ..models.records import Deleted
from ..models.vectors import (
    Collection,
    CollectionCreate,
    CollectionDeleted,
    CollectionList,
    DeleteBody,
    Distance,
    Document,
    DocumentIn,
    HnswOptions,
    Mode,
    SearchBody,
    SearchResult,
    UpsertBody,
    UpsertResult,
)
from ._base import Surface, body, parse

_C = "/v1/vectors/collections"
VEC_CREATE = route("POST", _C)
VEC_LIST = route("GET", _C)
VEC_GET = route("GET", _C + "/{name}")
VEC_DELETE = route("DELETE", _C + "/{name}")
VEC_UPSERT = route("POST", _C + "/{name}/documents")
VEC_DOC_GET = route("GET", _C + "/{name}/documents/{doc_id}")
VEC_DOC_DELETE = route("DELETE", _C + "/{name}/documents/{doc_id}")
VEC_DOCS_DELETE = route("POST", _C + "/{name}/documents/delete")
VEC_SEARCH = route("POST", _C + "/{name}/search")

DocumentLike = DocumentIn | Mapping[str, Any]


def _doc(d: DocumentLike) -> DocumentIn:
    return d if isinstance(d, DocumentIn) else DocumentIn.model_construct(**d)


class Vectors(Surface):
    """`shared`: None picks the caller's own collection of that name, else the
    household's; True/False picks one of the two."""

    async def create_collection(self, name: str, dimension: int, *,
                                distance: Distance = "cosine", shared: bool = False,
                                m: int = 16, ef_construction: int = 64,
                                metadata: dict[str, Any] | None = None) -> Collection:
        model = CollectionCreate.model_construct(
            name=name, dimension=dimension, distance=distance, shared=shared,
            hnsw=HnswOptions.model_construct(m=m, ef_construction=ef_construction),
            metadata=metadata or {})
        r = await self._http.request(VEC_CREATE, json=body(model))
        return parse(Collection, r.content)

    async def collections(self) -> list[Collection]:
        r = await self._http.request(VEC_LIST)
        return parse(CollectionList, r.content).items

    async def collection(self, name: str, *, shared: bool | None = None) -> Collection:
        r = await self._http.request(VEC_GET, {"name": name}, query={"shared": shared})
        return parse(Collection, r.content)

    async def delete_collection(self, name: str, *,
                                shared: bool | None = None) -> CollectionDeleted:
        r = await self._http.request(VEC_DELETE, {"name": name}, query={"shared": shared})
        return parse(CollectionDeleted, r.content)

    async def upsert(self, collection: str, documents: Sequence[DocumentLike], *,
                     shared: bool | None = None) -> int:
        """Insert or replace (by id) up to 1000 documents, each `{id, embedding, text?,
        metadata?}`; safe to retry (a replay writes the same documents)."""
        model = UpsertBody.model_construct(documents=[_doc(d) for d in documents])
        r = await self._http.request(VEC_UPSERT, {"name": collection}, json=body(model),
                                     query={"shared": shared}, idempotent=True)
        return parse(UpsertResult, r.content).upserted

    async def get(self, collection: str, doc_id: str, *,
                  shared: bool | None = None) -> Document:
        r = await self._http.request(VEC_DOC_GET, {"name": collection, "doc_id": doc_id},
                                     query={"shared": shared})
        return parse(Document, r.content)

    async def delete(self, collection: str, doc_id: str, *,
                     shared: bool | None = None) -> None:
        await self._http.request(VEC_DOC_DELETE, {"name": collection, "doc_id": doc_id},
                                 query={"shared": shared})

    async def delete_where(self, collection: str, *, ids: Sequence[str] | None = None,
                           filter: dict[str, Any] | None = None,
                           shared: bool | None = None) -> int:
        """Delete the documents named by `ids`, or matching the metadata `filter`."""
        model = DeleteBody.model_construct(ids=None if ids is None else [*ids], filter=filter)
        r = await self._http.request(VEC_DOCS_DELETE, {"name": collection}, json=body(model),
                                     query={"shared": shared}, idempotent=True)
        return parse(Deleted, r.content).deleted

    async def search(self, collection: str, embedding: Sequence[float] | None = None, *,
                     text: str | None = None, mode: Mode = "vector", limit: int = 10,
                     filter: dict[str, Any] | None = None, include_embedding: bool = False,
                     shared: bool | None = None) -> SearchResult:
        """The nearest documents (`mode="vector"`), the best text matches (`"text"`), or
        both fused (`"hybrid"`); the result says how complete it is (`k_returned`,
        `exhaustive`)."""
        model = SearchBody.model_construct(
            embedding=None if embedding is None else [float(x) for x in embedding], text=text,
            mode=mode, limit=limit, filter=filter, include_embedding=include_embedding)
        r = await self._http.request(VEC_SEARCH, {"name": collection}, json=body(model),
                                     query={"shared": shared}, idempotent=True)
        return parse(SearchResult, r.content)
