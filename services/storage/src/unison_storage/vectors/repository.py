"""SQL for vector collections and documents.

Collection ids and dimensions appear in SQL text as integer literals (they come from the
collection's row, never from a request): a partial index `WHERE collection_id = <id>`
on `embedding::vector(<dim>)` is used only by a statement whose text names the same
literal id and expression (a parameter would hide it from the planner's generic plans).
Everything else is a bound parameter. A filter (filters.py) is compiled after each
statement's own parameters: `nearest`, `count_matching` and `delete_documents` take 3,
`text_matches` 4 (FILTER_OFFSET).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pgvector import Vector

from .filters import Compiled

# The distance operators of pgvector, by the collection's distance (a CHECKed column).
OPERATORS = {"cosine": "<=>", "l2": "<->", "inner_product": "<#>"}
COLL_COLS = ("id, owner_person, name, dimension, distance, hnsw_m, hnsw_ef_construction, "
             "metadata, created_by, created_at")
DOC_COLS = "id, embedding, text, metadata, created_at, updated_at"
FILTER_OFFSET = {"nearest": 3, "count": 3, "delete": 3, "text": 4}

_with_codec: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()


def _encode(value: Any) -> bytes:
    return (value if isinstance(value, Vector) else Vector(value)).to_binary()


def _decode(data: bytes) -> list[float]:
    return Vector.from_binary(data).to_list()


async def use_vectors(conn: asyncpg.Connection) -> asyncpg.Connection:
    """The connection, with pgvector's binary codec for `vector` (set once per
    connection: a round trip the first time a pooled connection meets vectors)."""
    if conn not in _with_codec:
        await conn.set_type_codec("vector", schema="public", encoder=_encode,
                                  decoder=_decode, format="binary")
        _with_codec.add(conn)
    return conn


@dataclass(frozen=True)
class CollectionRow:
    id: int
    owner_person: str
    name: str
    dimension: int
    distance: str
    hnsw_m: int
    hnsw_ef_construction: int
    metadata: dict[str, Any]
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Hit:
    id: str
    text: str | None
    metadata: dict[str, Any]
    value: float  # a distance (vector search) or a rank (text search)
    embedding: list[float] | None


async def insert_collection(pg: asyncpg.Connection, tenant: str, owner: str, name: str,
                            dimension: int, distance: str, m: int, ef_construction: int,
                            metadata_json: str, created_by: str) -> CollectionRow | None:
    """The new collection with its HNSW index; None when the name is taken."""
    row = await pg.fetchrow(
        "INSERT INTO vector_collections (tenant_id, owner_person, name, dimension, distance, "
        "hnsw_m, hnsw_ef_construction, metadata, created_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9) "
        f"ON CONFLICT DO NOTHING RETURNING {COLL_COLS}",
        tenant, owner, name, dimension, distance, m, ef_construction, metadata_json,
        created_by)
    if row is None:
        return None
    await pg.execute("SELECT vector_collection_index($1, true)", row["id"])
    return CollectionRow(*row.values())


async def find_collection(pg: asyncpg.Connection, tenant: str, person: str, name: str,
                          shared: bool | None) -> CollectionRow | None:
    """The caller's own collection of that name, else the household's (`shared` picks
    one of the two)."""
    owners = [person, ""] if shared is None else ([""] if shared else [person])
    row = await pg.fetchrow(
        f"SELECT {COLL_COLS} FROM vector_collections WHERE tenant_id = $1 "
        "AND owner_person = ANY($2::text[]) AND name = $3 "
        "ORDER BY owner_person = '' LIMIT 1", tenant, owners, name)
    return CollectionRow(*row.values()) if row else None


async def list_collections(pg: asyncpg.Connection, tenant: str,
                           person: str) -> list[CollectionRow]:
    rows = await pg.fetch(
        f"SELECT {COLL_COLS} FROM vector_collections WHERE tenant_id = $1 "
        "AND owner_person IN ($2, '') ORDER BY name, owner_person DESC", tenant, person)
    return [CollectionRow(*r.values()) for r in rows]


async def drop_index(pg: asyncpg.Connection, collection_id: int) -> None:
    await pg.execute("SELECT vector_collection_index($1, false)", collection_id)


async def delete_collection(pg: asyncpg.Connection, tenant: str, collection_id: int) -> int:
    """Deletes the collection and (by cascade) its documents; how many documents."""
    count = await pg.fetchval("SELECT count(*) FROM vector_documents WHERE tenant_id = $1 "
                              "AND collection_id = $2", tenant, collection_id)
    await pg.execute("DELETE FROM vector_collections WHERE tenant_id = $1 AND id = $2",
                     tenant, collection_id)
    return int(count)


async def upsert(pg: asyncpg.Connection, tenant: str, collection_id: int,
                 rows: list[tuple[str, list[float], str | None, str]]) -> None:
    await use_vectors(pg)
    await pg.executemany(
        "INSERT INTO vector_documents AS d (tenant_id, collection_id, id, embedding, text, "
        "metadata) VALUES ($1, $2, $3, $4, $5, $6::jsonb) "
        "ON CONFLICT (tenant_id, collection_id, id) DO UPDATE SET "
        "embedding = excluded.embedding, text = excluded.text, "
        "metadata = excluded.metadata, updated_at = now()",
        [(tenant, collection_id, *row) for row in rows])


async def get_document(pg: asyncpg.Connection, tenant: str, collection_id: int,
                       doc_id: str) -> asyncpg.Record | None:
    await use_vectors(pg)
    row: asyncpg.Record | None = await pg.fetchrow(
        f"SELECT {DOC_COLS} FROM vector_documents WHERE tenant_id = $1 "
        "AND collection_id = $2 AND id = $3", tenant, collection_id, doc_id)
    return row


async def delete_documents(pg: asyncpg.Connection, tenant: str, collection_id: int,
                           ids: list[str] | None, where: Compiled) -> int:
    """Deletes the documents named (when `ids` is given) that match the filter."""
    status = await pg.execute(
        "DELETE FROM vector_documents WHERE tenant_id = $1 AND collection_id = $2 "
        f"AND ($3::text[] IS NULL OR id = ANY($3::text[])){where.sql}",
        tenant, collection_id, ids, *where.args)
    return int(str(status).rsplit(" ", 1)[-1])


async def count_matching(pg: asyncpg.Connection, tenant: str, collection_id: int,
                         where: Compiled, cap: int) -> int:
    """How many documents match the filter, counting no further than `cap`."""
    value = await pg.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM vector_documents WHERE tenant_id = $1 "
        f"AND collection_id = $2{where.sql} LIMIT $3) m",
        tenant, collection_id, cap, *where.args)
    return int(value)


def nearest_sql(coll: CollectionRow, where: Compiled, exact: bool,
                with_embedding: bool) -> str:
    """The statement `nearest` runs: $1 tenant, $2 query vector, $3 limit, then the
    filter's parameters."""
    op = OPERATORS[coll.distance]
    dim = int(coll.dimension)
    column = "embedding" if exact else f"(embedding::vector({dim}))"
    emb = ", embedding" if with_embedding else ", NULL::vector"
    return (
        "WITH hits AS MATERIALIZED (SELECT id, text, metadata, "
        f"{column} {op} $2::vector({dim}) AS distance{emb} AS embedding "
        "FROM vector_documents WHERE tenant_id = $1 "
        f"AND collection_id = {int(coll.id)}{where.sql} "
        f"ORDER BY {column} {op} $2::vector({dim}) LIMIT $3) "
        "SELECT id, text, metadata, distance, embedding FROM hits ORDER BY distance, id")


async def use_hnsw(pg: asyncpg.Connection, ef_search: int, max_scan_tuples: int) -> None:
    """For the rest of the transaction: iterative index scans (relaxed order: the outer
    query of `nearest` sorts), and no sort for the index to lose against. The planner
    would otherwise pick the primary key and a sort whenever its statistics under-count
    the collection (a new one always); the caller decides, having counted."""
    await pg.execute(
        "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
        "set_config('hnsw.ef_search', $1, true), "
        "set_config('hnsw.max_scan_tuples', $2, true), "
        "set_config('enable_sort', 'off', true)", str(ef_search), str(max_scan_tuples))


async def nearest(pg: asyncpg.Connection, tenant: str, coll: CollectionRow,
                  query: list[float], where: Compiled, limit: int, exact: bool,
                  with_embedding: bool) -> list[Hit]:
    """The `limit` documents nearest to `query` among those matching the filter.
    exact: every matching document is compared (no index). Otherwise the collection's
    HNSW index (after `use_hnsw`), whose iterative scan keeps walking the graph until
    `limit` rows pass the filter."""
    await use_vectors(pg)
    rows = await pg.fetch(nearest_sql(coll, where, exact, with_embedding), tenant, query,
                          limit, *where.args)
    return [Hit(r["id"], r["text"], r["metadata"], float(r["distance"]), r["embedding"])
            for r in rows]


async def text_matches(pg: asyncpg.Connection, tenant: str, collection_id: int,
                       text: str, where: Compiled, limit: int,
                       with_embedding: bool) -> list[Hit]:
    """Documents whose text matches the web-search style query, best ranked first."""
    await use_vectors(pg)
    emb = "embedding" if with_embedding else "NULL::vector"
    rows = await pg.fetch(
        f"SELECT id, text, metadata, ts_rank_cd(tsv, q) AS rank, {emb} AS embedding "
        "FROM vector_documents, websearch_to_tsquery('simple', $3) q "
        f"WHERE tenant_id = $1 AND collection_id = $2 AND tsv @@ q{where.sql} "
        "ORDER BY rank DESC, id LIMIT $4",
        tenant, collection_id, text, limit, *where.args)
    return [Hit(r["id"], r["text"], r["metadata"], float(r["rank"]), r["embedding"])
            for r in rows]
