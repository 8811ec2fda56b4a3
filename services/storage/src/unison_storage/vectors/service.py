"""Vector search rules: collections of a person (or of the household), documents with an
embedding, optional text and metadata, and search by embedding, text or both.

Storage layout (migration "vector search"): one `vector_documents` table, an
untyped `vector` column, and per collection a partial HNSW index on
`embedding::vector(<dim>)` restricted to that collection. A collection's search walks a
graph holding only its own documents, so another tenant's (or collection's) data never
crowds it out, and the metadata filter is all that iterative scans have to get past.

Completeness of a filtered search (`exhaustive` in every reply):

1. Count the documents the filter matches, stopping at `vector_exact_scan_max_rows`+1.
   At most that many: compare them all (an exact scan, no index): exhaustive.
2. More: the HNSW index with `hnsw.iterative_scan = relaxed_order` (SET LOCAL, in a
   transaction around that one statement), which keeps scanning the graph until
   `limit` rows pass the filter or `hnsw.max_scan_tuples` is reached; the outer query
   restores exact order. Approximate, so not exhaustive. (Everything else runs in
   autocommit: one round trip a statement.)
3. If that still returns fewer than `limit` (more than the threshold match, so more
   exist), fall back to the exact scan: a reply never silently holds fewer than
   `limit` results while more matching documents exist.

Text search is PostgreSQL full text (`simple` configuration, `websearch_to_tsquery`,
`ts_rank_cd`), always exact. Hybrid fuses the vector and the text rankings by
reciprocal rank fusion (score = sum of 1 / (60 + rank) over the lists a document is in).
"""

from __future__ import annotations

import math
from typing import Any

import asyncpg

from unison_shared.auth import RequestContext
from unison_shared.database import Database
from unison_shared.errors import Conflict, NotFound, ValidationFailed
from unison_shared.jsonutil import encode_jsonb

from ..settings import StorageOptions
from . import repository as repo
from .filters import compile_filter
from .repository import FILTER_OFFSET, CollectionRow, Hit
from .schemas import (
    Collection,
    CollectionCreate,
    CollectionDeleted,
    CollectionList,
    DeleteBody,
    Deleted,
    Document,
    HnswOptions,
    SearchBody,
    SearchHit,
    SearchResult,
    UpsertBody,
    UpsertResult,
)

RRF_K = 60
FLOAT32_MAX = 3.4028234663852886e38


def to_collection(row: CollectionRow) -> Collection:
    return Collection(name=row.name, dimension=row.dimension, distance=row.distance,
                      shared=row.owner_person == "", person_id=row.owner_person or None,
                      hnsw=HnswOptions(m=row.hnsw_m, ef_construction=row.hnsw_ef_construction),
                      metadata=row.metadata, created_by=row.created_by,
                      created_at=row.created_at)


def check_embedding(coll: CollectionRow, values: list[float], field: str) -> None:
    """The embedding fits the collection: its dimension, float32 range, and (cosine) not
    the zero vector, whose angle is undefined."""
    if len(values) != coll.dimension:
        raise ValidationFailed(f"{field}: {len(values)} dimensions; collection "
                               f"'{coll.name}' has {coll.dimension}")
    for i, v in enumerate(values):
        if not math.isfinite(v) or abs(v) > FLOAT32_MAX:
            raise ValidationFailed(f"{field}[{i}]: not a finite 32-bit float")
    if coll.distance == "cosine" and not any(values):
        raise ValidationFailed(f"{field}: the zero vector has no cosine distance")


class VectorService:
    def __init__(self, db: Database, options: StorageOptions) -> None:
        self.db = db
        self.options = options

    def _json(self, value: Any, field: str) -> str:
        return encode_jsonb(value, field, self.options.max_json_bytes)

    @staticmethod
    async def _find(conn: asyncpg.Connection, ctx: RequestContext, name: str,
                    shared: bool | None) -> CollectionRow:
        coll = await repo.find_collection(conn, ctx.tenant_id, ctx.person_id, name, shared)
        if coll is None:
            raise NotFound(f"no vector collection '{name}'")
        return coll

    # Collections

    async def create(self, ctx: RequestContext, body: CollectionCreate) -> Collection:
        if body.hnsw.ef_construction < 2 * body.hnsw.m:
            raise ValidationFailed("hnsw.ef_construction: at least twice hnsw.m")
        owner = "" if body.shared else ctx.person_id
        async with self.db.transaction(ctx) as conn:
            row = await repo.insert_collection(
                conn, ctx.tenant_id, owner, body.name, body.dimension, body.distance,
                body.hnsw.m, body.hnsw.ef_construction, self._json(body.metadata, "metadata"),
                ctx.person_id)
        if row is None:
            where = "the household" if body.shared else "your collections"
            raise Conflict(f"name: {where} already hold a collection '{body.name}'")
        return to_collection(row)


    async def collections(self, ctx: RequestContext) -> CollectionList:
        async with self.db.statement(ctx) as conn:
            rows = await repo.list_collections(conn, ctx.tenant_id, ctx.person_id)
        return CollectionList(items=[to_collection(r) for r in rows])

    async def get(self, ctx: RequestContext, name: str, shared: bool | None) -> Collection:
        async with self.db.statement(ctx) as conn:
            return to_collection(await self._find(conn, ctx, name, shared))

    async def delete(self, ctx: RequestContext, name: str,
                     shared: bool | None) -> CollectionDeleted:
        # The index goes first, in a short transaction of its own: DROP INDEX locks the
        # whole documents table, so that lock must not wait on the cascade below.
        async with self.db.transaction(ctx) as conn:
            coll = await self._find(conn, ctx, name, shared)
            await repo.drop_index(conn, coll.id)
        async with self.db.transaction(ctx) as conn:
            count = await repo.delete_collection(conn, ctx.tenant_id, coll.id)
        return CollectionDeleted(name=coll.name, documents=count)

    # Documents

    async def upsert(self, ctx: RequestContext, name: str, shared: bool | None,
                     body: UpsertBody) -> UpsertResult:
        seen: set[str] = set()
        async with self.db.transaction(ctx) as conn:
            coll = await self._find(conn, ctx, name, shared)
            rows: list[tuple[str, list[float], str | None, str]] = []
            for i, doc in enumerate(body.documents):
                if doc.id in seen:
                    raise ValidationFailed(f"documents[{i}].id: '{doc.id}' appears twice")
                seen.add(doc.id)
                check_embedding(coll, doc.embedding, f"documents[{i}].embedding")
                rows.append((doc.id, doc.embedding, doc.text,
                             self._json(doc.metadata, f"documents[{i}].metadata")))
            await repo.upsert(conn, ctx.tenant_id, coll.id, rows)
        return UpsertResult(upserted=len(rows))

    async def get_document(self, ctx: RequestContext, name: str, shared: bool | None,
                           doc_id: str) -> Document:
        async with self.db.statement(ctx) as conn:
            coll = await self._find(conn, ctx, name, shared)
            row = await repo.get_document(conn, ctx.tenant_id, coll.id, doc_id)
        if row is None:
            raise NotFound(f"no document '{doc_id}' in collection '{name}'")
        return Document(**row)

    async def delete_document(self, ctx: RequestContext, name: str, shared: bool | None,
                              doc_id: str) -> None:
        if (await self.delete_documents(ctx, name, shared, DeleteBody(ids=[doc_id]))
                ).deleted == 0:
            raise NotFound(f"no document '{doc_id}' in collection '{name}'")

    async def delete_documents(self, ctx: RequestContext, name: str, shared: bool | None,
                               body: DeleteBody) -> Deleted:
        if body.ids is None and not body.filter:
            raise ValidationFailed("ids or filter: name the documents to delete")
        where = compile_filter(body.filter, FILTER_OFFSET["delete"])
        async with self.db.transaction(ctx) as conn:
            coll = await self._find(conn, ctx, name, shared)
            count = await repo.delete_documents(conn, ctx.tenant_id, coll.id, body.ids, where)
        return Deleted(deleted=count)

    # Search

    async def search(self, ctx: RequestContext, name: str, shared: bool | None,
                     body: SearchBody) -> SearchResult:
        mode = body.mode
        if mode != "text" and body.embedding is None:
            raise ValidationFailed(f"embedding: required in mode '{mode}'")
        if mode != "vector" and body.text is None:
            raise ValidationFailed(f"text: required in mode '{mode}'")
        with_emb = body.include_embedding
        # Autocommit (one round trip a statement); only the index path needs a
        # transaction, for its SET LOCALs, and opens one (_nearest).
        async with self.db.statement(ctx) as conn:
            coll = await self._find(conn, ctx, name, shared)
            if body.embedding is not None:
                check_embedding(coll, body.embedding, "embedding")
            if mode == "text":
                assert body.text is not None
                hits = await self._text(conn, ctx, coll, body, body.limit)
                items = [_hit(h, h.value, text_rank=h.value) for h in hits]
                return _result(items, body, True, "text")
            assert body.embedding is not None
            want = body.limit if mode == "vector" else min(1000, max(body.limit * 3, 50))
            near, exhaustive, strategy = await self._nearest(conn, ctx, coll, body.embedding,
                                                             body.filter, want, with_emb)
            if mode == "vector":
                return _result([_hit(h, -h.value, distance=h.value) for h in near], body,
                               exhaustive, strategy)
            texts = await self._text(conn, ctx, coll, body, want)
        return _result(_fuse(near, texts, body.limit), body, exhaustive, strategy)

    async def _text(self, conn: asyncpg.Connection, ctx: RequestContext,
                    coll: CollectionRow, body: SearchBody, limit: int) -> list[Hit]:
        assert body.text is not None
        where = compile_filter(body.filter, FILTER_OFFSET["text"])
        return await repo.text_matches(conn, ctx.tenant_id, coll.id, body.text, where, limit,
                                       body.include_embedding)

    async def _nearest(self, conn: asyncpg.Connection, ctx: RequestContext,
                       coll: CollectionRow, query: list[float], spec: dict[str, Any] | None,
                       limit: int, with_emb: bool) -> tuple[list[Hit], bool, str]:
        where = compile_filter(spec, FILTER_OFFSET["nearest"])
        cap = self.options.vector_exact_scan_max_rows
        matching = await repo.count_matching(conn, ctx.tenant_id, coll.id, where, cap + 1)
        if matching <= cap:
            return (await repo.nearest(conn, ctx.tenant_id, coll, query, where, limit,
                                       True, with_emb), True, "exact")
        async with conn.transaction():
            await repo.use_hnsw(conn, min(1000, max(self.options.vector_ef_search, limit)),
                                self.options.vector_max_scan_tuples)
            hits = await repo.nearest(conn, ctx.tenant_id, coll, query, where, limit, False,
                                      with_emb)
        if len(hits) < limit:  # more than `cap` >= limit documents match: finish exactly
            return (await repo.nearest(conn, ctx.tenant_id, coll, query, where, limit,
                                       True, with_emb), True, "exact")
        return hits, False, "hnsw"


def _hit(h: Hit, score: float, distance: float | None = None,
         text_rank: float | None = None) -> SearchHit:
    return SearchHit(id=h.id, score=score, distance=distance, text_rank=text_rank,
                     text=h.text, metadata=h.metadata, embedding=h.embedding)


def _fuse(near: list[Hit], texts: list[Hit], limit: int) -> list[SearchHit]:
    scores: dict[str, float] = {}
    for hits in (near, texts):
        for rank, h in enumerate(hits, start=1):
            scores[h.id] = scores.get(h.id, 0.0) + 1.0 / (RRF_K + rank)
    by_id_near = {h.id: h for h in near}
    by_id_text = {h.id: h for h in texts}
    order = sorted(scores, key=lambda i: (-scores[i], i))[:limit]
    out = []
    for doc_id in order:
        vh, th = by_id_near.get(doc_id), by_id_text.get(doc_id)
        base = vh or th
        assert base is not None
        out.append(_hit(base, scores[doc_id], distance=vh.value if vh else None,
                        text_rank=th.value if th else None))
    return out


def _result(items: list[SearchHit], body: SearchBody, exhaustive: bool,
            strategy: str) -> SearchResult:
    return SearchResult(items=items, mode=body.mode, k_requested=body.limit,
                        k_returned=len(items), exhaustive=exhaustive,
                        strategy=strategy)
