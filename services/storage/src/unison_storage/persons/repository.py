"""SQL (and Redis keys) of a person's erasure: every statement takes the tenant ($1) and
the person ($2) as parameters and runs in the caller's transaction, in the tenant's
row-level-security scope.

Deletes run children before parents and objects last: the records that reference an
object go first, so no foreign key cascades into rows this list does not count. A
household's own records that only name the person as their author (evaluation
datasets and runs, shared vector collections) stay, with the author's id replaced.
Audit events are append-only by design and stay: see audit/sealing.py.
"""

from __future__ import annotations

from urllib.parse import quote

from redis.asyncio import Redis

from unison_shared.database import StatementConnection, asyncpg_of

from ..cache.service import PREFIX as CACHE_PREFIX

ERASED_AUTHOR = "erased"

# The legacy KV contract keys a person's records "{person_id}:..." in the tenant's own
# namespace (a workload's write-behind of "{pid}:profile:..."): they are the person's.
KV_OF_PERSON = ("tenant_id = $1 AND (person_id = $2 OR (person_id = '' "
                "AND starts_with(key, $2 || ':')))")

DOMAINS = ("memory", "vault", "kv", "objects", "threads", "messages", "state",
           "artifacts", "metrics", "traces", "workflows", "vectors", "files", "evals")

_PERSON = "tenant_id = $1 AND person_id = $2"

# (domain, statement) in order.
_DELETES: tuple[tuple[str, str], ...] = (
    ("workflows", f"DELETE FROM workflow_conditions WHERE {_PERSON}"),
    ("workflows", f"DELETE FROM workflows WHERE {_PERSON}"),
    ("messages", f"DELETE FROM thread_messages WHERE {_PERSON}"),
    ("state", f"DELETE FROM thread_state_versions WHERE {_PERSON}"),
    ("artifacts", f"DELETE FROM thread_artifacts WHERE {_PERSON}"),
    ("threads", f"DELETE FROM threads WHERE {_PERSON}"),
    ("metrics", f"DELETE FROM agent_metrics WHERE {_PERSON}"),
    ("traces", f"DELETE FROM trace_spans WHERE {_PERSON}"),
    ("traces", f"DELETE FROM trace_summaries WHERE {_PERSON}"),
    ("memory", f"DELETE FROM memory_entries WHERE {_PERSON}"),
    ("kv", f"DELETE FROM kv_records WHERE {KV_OF_PERSON}"),
    ("files", f"DELETE FROM files WHERE {_PERSON}"),
    ("vault", "DELETE FROM vault_versions WHERE tenant_id = $1 AND secret_id IN "
              f"(SELECT id FROM vault_secrets WHERE {_PERSON})"),
    ("vault", f"DELETE FROM vault_secrets WHERE {_PERSON}"),
    ("vectors", "DELETE FROM vector_documents WHERE tenant_id = $1 AND collection_id IN "
                "(SELECT id FROM vector_collections WHERE tenant_id = $1 "
                "AND owner_person = $2)"),
    ("vectors", "DELETE FROM vector_collections WHERE tenant_id = $1 AND owner_person = $2"),
)

# The household's records the person made: the author's id goes ($3: ERASED_AUTHOR).
_ANONYMISE: tuple[tuple[str, str], ...] = (
    ("vectors", "UPDATE vector_collections SET created_by = $3 "
                "WHERE tenant_id = $1 AND created_by = $2"),
    ("evals", "UPDATE eval_datasets SET created_by = $3 WHERE tenant_id = $1 "
              "AND created_by = $2"),
    ("evals", "UPDATE eval_runs SET created_by = $3 WHERE tenant_id = $1 AND created_by = $2"),
)

_COLLECTIONS = "SELECT id FROM vector_collections WHERE tenant_id = $1 AND owner_person = $2"
_OBJECTS = f"DELETE FROM objects WHERE {_PERSON} RETURNING storage_key"


def _rows(status: str) -> int:
    # asyncpg's command tag: "DELETE 3", "UPDATE 0".
    return int(status.rsplit(" ", 1)[-1])


async def delete_rows(conn: StatementConnection, tenant_id: str,
                      person_id: str) -> tuple[dict[str, int], list[str]]:
    """Delete the person's rows of every domain; returns the count per domain and the
    storage keys of the objects deleted (their blobs go once this commits)."""
    pg = await asyncpg_of(conn)
    removed = dict.fromkeys(DOMAINS, 0)
    # Each collection's own HNSW index goes with it, as a collection delete does.
    for collection_id in await pg.fetch(_COLLECTIONS, tenant_id, person_id):
        await pg.execute("SELECT vector_collection_index($1, false)", collection_id[0])
    for domain, sql in _DELETES:
        removed[domain] += _rows(await pg.execute(sql, tenant_id, person_id))
    for domain, sql in _ANONYMISE:
        removed[domain] += _rows(await pg.execute(sql, tenant_id, person_id, ERASED_AUTHOR))
    keys = [r[0] for r in await pg.fetch(_OBJECTS, tenant_id, person_id)]
    removed["objects"] += len(keys)
    return removed, keys


def cache_prefix(tenant_id: str, person_id: str) -> str:
    """The person's TTL-cache keys (cache/service.py `scope_prefix`): quoted, so no glob
    character of an id reaches into another scope's keys."""
    return f"{CACHE_PREFIX}{quote(tenant_id, safe='')}:{quote(person_id, safe='')}:"


async def purge_cache(redis: Redis, tenant_id: str, person_id: str) -> int:
    """Delete every TTL-cache entry of the person; how many went."""
    purged = 0
    async for name in redis.scan_iter(match=cache_prefix(tenant_id, person_id) + "*",
                                      count=500):
        purged += int(await redis.delete(name))
    return purged
